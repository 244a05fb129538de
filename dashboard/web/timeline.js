// The open lead's timeline (right column): chat order (oldest at the top, newest at the bottom),
// pages of 50 loaded on demand with "Load older", live merge of new messages and statuses.
//
// A lead may have thousands of messages, so the page never asks for all of them: the first page
// on open, one more page per "Load older", and on live events only the first page again,
// merged by message id.

import { api, isQuiet } from './api.js';
import {
  h, setChildren, providerBadge, providerKey, providerLabel, channelTag, channelLabel, windowsView,
  optoutsView, consentWhy, formatTime, formatFull, formatSize, isoTime, safeUrl, coalesce, serialized,
  fillTemplate,
} from './dom.js';

const PAGE = 50;
// How close to the bottom (px) still counts as "at the bottom" for auto-scroll on new messages.
const STICK_PX = 48;

// Status → [glyph, words]. The glyph is what WhatsApp users know; the words are the accessible
// name and the tooltip, because "✓✓" alone means nothing to a screen reader.
const TICKS = {
  held: ['⏸', 'held until the contact replies (a re-engagement template was sent)'],
  queued: ['…', 'queued'],
  sending: ['…', 'sending'],
  sent: ['✓', 'sent'],
  delivered: ['✓✓', 'delivered'],
  read: ['✓✓', 'read'],
  failed: ['✗', 'failed'],
  undelivered: ['✗', 'undelivered'],
  unknown: ['?', 'unknown: may or may not have been sent'],
};

// The router's refusals an operator can act on, by code: what the notice says. A refusal for
// consent names the number that refused (the message's channel).
const NOTICES = {
  outside_window: () => 'Not sent: outside 24h window, template required',
  opted_out: (m) => `Not sent: the contact opted out of ${channelLabel(m.channel) || 'this number'}`,
  marketing_refused: (m) => `Not sent: Twilio reported this marketing template refused by the contact on ${channelLabel(m.channel) || 'this number'}; it is not sent again`,
};

/**
 * The router's "nothing was sent" record: the text of its notice, or null for any other message.
 * Recognised by its code alone: whether "no provider" arrives as null or "none" does not matter
 * (a held message that an opt-out failed has its provider, and nothing was sent either).
 */
function noticeOf(m) {
  if (m.direction === 'inbound' || !Object.hasOwn(NOTICES, m.error_code ?? '')) return null;
  return NOTICES[m.error_code](m);
}

/** The consent change a message made: "Opted out of Twilio +1 415 523 8886 (sent “STOP”)". */
function consentMarker(m) {
  const c = m.consent;
  if (!c || (c.action !== 'optout' && c.action !== 'optin')) return null;
  const number = channelLabel(c.channel) || 'this number';
  const text = c.action === 'optout' ? `Opted out of ${number}` : `Opted back in to ${number}`;
  return h('p', { class: 'consent-marker', role: 'note', dataset: { action: c.action, channel: c.channel } },
    `${text} (${consentWhy(c)})`);
}

/**
 * A template as it was sent: the catalogue's name for it (else its Content SID), and its body
 * with the values filled in; the values alone when the catalogue does not know the template.
 */
function templateView(t) {
  const values = t.variables ?? {};
  const name = t.name
    ? `Template “${t.name}”${t.language ? ` (${t.language})` : ''}`
    : `Template ${t.sid ?? '(unknown)'}`;
  const text = t.body
    ? fillTemplate(t.body, values)
    : Object.keys(values).sort((a, b) => Number(a) - Number(b)).map((k) => `{{${k}}} ${values[k]}`).join(' · ');
  return [
    h('p', { class: 'msg-template-name', dataset: { sid: t.sid ?? '' } }, name),
    text ? h('p', { class: 'msg-text msg-template-body', dir: 'auto' }, text) : null,
  ].filter(Boolean);
}

/** Messages sort by creation time, then id, so equal timestamps keep a stable order. */
function compareKey(a, b) {
  return (a.ms - b.ms) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

function keyOf(m) {
  return { ms: Number(m.created_ms) || 0, id: String(m.id) };
}

// What the bubble body depends on. Media URLs are left out on purpose: they are short-lived and
// differ on every fetch, and rebuilding an <img> or a playing <audio> for a new signature would
// flicker or cut the sound. A URL appearing (media just stored) does change the key.
function bodyKey(m) {
  return JSON.stringify([
    m.type, m.text ?? null, noticeOf(m), m.consent ?? null, m.template ?? null,
    (m.media ?? []).map((x) => [x.idx, x.mime, x.size, Boolean(x.url), x.unavailable ?? null]),
  ]);
}

export class Timeline {
  constructor({ headEl, scrollEl, listEl, olderBtn, newBtn, statusEl }, { onError }) {
    this.headEl = headEl;
    this.scrollEl = scrollEl;
    this.listEl = listEl;
    this.olderBtn = olderBtn;
    this.newBtn = newBtn;
    this.statusEl = statusEl;
    this.onError = onError;

    this.leadId = null;
    this.generation = 0; // bumped on every open(): late answers for another lead are dropped
    this.messages = new Map(); // id → message
    this.els = new Map(); // id → <li class="msg">
    this.older = null; // cursor of the next older page, null when the oldest is loaded
    this.loadingOlder = false;
    this.stick = true; // the operator is at the bottom: keep them there as messages arrive

    this.refreshSoon = coalesce(serialized(() => this.refreshFirstPage()), 250);

    this.olderBtn.addEventListener('click', () => this.loadOlder());
    this.newBtn.addEventListener('click', () => this.scrollToBottom());
    this.scrollEl.addEventListener('scroll', () => {
      this.stick = this.atBottom();
      if (this.stick) this.newBtn.hidden = true;
    }, { passive: true });
    // Images and video posters load after layout and push the bottom down; follow it when the
    // operator was at the bottom. 'load' does not bubble, hence the capture listener.
    this.listEl.addEventListener('load', () => {
      if (this.stick) this.scrollToBottom();
    }, true);
    this.paintEmpty();
  }

  atBottom() {
    const el = this.scrollEl;
    return el.scrollHeight - el.scrollTop - el.clientHeight < STICK_PX;
  }

  scrollToBottom() {
    this.scrollEl.scrollTop = this.scrollEl.scrollHeight;
    this.stick = true;
    this.newBtn.hidden = true;
  }

  /** Open a lead: `hint` (the list's copy of the lead) fills the header until the fetch returns. */
  async open(id, hint) {
    this.generation += 1;
    this.leadId = String(id);
    this.clear();
    if (hint) this.paintHead(hint);
    else setChildren(this.headEl, h('h2', { id: 'conv-title' }, `Lead #${this.leadId}`));
    this.statusEl.textContent = 'Loading messages…';
    this.statusEl.hidden = false;
    this.listEl.setAttribute('aria-busy', 'true');

    const generation = this.generation;
    try {
      const page = await api.messages(this.leadId, null, PAGE);
      if (generation !== this.generation) return;
      if (page.contact) this.paintHead(page.contact);
      this.older = page.next ?? null;
      this.merge(page.messages ?? []);
      this.scrollToBottom();
    } catch (err) {
      if (generation === this.generation && !isQuiet(err)) {
        this.statusEl.textContent = 'Could not load this lead’s messages.';
        this.onError(err);
      }
      return;
    } finally {
      if (generation === this.generation) this.listEl.removeAttribute('aria-busy');
    }
    this.paintEmpty();
  }

  close() {
    this.generation += 1;
    this.leadId = null;
    this.clear();
    setChildren(this.headEl, h('h2', { id: 'conv-title' }, 'No lead selected'));
    this.paintEmpty();
  }

  clear() {
    this.messages.clear();
    this.els.clear();
    this.listEl.replaceChildren();
    this.older = null;
    this.loadingOlder = false;
    this.olderBtn.hidden = true;
    this.newBtn.hidden = true;
    this.stick = true;
  }

  paintEmpty() {
    this.olderBtn.hidden = !this.older;
    this.olderBtn.disabled = this.loadingOlder;
    let text = '';
    if (this.leadId === null) text = 'Select a lead to see its messages.';
    else if (this.messages.size === 0) text = 'No messages yet.';
    this.statusEl.textContent = text;
    this.statusEl.hidden = text === '';
  }

  paintHead(contact) {
    const title = contact.name || contact.phone || `Lead #${contact.id}`;
    setChildren(this.headEl,
      h('h2', { id: 'conv-title' }, title),
      h('p', { class: 'conv-meta' },
        contact.name && contact.phone ? h('span', { class: 'conv-phone' }, contact.phone) : null,
        windowsView(contact),
        optoutsView(contact),
        contact.last_inbound_provider
          ? h('span', { class: 'conv-source' }, 'Last inbound via ', providerBadge(contact.last_inbound_provider))
          : null));
  }

  async loadOlder() {
    if (this.loadingOlder || !this.older || this.leadId === null) return;
    const generation = this.generation;
    this.loadingOlder = true;
    this.olderBtn.disabled = true;
    try {
      const page = await api.messages(this.leadId, this.older, PAGE);
      if (generation !== this.generation) return;
      // Keep the message the operator is looking at in place: new content goes above it, so
      // the scroll offset grows by exactly the added height. (CSS turns off the browser's own
      // scroll anchoring on this element so that the two do not add up.)
      const before = this.scrollEl.scrollHeight;
      const top = this.scrollEl.scrollTop;
      this.older = page.next ?? null;
      this.merge(page.messages ?? []);
      this.scrollEl.scrollTop = top + (this.scrollEl.scrollHeight - before);
    } catch (err) {
      if (!isQuiet(err)) this.onError(err);
    } finally {
      if (generation === this.generation) {
        this.loadingOlder = false;
        this.paintEmpty();
      }
    }
  }

  /**
   * First page again, merged by id: new messages appear, changed ones (status, failover, media
   * stored) update in place. If none of the page is already on screen, more than a page arrived
   * since (or the page was asleep): start over from this page instead of leaving a silent gap.
   */
  async refreshFirstPage() {
    if (this.leadId === null) return;
    const generation = this.generation;
    try {
      const page = await api.messages(this.leadId, null, PAGE);
      if (generation !== this.generation) return;
      if (page.contact) this.paintHead(page.contact);
      const fetched = page.messages ?? [];
      const overlaps = fetched.some((m) => this.messages.has(String(m.id)));
      if (!overlaps && this.messages.size > 0 && page.next) {
        this.clear();
        this.older = page.next;
        this.merge(fetched);
        this.scrollToBottom();
      } else {
        const wasAtBottom = this.stick;
        const added = this.merge(fetched);
        if (wasAtBottom) this.scrollToBottom();
        else if (added > 0) this.newBtn.hidden = false;
      }
      this.paintEmpty();
    } catch (err) {
      if (!isQuiet(err)) this.onError(err);
    }
  }

  /** An SSE event whose contact is this lead. */
  onEvent(type, event) {
    // A status can be shown at once: the event names the message and the new status. The
    // refetch that follows confirms it and picks up anything the event does not carry.
    if (type === 'wa.status' && event.message_id && event.current !== false) {
      const m = this.messages.get(String(event.message_id));
      if (m) {
        this.upsert({
          ...m,
          status: event.status ?? m.status,
          failover: m.failover || event.failover === true,
          error_code: event.error_code ?? m.error_code,
          error_text: event.error_text ?? m.error_text,
        });
      }
    }
    this.refreshSoon();
  }

  /** Insert or update each message; returns how many were new. */
  merge(messages) {
    let added = 0;
    for (const m of messages) {
      if (m && m.id !== undefined && m.id !== null && this.upsert(m)) added += 1;
    }
    return added;
  }

  upsert(m) {
    const id = String(m.id);
    const old = this.messages.get(id);
    this.messages.set(id, m);
    const el = this.els.get(id);
    if (old && el) {
      this.patch(el, old, m);
      return false;
    }
    const fresh = this.render(m);
    this.els.set(id, fresh);
    this.place(fresh, keyOf(m));
    return true;
  }

  // Insertion point by (created_ms, id), searched from the bottom because live messages are
  // nearly always the newest; older pages are all older, so they walk to the top once each.
  place(el, key) {
    el.dataset.sortMs = String(key.ms);
    let after = this.listEl.lastElementChild;
    while (after && compareKey({ ms: Number(after.dataset.sortMs), id: after.dataset.messageId }, key) > 0) {
      after = after.previousElementSibling;
    }
    if (after) after.after(el);
    else this.listEl.prepend(el);
  }

  render(m) {
    const el = h('li', {});
    this.setAttrs(el, m);
    el.append(this.renderHead(m), this.renderBody(m), this.renderFoot(m));
    el.dataset.bodyKey = bodyKey(m);
    return el;
  }

  // Head and foot are small and hold no media: rebuild them. The body is rebuilt only when what
  // it shows changed (see bodyKey).
  patch(el, old, m) {
    this.setAttrs(el, m);
    el.querySelector(':scope > .msg-head').replaceWith(this.renderHead(m));
    el.querySelector(':scope > .msg-foot').replaceWith(this.renderFoot(m));
    const key = bodyKey(m);
    if (el.dataset.bodyKey !== key) {
      el.querySelector(':scope > .msg-body').replaceWith(this.renderBody(m));
      el.dataset.bodyKey = key;
    }
  }

  setAttrs(el, m) {
    const notice = noticeOf(m) !== null;
    el.className = `msg${notice ? ' msg-notice' : ''}`;
    el.dataset.messageId = String(m.id);
    el.dataset.provider = providerKey(m.provider);
    el.dataset.direction = m.direction === 'inbound' ? 'inbound' : 'outbound';
    el.dataset.status = m.status ?? 'unknown';
    el.dataset.failover = m.failover === true ? 'true' : 'false';
    // One accessible name per bubble so a screen reader can skim who sent what, through whom.
    el.setAttribute('aria-label', `${m.direction === 'inbound' ? 'Received' : 'Sent'} via ${channelLabel(m.channel) || providerLabel(m.provider)}`
      + `${m.failover ? ' (failover)' : ''}, ${m.status ?? 'unknown'}, ${formatFull(m.created_ms)}`);
  }

  renderHead(m) {
    return h('div', { class: 'msg-head' },
      providerBadge(m.provider),
      channelTag(m.channel, m.provider),
      m.failover === true
        ? h('span', { class: 'failover-marker', title: m.reason || 'Sent by Twilio instead of Baileys' }, '⇄ failover')
        : null,
      m.direction !== 'inbound' && m.reason ? h('span', { class: 'msg-reason' }, m.reason) : null);
  }

  renderBody(m) {
    const body = h('div', { class: 'msg-body' });
    const notice = noticeOf(m);
    if (notice !== null) {
      body.append(h('p', { class: 'notice', role: 'note', dataset: { code: m.error_code } }, notice));
      // What the operator's system tried to send, so the notice can be acted on.
      if (m.text) body.append(h('p', { class: 'msg-text msg-attempted', dir: 'auto' }, m.text));
      else if (m.template) body.append(...templateView(m.template));
      return body;
    }
    if (m.template) body.append(...templateView(m.template));
    if (m.text) body.append(h('p', { class: 'msg-text', dir: 'auto' }, m.text));
    const marker = consentMarker(m);
    if (marker) body.append(marker);
    const media = m.media ?? [];
    if (media.length) body.append(h('div', { class: 'media' }, media.map((item) => this.renderMedia(item, m))));
    if (!m.text && !m.template && media.length === 0) body.append(h('p', { class: 'msg-type' }, `[${m.type ?? 'message'}]`));
    return body;
  }

  renderMedia(item, m) {
    const mime = String(item.mime ?? '').toLowerCase();
    const url = safeUrl(item.url);
    const label = `${mime || m.type || 'file'}${item.size ? `, ${formatSize(item.size)}` : ''}`;
    // The bridge could not get the file (or it was too large): the message came without it.
    if (item.unavailable) {
      return h('span', { class: 'media-unavailable', title: item.unavailable },
        `${label}: not available (${item.unavailable})`);
    }
    // Inbound media is stored by the media worker after the message: until then there is no URL.
    if (!item.url) return h('span', { class: 'media-pending' }, `${label} (not stored yet)`);
    if (!url) return h('span', { class: 'media-pending' }, `${label} (link not shown: not http or https)`);
    if (mime.startsWith('image/')) {
      return h('a', { href: url, target: '_blank', rel: 'noopener noreferrer', class: 'media-image' },
        h('img', { src: url, alt: m.text ? `Image: ${m.text}` : `Image (${label})`, loading: 'lazy', decoding: 'async' }));
    }
    // preload=metadata: the duration shows without downloading the whole file for every bubble.
    if (mime.startsWith('audio/')) return h('audio', { controls: true, preload: 'metadata', src: url, 'aria-label': `Audio (${label})` });
    if (mime.startsWith('video/')) return h('video', { controls: true, preload: 'metadata', src: url, 'aria-label': `Video (${label})` });
    return h('a', { href: url, download: `${m.id}-${item.idx ?? 0}`, class: 'media-file', rel: 'noopener noreferrer' },
      `⬇ Download ${label}`);
  }

  renderFoot(m) {
    const foot = h('div', { class: 'msg-foot' },
      h('time', { datetime: isoTime(m.created_ms), title: formatFull(m.created_ms) }, formatTime(m.created_ms)));
    // Inbound messages have no delivery ticks; the notice says "not sent" already.
    if (m.direction === 'inbound' || noticeOf(m) !== null) return foot;
    // hasOwn, not TICKS[status]: a status named "constructor" must not find Object's.
    const known = Object.hasOwn(TICKS, m.status) ? m.status : 'unknown';
    const [glyph, words] = TICKS[known];
    const failed = known === 'failed' || known === 'undelivered';
    foot.append(h('span', {
      class: `ticks ticks-${known}`,
      role: 'img',
      'aria-label': words,
      title: failed && m.error_text ? `${words}: ${m.error_text}` : words,
    }, glyph));
    if (failed) {
      foot.append(h('span', { class: 'msg-error', title: m.error_text ?? '' },
        m.error_code ? `${m.status} · ${m.error_code}` : m.status));
    }
    return foot;
  }
}
