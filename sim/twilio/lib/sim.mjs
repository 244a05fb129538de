// sim.mjs - the simulator's state and behaviour, independent of HTTP routing: recorded calls,
// stored messages, the 24-hour window, the message lifecycle and its status callbacks.
import crypto from 'node:crypto';
import { ASYNC_TEXT } from './errors.mjs';
import { deliverCallback } from './callbacks.mjs';
import { Faults } from './faults.mjs';
import { rfc2822 } from './http.mjs';
import { fetchBytes, mediaProblem } from './media.mjs';
import { scopeKey, whatsappNumber } from './phone.mjs';
import { isFreeForm, present } from './validate.mjs';
import { inboundParams, postWebhook, newMessageSid, statusParams } from '../webhook.mjs';

export const DAY_MS = 24 * 60 * 60 * 1000;
export const INBOUND_PATH = '/api/whatsapp/twilio';

// How far along the lifecycle a status is: the stored resource never moves backwards, even when a
// test sends a late "delivered" after "read" (Twilio's callbacks are best-effort and unordered).
const RANK = { queued: 0, accepted: 0, scheduled: 0, sending: 1, sent: 2, delivered: 3, read: 4,
  undelivered: 5, failed: 5, canceled: 5 };

export function defaultConfig() {
  return {
    enforceWindow: true,
    windowMs: DAY_MS,
    callbacks: true,
    callbackDelayMs: 50,
    // Every Messages create answers after this long: the API's own round trip, which sets how
    // many sends a client must keep in flight for a given rate. 0: at once.
    createLatencyMs: 0,
    fetchMedia: true,
    mediaTimeoutMs: 10000,
    ingressUrl: 'http://127.0.0.1:8080',
    publicBaseUrl: null, // null = same as ingressUrl
    // null: each status callback goes to its own URL, as Twilio's do. A base URL: a callback
    // under publicBaseUrl is posted under this one instead (still signed for its own URL), for a
    // simulator that cannot reach the public URL (inside docker-compose's network).
    callbackVia: null,
    // From used in callbacks when a message named only a MessagingServiceSid (Twilio would pick a
    // sender from the service's pool); the WhatsApp sandbox number.
    serviceSender: 'whatsapp:+14155238886',
  };
}

export class TwilioSim {
  constructor({ accountSid, authToken, config = {} }) {
    this.accountSid = accountSid;
    this.authToken = authToken;
    this.initialConfig = { ...defaultConfig(), ...config };
    this.timers = new Set();
    this.abort = new AbortController();
    this.reset();
  }

  reset() {
    this.config = { ...this.initialConfig };
    this.calls = [];
    this.callSeq = 0;
    this.messages = new Map();
    this.faults = new Faults();
    this.windows = new Map(); // "user|sender" (sender "*" = any) -> last inbound ms
    this.callbackRecords = [];
    this.callbackSeq = 0;
  }

  close() {
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.abort.abort();
  }

  sleep(ms) {
    return new Promise((resolve) => {
      const t = setTimeout(() => { this.timers.delete(t); resolve(); }, ms);
      this.timers.add(t);
    });
  }

  // ---- recording -------------------------------------------------------------------------

  recordCall({ method, path, receivedAtMs, params }) {
    this.callSeq += 1;
    const call = { seq: this.callSeq, receivedAtMs, method, path, authOk: null, params,
      responseStatus: null, code: null, sid: null };
    this.calls.push(call);
    return call;
  }

  listCalls(to) {
    const key = scopeKey(to);
    if (!key) return this.calls;
    return this.calls.filter((c) => scopeKey(typeof c.params?.To === 'string' ? c.params.To : null) === key);
  }

  listCallbacks(sid) {
    return sid ? this.callbackRecords.filter((r) => r.sid === sid) : this.callbackRecords;
  }

  // ---- the 24-hour window ------------------------------------------------------------------

  noteInbound(user, sender, atMs) {
    const key = `${scopeKey(user)}|${scopeKey(sender) ?? '*'}`;
    this.windows.set(key, Math.max(this.windows.get(key) ?? -Infinity, atMs));
  }

  // Last inbound from `user` to `sender`; a null sender (message sent via a Messaging Service)
  // or a window recorded without sender matches any.
  lastInbound(user, sender) {
    const u = scopeKey(user);
    const s = scopeKey(sender);
    let best = null;
    for (const [key, at] of this.windows) {
      const [ku, ks] = key.split('|');
      if (ku === u && (s === null || ks === '*' || ks === s) && (best === null || at > best)) best = at;
    }
    return best;
  }

  listWindows() {
    return [...this.windows].map(([key, lastInboundAtMs]) => {
      const [user, sender] = key.split('|');
      return { user, sender: sender === '*' ? null : sender, lastInboundAtMs };
    });
  }

  windowOpen(user, sender, nowMs) {
    const at = this.lastInbound(user, sender);
    return at !== null && nowMs - at <= this.config.windowMs;
  }

  // Posts a signed inbound webhook to ingress, exactly like cli.mjs, and opens the window:
  // Where a callback for `url` is posted: `url` itself unless config.callbackVia says otherwise.
  callbackVia(url) {
    const via = this.config.callbackVia?.replace(/\/+$/, '');
    const base = this.config.publicBaseUrl?.replace(/\/+$/, '');
    return via && base && url.startsWith(base + '/') ? via + url.slice(base.length) : url;
  }

  // Twilio has the user's message whether or not our webhook accepted it.
  async inbound({ from, to = '+14155238886', body = '', profileName, media, messageSid, extra }) {
    const user = scopeKey(from);
    const sender = scopeKey(to);
    if (!user) throw Object.assign(new Error('from (+E.164) is required'), { status: 400 });
    const sid = messageSid ?? newMessageSid();
    this.noteInbound(user, sender, Date.now());
    const params = inboundParams({ from: user, to: sender, body, profileName, messageSid: sid,
      accountSid: this.accountSid, media: media ?? [], extra: extra ?? {} });
    const ingress = this.config.ingressUrl.replace(/\/+$/, '');
    const base = (this.config.publicBaseUrl ?? this.config.ingressUrl).replace(/\/+$/, '');
    try {
      const r = await postWebhook({ targetUrl: ingress + INBOUND_PATH, publicUrl: base + INBOUND_PATH,
        authToken: this.authToken, params });
      return { status: r.status, messageSid: sid, body: r.body };
    } catch (e) {
      return { status: 0, messageSid: sid, error: e.cause?.code ?? e.message };
    }
  }

  // ---- messages ----------------------------------------------------------------------------

  // Builds the api.v2010.account.message resource for an accepted create request.
  createMessage(p, nowMs) {
    const sid = `SM${crypto.randomBytes(16).toString('hex')}`;
    const base = `/2010-04-01/Accounts/${this.accountSid}/Messages/${sid}`;
    const media = (p.MediaUrl ?? []).filter(present);
    const resource = {
      account_sid: this.accountSid,
      api_version: '2010-04-01',
      body: p.Body ?? '',
      date_created: rfc2822(nowMs),
      date_sent: null,
      date_updated: rfc2822(nowMs),
      direction: 'outbound-api',
      error_code: null,
      error_message: null,
      from: present(p.From) ? p.From : null,
      messaging_service_sid: present(p.MessagingServiceSid) ? p.MessagingServiceSid : null,
      num_media: String(media.length),
      num_segments: '1',
      price: null,
      price_unit: 'USD',
      sid,
      status: 'queued',
      subresource_uris: { media: `${base}/Media.json` },
      to: p.To,
      uri: `${base}.json`,
    };
    const msg = { sid, resource, params: p, media, statusCallback: present(p.StatusCallback)
      ? p.StatusCallback : null, createdAtMs: nowMs, mediaResults: [] };
    this.messages.set(sid, msg);
    return msg;
  }

  // Fetches every MediaUrl before the 201, as Twilio checks media up front; returns the records.
  async fetchMedia(msg) {
    if (!this.config.fetchMedia) return [];
    msg.mediaResults = await Promise.all(msg.media.map((url) => fetchBytes(url, {
      timeoutMs: this.config.mediaTimeoutMs, signal: this.abort.signal,
    })));
    return msg.mediaResults.map(({ url, status, contentType, bytes, sha256, error }) => ({
      url, status, contentType, bytes, sha256, ...(error ? { error } : {}) }));
  }

  // Which callbacks a freshly accepted message gets.
  planLifecycle(msg, override) {
    if (override) return override.callbacks;
    const user = whatsappNumber(msg.params.To);
    const sender = whatsappNumber(msg.params.From);
    if (this.config.enforceWindow && isFreeForm(msg.params)
      && !this.windowOpen(user, sender, msg.createdAtMs)) {
      return [{ status: 'failed', errorCode: 63016 }];
    }
    for (const m of msg.mediaResults) {
      const problem = mediaProblem(m);
      if (problem) return [{ status: 'failed', errorCode: problem.errorCode, reason: problem.reason }];
    }
    return [{ status: 'sent' }, { status: 'delivered' }, { status: 'read' }];
  }

  async runLifecycle(msg, steps) {
    for (const step of steps) {
      await this.sleep(this.config.callbackDelayMs);
      if (this.closed) return;
      await this.sendStatus(msg, step, { onlyIfEnabled: true });
    }
  }

  applyStatus(msg, { status, errorCode, errorMessage }) {
    const r = msg.resource;
    const now = Date.now();
    if ((RANK[status] ?? 0) > (RANK[r.status] ?? 0)) {
      r.status = status;
      r.date_updated = rfc2822(now);
      if (r.date_sent === null && RANK[status] >= RANK.sent && RANK[status] < RANK.failed) {
        r.date_sent = rfc2822(now);
      }
      if (errorCode !== undefined) {
        r.error_code = errorCode;
        r.error_message = errorMessage ?? ASYNC_TEXT[errorCode] ?? null;
      }
    }
  }

  callbackParams(msg, { status, errorCode, errorMessage }) {
    const r = msg.resource;
    return statusParams({ sid: r.sid, status, accountSid: this.accountSid,
      from: r.from ?? this.config.serviceSender, to: r.to, messagingServiceSid: r.messaging_service_sid,
      errorCode, errorMessage: errorCode === undefined ? undefined : errorMessage ?? ASYNC_TEXT[errorCode] });
  }

  // Moves the message to `step.status` and, when there is a URL (and callbacks are enabled for
  // lifecycle steps), POSTs the signed callback. Returns the last attempt record or null.
  async sendStatus(msg, step, { onlyIfEnabled = false, url } = {}) {
    this.applyStatus(msg, step);
    const target = url ?? msg.statusCallback;
    if (!target || (onlyIfEnabled && !this.config.callbacks)) return null;
    const params = this.callbackParams(msg, step);
    return deliverCallback({
      rawUrl: target, authToken: this.authToken, params, signal: this.abort.signal,
      via: (u) => this.callbackVia(u),
      onAttempt: (rec) => {
        this.callbackSeq += 1;
        this.callbackRecords.push({ seq: this.callbackSeq, sid: msg.sid, status: step.status,
          params, ...rec });
      },
    });
  }
}
