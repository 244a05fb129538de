// Entry point of the dashboard page (index.html): wires the leads list, the timeline and the
// provider charts together, keeps the URL in step with the open lead, and feeds all three from
// the server-sent events of /api/events.

import { getJSON } from './api.js';
import { LeadList } from './leads.js';
import { Timeline } from './timeline.js';
import { Charts } from './charts.js';
import { ReplyBox } from './reply.js';
import { debounce, refreshWindows } from './dom.js';

const $ = (selector) => document.querySelector(selector);

// ---- errors: one banner, replaced by the latest error, gone after a while -------------------

let errorTimer = null;
function showError(err) {
  const banner = $('#error');
  banner.textContent = `Something went wrong: ${err?.message ?? err}. The page keeps trying.`;
  banner.hidden = false;
  clearTimeout(errorTimer);
  errorTimer = setTimeout(() => { banner.hidden = true; }, 10_000);
}

// ---- the three parts -------------------------------------------------------------------------

const leads = new LeadList(
  { listEl: $('#leads'), moreBtn: $('#leads-more'), statusEl: $('#leads-status') },
  { onSelect: (id) => selectLead(id), onError: showError },
);

const timeline = new Timeline(
  {
    headEl: $('#conv-head'),
    scrollEl: $('#timeline-scroll'),
    listEl: $('#timeline'),
    olderBtn: $('#load-older'),
    newBtn: $('#new-messages'),
    statusEl: $('#timeline-status'),
  },
  { onError: showError },
);

// The reply box under the timeline; a reply taken refreshes the timeline at once (its event
// follows and confirms it).
const reply = new ReplyBox(
  {
    formEl: $('#reply'),
    channelEl: $('#reply-channel'),
    kindEls: [...document.querySelectorAll('input[name=reply-kind]')],
    templateBoxEl: $('#reply-template-box'),
    templateEl: $('#reply-template'),
    varsEl: $('#reply-vars'),
    templateBodyEl: $('#reply-template-body'),
    textEl: $('#reply-text'),
    attachEl: $('#reply-attach-box'),
    fileEl: $('#reply-file'),
    fileNameEl: $('#reply-file-name'),
    fileClearBtn: $('#reply-file-clear'),
    previewEl: $('#reply-preview'),
    resultEl: $('#reply-result'),
    sendBtn: $('#reply-send'),
  },
  { onSent: () => timeline.refreshSoon(), onError: showError },
);

const charts = new Charts(
  {
    failoverEl: $('#chart-failover'),
    latencyEl: $('#chart-latency'),
    errorsEl: $('#chart-errors'),
    healthEl: $('#chart-health'),
    failoverNowEl: $('#failover-now'),
    healthNowEl: $('#health-now'),
    updatedEl: $('#stats-updated'),
  },
  { onError: showError },
);

// ---- which lead is open: kept in the URL (#lead=17) so reload and back/forward work ----------

function leadFromHash() {
  const match = /^#lead=([^&]+)$/.exec(window.location.hash);
  return match ? decodeURIComponent(match[1]) : null;
}

function selectLead(id) {
  // On narrow screens the list and the timeline take turns; selecting shows the timeline.
  document.body.dataset.view = 'timeline';
  if (leadFromHash() === String(id)) {
    // Same lead again (e.g. back from the timeline on a phone): nothing to reload.
    if (timeline.leadId !== String(id)) openFromHash();
    return;
  }
  window.location.hash = `lead=${encodeURIComponent(id)}`; // → hashchange → openFromHash
}

function openFromHash() {
  const id = leadFromHash();
  if (id === null) {
    leads.select(null);
    timeline.close();
    reply.close();
    document.body.dataset.view = 'list';
    return;
  }
  if (timeline.leadId === id) return;
  leads.select(id);
  timeline.open(id, leads.get(id));
  reply.open(id);
  document.body.dataset.view = 'timeline';
}

window.addEventListener('hashchange', openFromHash);
$('#back').addEventListener('click', () => {
  document.body.dataset.view = 'list';
  $('#search').focus();
});

// ---- search: debounced, so typing a phone number costs one request, not twelve ----------------

const search = $('#search');
const runSearch = debounce(() => leads.setQuery(search.value.trim()), 300);
search.addEventListener('input', runSearch);
search.addEventListener('keydown', (e) => {
  if (e.key === 'Enter') leads.setQuery(search.value.trim());
});

// ---- live events ------------------------------------------------------------------------------

const EVENT_TYPES = [
  'wa.inbound', 'wa.outbound', 'wa.status', 'wa.media', 'wa.error', 'lead.update', 'provider.health', 'failover',
  'contact.optout', 'contact.optin',
];

function dispatch(type, event) {
  if (!event || typeof event !== 'object') return;
  if (type === 'provider.health') {
    charts.noteHealth(event);
    reply.noteEvent(); // a channel's health decides where a reply goes
    return;
  }
  if (type === 'failover') charts.refreshSoon();
  leads.noteEvent(type, event);
  const contactId = event.contact?.id;
  if (contactId !== undefined && contactId !== null && String(contactId) === timeline.leadId) {
    timeline.onEvent(type, event);
    reply.noteEvent();
  }
}

function setLive(state) {
  const el = $('#live');
  el.dataset.state = state;
  el.textContent = { live: 'live', connecting: 'connecting…', offline: 'offline' }[state];
}

function resyncAll() {
  reply.noteEvent();
  leads.resync();
  timeline.refreshSoon();
  charts.refreshSoon();
}

let connectedBefore = false;
let retryMs = 1000;

function connect() {
  setLive('connecting');
  const source = new EventSource('/api/events');

  source.addEventListener('open', () => {
    setLive('live');
    retryMs = 1000;
    // Events sent while we were away are lost: bring everything up to date once.
    if (connectedBefore) resyncAll();
    connectedBefore = true;
  });

  // The server says this connection was too slow and skipped events: same as a reconnect.
  source.addEventListener('resync', resyncAll);

  source.addEventListener('error', () => {
    // While CONNECTING the browser retries by itself. CLOSED means it gave up, which it does
    // on an HTTP error such as 401: ask a JSON endpoint why (a 401 there goes to /login),
    // then start a new EventSource with a growing delay.
    if (source.readyState !== EventSource.CLOSED) {
      setLive('connecting');
      return;
    }
    setLive('offline');
    source.close();
    getJSON('/api/leads', { limit: 1 })
      .catch(() => { /* 401: already on the way to /login; anything else: retried below */ })
      .finally(() => {
        setTimeout(connect, retryMs);
        retryMs = Math.min(retryMs * 2, 30_000);
      });
  });

  const onEvent = (type) => (message) => {
    let data;
    try {
      data = JSON.parse(message.data);
    } catch {
      return; // a malformed event must not stop the stream
    }
    dispatch(type, data);
  };
  for (const type of EVENT_TYPES) source.addEventListener(type, onEvent(type));
  // An event without an `event:` line arrives as "message"; its JSON still names its type.
  source.addEventListener('message', (message) => {
    try {
      const data = JSON.parse(message.data);
      if (typeof data?.type === 'string') dispatch(data.type, data);
    } catch {
      // ignored, as above
    }
  });
}

// ---- start ------------------------------------------------------------------------------------

// The 24h countdowns tick every second; only the text of elements that changed is touched.
setInterval(() => refreshWindows(document), 1000);

leads.reload();
openFromHash();
charts.start();
connect();
