// Reports the entries the outbox parked in rejected/ to ingress, which raises wa.error with the
// payload: an entry that can never be delivered must not vanish without the operator hearing of it.
// The outbox writes a marker, outbox/to-report/<name>, together with the parked entry; the marker
// goes only after ingress's 2xx (which ingress gives once Kafka has the wa.error). A restart before
// that reports the entry again: at least once, and the file name (parked.file in the wa.error) is
// the key a reader dedupes on.
// Reports go one at a time on their own queue with backoff, never in a chat's queue: the point of
// parking is that the chat's next entries flow.
import fs from 'node:fs/promises';
import fsSync from 'node:fs';
import path from 'node:path';
import { unlinkDurable } from './fsutil.js';
import { backoffDelay } from './backoff.js';
import tls from 'node:tls';
import { Agent } from 'undici';

export const TO_REPORT = 'to-report';

/**
 * The HTTP client for ingress when BRIDGE_INGRESS_CA_FILE is set: an https INGRESS_URL is
 * verified against Node's CA list plus those certificates (ca replaces the list, so both are
 * given). The name is always checked. Without a file: undefined, fetch's default (Node's list).
 */
export function ingressDispatcher(caPem) {
  if (!caPem) return undefined;
  return new Agent({ connect: { ca: [...tls.rootCertificates, caPem] } });
}

/** POSTs a JSON body to ingress with the shared secret, ended by `abort` (shutdown) or after
 * timeoutMs. Returns { status, text }; throws with a short `reason` when no answer came (a
 * certificate ingress's does not verify against is such a case: err.cause.code says which). */
export async function postToIngress({ url, secret, body, timeoutMs, abort, dispatcher }) {
  const timer = setTimeout(() => abort.abort(), timeoutMs);
  try {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-baileys-secret': secret },
      body,
      signal: abort.signal,
      dispatcher,
    });
    return { status: res.status, text: await res.text().catch(() => '') };
  } catch (err) {
    err.reason = err.name === 'AbortError' ? 'timeout or shutdown' : (err.cause?.code || err.message);
    throw err;
  } finally {
    clearTimeout(timer);
  }
}
// Half of ingress's default INGRESS_MAX_BODY (512 KiB): room for a smaller setting. A 413 halves
// it again for that report, down to MIN_REPORT_BYTES (INGRESS_MAX_BODY's own minimum is 1024).
export const REPORT_MAX_BYTES = 256 * 1024;
export const MIN_REPORT_BYTES = 1024;

const bytes = (s) => Buffer.byteLength(s, 'utf8');

/** The longest prefix of s that is at most maxBytes of UTF-8, never splitting a character. */
export function truncateUtf8(s, maxBytes) {
  const buf = Buffer.from(s, 'utf8');
  if (buf.length <= maxBytes) return s;
  let end = Math.max(0, maxBytes);
  while (end > 0 && (buf[end] & 0xc0) === 0x80) end--; // a continuation byte: back to its start
  return buf.subarray(0, end).toString('utf8');
}

/**
 * What a parked file says, as the report's fields and the payload to carry. An entry the outbox
 * could not read is reported too, as "unreadable", with its raw text as the payload.
 */
export function describeParked(name, text) {
  let entry;
  try {
    entry = JSON.parse(text);
  } catch (err) {
    // Ingress's JSON parser refuses NUL characters; the exact bytes stay in rejected/.
    return { fields: { file: name, kind: 'unreadable', reason: `unreadable outbox entry: ${err.message}` }, payload: text.replace(/\0/g, '\uFFFD') };
  }
  const r = entry?.rejected || {};
  const fields = {
    file: name,
    kind: typeof entry?.payload?.event === 'string' && entry.payload.event ? entry.payload.event : 'message',
    chat: typeof entry?.chat === 'string' ? entry.chat : undefined,
    status: Number.isInteger(r.status) && r.status >= 400 && r.status < 500 ? r.status : undefined,
    response: typeof r.response === 'string' ? r.response : undefined,
    rejectedAt: typeof r.at === 'string' ? r.at : undefined,
  };
  if (fields.status === undefined) fields.reason = 'parked without a recorded 4xx answer';
  return { fields, payload: JSON.stringify(entry?.payload ?? entry) };
}

/**
 * The report's JSON body, at most maxBytes: the payload whole when it fits, else its first bytes,
 * flagged truncated with the whole size (the whole entry stays in rejected/). If the other fields
 * alone are too long, ingress's answer is cut as well.
 */
export function reportBody({ fields, payload }, maxBytes = REPORT_MAX_BYTES) {
  const payloadBytes = bytes(payload);
  const make = (f, part) => JSON.stringify({ ...f, payload: part, payloadBytes, truncated: part.length < payload.length });
  let body = make(fields, payload);
  if (bytes(body) > maxBytes) {
    // Escaping makes the cost of a byte vary (a quote costs up to four): search for the longest
    // prefix that fits. About 20 rounds for the largest payload; reports are rare.
    let lo = 0;
    let hi = payloadBytes - 1;
    while (lo < hi) {
      const mid = Math.ceil((lo + hi) / 2);
      if (bytes(make(fields, truncateUtf8(payload, mid))) <= maxBytes) lo = mid;
      else hi = mid - 1;
    }
    body = make(fields, truncateUtf8(payload, lo));
  }
  if (bytes(body) > maxBytes && fields.response) {
    const over = bytes(body) - maxBytes;
    body = make({ ...fields, response: truncateUtf8(fields.response, Math.max(0, bytes(fields.response) - over)) }, '');
  }
  return body;
}

export class ParkedReporter {
  /**
   * @param {object} o
   * @param {string} o.dir          the outbox's directory: entries in rejected/, markers in to-report/
   * @param {string} o.url          ingress's POST /api/whatsapp/baileys/parked
   * @param {string} o.secret       X-BAILEYS-SECRET value
   */
  constructor({ dir, url, secret, dispatcher, logger, metrics, baseBackoffMs = 500, maxBackoffMs = 30000, timeoutMs = 10000, maxBytes = REPORT_MAX_BYTES }) {
    Object.assign(this, { dir, url, secret, dispatcher, logger, metrics, baseBackoffMs, maxBackoffMs, timeoutMs, maxBytes });
    this.rejectedDir = path.join(dir, 'rejected');
    this.markerDir = path.join(dir, TO_REPORT);
    this.queue = [];
    this.queued = new Set();
    this.again = new Set(); // parked anew while its report was under way: look at it once more
    this.limits = new Map(); // name -> a smaller body limit after ingress answered 413
    this.attempt = 0;
    this.timer = null;
    this.busy = false;
    this.abort = null;
    this.closed = false;
    this.idleWaiters = [];
  }

  /** Queue every marker left by an earlier run (or written before open). */
  async open() {
    fsSync.mkdirSync(this.markerDir, { recursive: true, mode: 0o700 });
    const names = (await fs.readdir(this.markerDir)).filter((n) => !n.startsWith('.')).sort();
    if (names.length) this.logger.info({ entries: names.length }, 'parked entries not yet reported: reporting them');
    for (const name of names) this.add(name);
    this.#gauge();
  }

  /** The outbox parked rejected/<name> and wrote its marker: report it. */
  add(name) {
    if (this.queued.has(name)) {
      if (this.busy && this.queue[0] === name) this.again.add(name);
      return;
    }
    this.queued.add(name);
    this.queue.push(name);
    this.#gauge();
    this.#kick();
  }

  get pending() { return this.queue.length; }

  /** Resolves when nothing is left to report in this run (tests, shutdown). */
  idle() {
    if (this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  close() {
    this.closed = true;
    clearTimeout(this.timer);
    this.abort?.abort();
  }

  #gauge() {
    this.metrics?.set('bridge_outbox_rejected_unreported', this.queue.length);
    if (this.queue.length === 0) this.idleWaiters.splice(0).forEach((r) => r());
  }

  #kick() {
    if (this.busy || this.timer || this.closed || this.queue.length === 0) return;
    this.busy = true;
    this.#reportHead().catch((err) => {
      this.logger.error({ err: err.message }, 'parked report: unexpected error');
      this.#retryLater(err.message);
    }).finally(() => { this.busy = false; this.#kick(); });
  }

  /** Done with the head for this run; its marker is removed only when reported. */
  async #done(name, reported) {
    if (reported) await unlinkDurable(path.join(this.markerDir, name));
    this.queue.shift();
    this.queued.delete(name);
    this.limits.delete(name);
    this.attempt = 0;
    if (this.again.delete(name)) {
      this.queued.add(name);
      this.queue.push(name);
    }
    this.#gauge();
  }

  #retryLater(reason) {
    if (this.closed) return;
    const delay = backoffDelay(this.attempt, { baseMs: this.baseBackoffMs, maxMs: this.maxBackoffMs });
    this.attempt++;
    this.metrics?.inc('bridge_outbox_rejected_report_retries_total');
    this.logger.warn({ file: this.queue[0], attempt: this.attempt, retryInMs: delay, reason }, 'parked report: ingress did not take it, will retry');
    this.timer = setTimeout(() => { this.timer = null; this.#kick(); }, delay);
    this.timer.unref();
  }

  async #reportHead() {
    const name = this.queue[0];
    let text;
    try {
      text = await fs.readFile(path.join(this.rejectedDir, name), 'utf8');
    } catch (err) {
      if (err.code !== 'ENOENT') throw err;
      // Still (or again) in outbox/: a start that crashed before moving it, or an operator sending
      // it again. The outbox parks it anew (and hands it back here) or delivers it: the marker stays.
      if (fsSync.existsSync(path.join(this.dir, name))) return this.#done(name, false);
      // Gone altogether (delivered after it was moved back): nothing is lost, nothing to tell.
      this.logger.info({ file: name }, 'parked report: the entry is no longer in rejected/; not reported');
      return this.#done(name, true);
    }
    const limit = this.limits.get(name) ?? this.maxBytes;
    const body = reportBody(describeParked(name, text), limit);
    let res;
    this.abort = new AbortController();
    try {
      res = await postToIngress({ url: this.url, secret: this.secret, body, timeoutMs: this.timeoutMs, abort: this.abort,
        dispatcher: this.dispatcher });
    } catch (err) {
      return this.#retryLater(err.reason);
    } finally {
      this.abort = null;
    }
    const answer = res.text;
    if (res.status >= 200 && res.status < 300) {
      // Counted first: ingress has it, whatever becomes of the marker (and idle() waiters see it).
      this.metrics?.inc('bridge_outbox_rejected_reported_total');
      this.logger.info({ file: name }, 'parked report: ingress raised wa.error for it');
      await this.#done(name, true);
    } else if (res.status === 413 && limit > MIN_REPORT_BYTES) {
      // Ingress (or Kafka behind it) takes less than we thought: the same report, smaller.
      this.limits.set(name, Math.max(MIN_REPORT_BYTES, Math.floor(limit / 2)));
      this.logger.warn({ file: name, bytes: body.length, nextLimit: this.limits.get(name) }, 'parked report: too large for ingress; sending a shorter copy of the payload');
    } else if (res.status === 400 || res.status === 413) {
      // Ingress refuses the report itself: a bug on one side, which retrying in this run cannot
      // fix. The marker stays, so a restart (after the fix) reports it; the others go on.
      this.metrics?.inc('bridge_outbox_rejected_report_errors_total', { status: res.status });
      this.logger.error({ file: name, status: res.status, response: answer.slice(0, 500) }, 'parked report: ingress refused the report; kept for the next start');
      await this.#done(name, false);
    } else {
      // 5xx, 401/403 (the secret), 404 (an ingress older than this endpoint), 408, 429: later.
      return this.#retryLater(`HTTP ${res.status}`);
    }
  }
}
