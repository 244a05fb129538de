// Small DOM and formatting helpers shared by the dashboard modules.
//
// Every piece of data from the API reaches the page through h() as a text node or an attribute
// value, never as HTML: names, message bodies and error texts come from WhatsApp users and
// providers, so they must never be parsed as markup.

/**
 * Create an element. `attrs` keys: `class`, `dataset` (object), `on` (object of listeners),
 * anything else becomes an attribute (null/undefined/false are skipped, true becomes "").
 * Children: strings and numbers become text nodes, null/false are skipped, arrays are flattened.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === 'class') el.className = value;
    else if (key === 'dataset') {
      for (const [k, v] of Object.entries(value)) {
        if (v !== null && v !== undefined) el.dataset[k] = String(v);
      }
    } else if (key === 'on') {
      for (const [event, fn] of Object.entries(value)) el.addEventListener(event, fn);
    } else el.setAttribute(key, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else if (child instanceof Node) el.appendChild(child);
    else el.appendChild(document.createTextNode(String(child)));
  }
}

/** Replace all children of `el`. */
export function setChildren(el, ...children) {
  el.replaceChildren();
  append(el, children);
}

// Providers the dashboard knows by name; anything else is shown as sent by the API.
const PROVIDER_LABELS = { twilio: 'Twilio', baileys: 'Baileys' };

/** "twilio" → "twilio", null / "none" / "" → "none": the value used for data-provider. */
export function providerKey(provider) {
  if (!provider || provider === 'none') return 'none';
  return String(provider).toLowerCase();
}

/** Human label of a provider: "Twilio", "Baileys", "none". */
export function providerLabel(provider) {
  const key = providerKey(provider);
  return PROVIDER_LABELS[key] ?? key;
}

/** The "Provider: Twilio" badge, with data-provider so CSS colours it and tests find it. */
export function providerBadge(provider) {
  const key = providerKey(provider);
  return h('span', { class: 'badge-provider', dataset: { provider: key } },
    `Provider: ${providerLabel(provider)}`);
}

// Country calling codes shorter than three digits (ITU-T E.164 assignments); every other code
// has three. Enough to split "+972500000001" into "+972 50 000 0001" without a phone library.
const SHORT_COUNTRY_CODES = new Set([
  '1', '7', '20', '27', '30', '31', '32', '33', '34', '36', '39', '40', '41', '43', '44', '45',
  '46', '47', '48', '49', '51', '52', '53', '54', '55', '56', '57', '58', '60', '61', '62', '63',
  '64', '65', '66', '81', '82', '84', '86', '90', '91', '92', '93', '94', '95', '98',
]);

/**
 * An E.164 number for reading: "+14155238886" → "+1 415 523 8886". The national part is grouped
 * from the end (4, then 3s) so two numbers of one provider are told apart at a glance; this is
 * not any country's own convention. Anything that is not E.164 comes back as it was.
 */
export function formatNumber(number) {
  const match = /^\+(\d{8,15})$/.exec(String(number ?? ''));
  if (!match) return String(number ?? '');
  const digits = match[1];
  const ccLength = SHORT_COUNTRY_CODES.has(digits[0]) ? 1 : SHORT_COUNTRY_CODES.has(digits.slice(0, 2)) ? 2 : 3;
  let rest = digits.slice(ccLength);
  const groups = [rest.slice(-4)];
  rest = rest.slice(0, -4);
  while (rest.length > 0) {
    groups.unshift(rest.slice(-3));
    rest = rest.slice(0, -3);
  }
  // A lone leading digit reads like a typo: it joins the group after it.
  if (groups.length > 1 && groups[0].length === 1) groups.splice(0, 2, groups[0] + groups[1]);
  return `+${digits.slice(0, ccLength)} ${groups.join(' ')}`;
}

/**
 * A channel name (docs/architecture.md §3) in parts: "twilio:+14155238886" → {provider: "twilio",
 * number: "+14155238886"}; a bare provider name ("baileys": its default number, not known) has
 * number null. null for no channel at all (a message that was never sent anywhere).
 */
export function channelParts(channel) {
  if (typeof channel !== 'string' || channel === '') return null;
  const colon = channel.indexOf(':');
  if (colon < 0) return { provider: channel, number: null };
  return { provider: channel.slice(0, colon), number: channel.slice(colon + 1) };
}

/** "Twilio +1 415 523 8886", or just "Twilio" for a bare provider name. */
export function channelLabel(channel) {
  const parts = channelParts(channel);
  if (!parts) return '';
  const provider = providerLabel(parts.provider);
  return parts.number ? `${provider} ${formatNumber(parts.number)}` : provider;
}

/**
 * The number a message came to or went from, shown after its provider badge: "+1 415 523 8886".
 * The badge already names the provider, so a bare provider name adds nothing and gives null; a
 * channel of another provider than the badge's (which should not happen) names its own.
 */
export function channelTag(channel, provider) {
  const parts = channelParts(channel);
  if (!parts?.number) return null;
  const sameProvider = providerKey(parts.provider) === providerKey(provider);
  return h('span', { class: 'msg-channel', dataset: { channel }, title: `Channel ${channel}` },
    sameProvider ? formatNumber(parts.number) : channelLabel(channel));
}

/** A remaining duration as "5h 12m", "12m", "45s" (the window countdown). */
export function formatRemaining(ms) {
  const totalSeconds = Math.max(0, Math.floor(ms / 1000));
  const hours = Math.floor(totalSeconds / 3600);
  const minutes = Math.floor((totalSeconds % 3600) / 60);
  if (hours > 0) return `${hours}h ${minutes}m`;
  if (minutes > 0) return `${minutes}m`;
  return `${totalSeconds}s`;
}

/**
 * The 24-hour window of a lead as text. `window_closes_ms` is trusted over `window_open`
 * because the page stays open while time passes: a window that was open when the list was
 * fetched closes by itself, with no event.
 */
export function windowText(lead, now = Date.now()) {
  const closes = lead.window_closes_ms;
  const open = Number.isFinite(closes) ? closes > now : Boolean(lead.window_open);
  if (!open) return { open: false, text: 'closed' };
  if (!Number.isFinite(closes)) return { open: true, text: 'open' };
  return { open: true, text: `open · ${formatRemaining(closes - now)} left` };
}

const timeFmt = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const dayTimeFmt = new Intl.DateTimeFormat(undefined, {
  day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit',
});
const fullFmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });

/** "14:05" for today, "12 Mar, 14:05" otherwise: short enough for a bubble or a list row. */
export function formatTime(ms) {
  if (!Number.isFinite(ms)) return '';
  const d = new Date(ms);
  const today = new Date();
  const sameDay = d.toDateString() === today.toDateString();
  return (sameDay ? timeFmt : dayTimeFmt).format(d);
}

/** Full date and time for title attributes and <time datetime>. */
export function formatFull(ms) {
  return Number.isFinite(ms) ? fullFmt.format(new Date(ms)) : '';
}

export function isoTime(ms) {
  return Number.isFinite(ms) ? new Date(ms).toISOString() : null;
}

/** "3 KB", "1.2 MB" for download links. */
/** A template's body with its values filled in (those given so far): what the contact reads. */
export function fillTemplate(body, values) {
  return String(body ?? '').replace(/\{\{(\d+)\}\}/g, (whole, n) => values?.[n] || whole);
}

export function formatSize(bytes) {
  if (!Number.isFinite(bytes)) return '';
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${Math.round(bytes / 1024)} KB`;
  return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}

/**
 * A URL safe to put in src/href: http(s) only (absolute or relative to this page).
 * Media URLs come from the API, but a javascript: URL in an href would run on click, so the
 * scheme is checked rather than trusted. Returns null when the URL is unusable.
 */
export function safeUrl(url) {
  if (typeof url !== 'string' || url === '') return null;
  try {
    const parsed = new URL(url, window.location.href);
    return parsed.protocol === 'http:' || parsed.protocol === 'https:' ? parsed.href : null;
  } catch {
    return null;
  }
}

/** Calls `fn` once, `wait` ms after the last call (the search box). */
export function debounce(fn, wait) {
  let timer = null;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), wait);
  };
}

/**
 * Coalesces bursts: the first call schedules `fn` after `wait` ms, later calls before it runs
 * are folded into the same run. Used for SSE-driven refetches so that a burst of 500 events
 * costs one request, not 500.
 */
export function coalesce(fn, wait) {
  let timer = null;
  return () => {
    if (timer !== null) return;
    timer = setTimeout(() => {
      timer = null;
      fn();
    }, wait);
  };
}

/**
 * The 24-hour window as a live element: data-closes-ms lets refreshWindows() recompute the
 * countdown every second without knowing which lead or view the element belongs to.
 */
function windowBadge(lead) {
  const el = h('span', {
    class: 'window',
    dataset: {
      closesMs: Number.isFinite(lead.window_closes_ms) ? lead.window_closes_ms : null,
      openFlag: lead.window_open ? 'true' : 'false',
    },
  });
  paintWindow(el);
  return el;
}

/** One channel's window (an entry of the API's `windows`): "Twilio +1 415 523 8886 · 5h 12m". */
function channelWindowBadge(w) {
  const el = h('span', {
    class: 'window',
    dataset: {
      channel: w.channel,
      label: channelLabel(w.channel),
      closesMs: Number.isFinite(w.closes_ms) ? w.closes_ms : null,
      openFlag: w.open ? 'true' : 'false',
    },
  });
  paintWindow(el);
  return el;
}

/**
 * A lead's 24-hour windows: WhatsApp keeps one per business number, so a lead that wrote to two
 * numbers has two countdowns, newest first (the API's order). A lead the API knows no channel of
 * (it never wrote, or only before channels were recorded) keeps the one contact-level window.
 */
export function windowsView(lead) {
  const windows = Array.isArray(lead.windows) ? lead.windows : [];
  if (windows.length === 0) return windowBadge(lead);
  return h('ul', { class: 'windows', 'aria-label': '24h window per business number' },
    windows.map((w) => h('li', {}, channelWindowBadge(w))));
}

/**
 * The numbers a lead opted out of (the API's `optouts`, docs/architecture.md §3.4), one badge
 * each: "Opted out · Twilio +1 415 523 8886". Nothing may be sent to the lead through them. null
 * when there are none.
 */
export function optoutsView(lead) {
  const optouts = Array.isArray(lead.optouts) ? lead.optouts : [];
  if (optouts.length === 0) return null;
  return h('ul', { class: 'optouts', 'aria-label': 'Opted out of' },
    optouts.map((o) => h('li', {}, h('span', {
      class: 'optout',
      dataset: { channel: o.channel, source: o.source },
      title: `${consentWhy(o)}${Number.isFinite(o.since_ms) ? `, since ${formatFull(o.since_ms)}` : ''}: nothing is sent to this contact through this number`,
    }, `Opted out · ${channelLabel(o.channel) || 'unknown number'}`))));
}

/** Why a consent change happened: `sent “STOP”`, or `Twilio error 63033`. */
export function consentWhy(c) {
  if (c.source === 'keyword') return c.keyword ? `sent “${c.keyword}”` : 'sent a keyword';
  return c.error_code ? `Twilio error ${c.error_code}: the contact refused messages`
    : 'Twilio: the contact refused messages';
}

function paintWindow(el, now = Date.now()) {
  const closes = el.dataset.closesMs === undefined ? null : Number(el.dataset.closesMs);
  const state = windowText({ window_closes_ms: closes, window_open: el.dataset.openFlag === 'true' }, now);
  const label = el.dataset.label;
  let text = `24h window: ${state.text}`;
  // Per channel the open text is just the time left: "open … left" on every line is noise.
  if (label) text = `${label} · ${state.open && Number.isFinite(closes) ? formatRemaining(closes - now) : state.text}`;
  // Only touch the DOM when the text changes: this runs every second for every row.
  if (el.textContent !== text) el.textContent = text;
  el.dataset.open = state.open ? 'true' : 'false';
}

/** Recompute every window countdown under `root`. */
export function refreshWindows(root = document) {
  const now = Date.now();
  for (const el of root.querySelectorAll('.window[data-open-flag]')) paintWindow(el, now);
}

/**
 * Wraps an async `fn` so that runs never overlap: a call during a run asks for exactly one more
 * run after it. Refetches that overlapped could answer out of order and paint an older state
 * over a newer one.
 */
export function serialized(fn) {
  let running = false;
  let again = false;
  const run = async () => {
    if (running) {
      again = true;
      return;
    }
    running = true;
    try {
      await fn();
    } finally {
      running = false;
      if (again) {
        again = false;
        run();
      }
    }
  };
  return run;
}
