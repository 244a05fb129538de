// Durable outbox: every inbound message/receipt is written here (atomically) before
// it is POSTed to ingress, and deleted only after a 2xx. Order is kept per chat (one
// in-flight entry per chat); different chats do not block each other.
// A 4xx other than 401, 403, 408 and 429 is permanent (see isPermanent): the entry moves
// to rejected/ with ingress's answer recorded in it, and the chat's next entry goes out.
// 401/403 (a wrong secret: fixed by configuration), 408/429 (transient), 5xx and network
// errors are retried with capped backoff.
// Every parked entry gets a marker in to-report/, written before the outbox copy goes;
// onParked(name) hands it to the ParkedReporter (parked.js), which raises wa.error through ingress.
import fs from 'node:fs/promises';
import fsSync from 'node:fs';
import path from 'node:path';
import { writeFileAtomic, renameDurable, unlinkDurable } from './fsutil.js';
import { backoffDelay } from './backoff.js';
import { TO_REPORT, postToIngress } from './parked.js';

const NAME_RE = /^\d{20}\.json$/;
const RETRIED_4XX = new Set([401, 403, 408, 429]);
const RESPONSE_KEEP = 4096; // characters of ingress's answer kept with a rejected entry

/** An HTTP answer that retrying cannot change: any 4xx but 401, 403, 408 and 429. */
export function isPermanent(status) {
  return status >= 400 && status < 500 && !RETRIED_4XX.has(status);
}

export class Outbox {
  /**
   * @param {object} o
   * @param {string} o.dir       outbox directory (rejected/ lives inside)
   * @param {string} o.url       full ingress URL to POST to
   * @param {string} o.secret    X-BAILEYS-SECRET value
   * @param {object} [o.dispatcher] undici dispatcher for an https ingress with its own CA
   * @param {(entry, attempt) => Promise<object>} [o.prepare] finishes entries that have `pending`
   *        (media download); returns the final entry (without `pending`)
   * @param {(name) => void} [o.onParked] called once rejected/<name> and its marker are durable
   */
  constructor({ dir, url, secret, dispatcher, logger, metrics, prepare, onParked, baseBackoffMs = 500, maxBackoffMs = 30000, timeoutMs = 10000 }) {
    Object.assign(this, { dir, url, secret, dispatcher, logger, metrics, prepare, onParked, baseBackoffMs, maxBackoffMs, timeoutMs });
    this.rejectedDir = path.join(dir, 'rejected');
    this.toReportDir = path.join(dir, TO_REPORT);
    this.chats = new Map(); // chat -> { queue: [{name, entry}], busy, timer, attempt, abort }
    this.seq = 0;
    this.closed = false;
    this.idleWaiters = [];
  }

  async open() {
    fsSync.mkdirSync(this.rejectedDir, { recursive: true, mode: 0o700 });
    fsSync.mkdirSync(this.toReportDir, { recursive: true, mode: 0o700 });
    const names = (await fs.readdir(this.dir)).sort();
    let loaded = 0;
    for (const name of names) {
      const file = path.join(this.dir, name);
      if (name.endsWith('.tmp')) { await fs.rm(file, { force: true }); continue; } // torn write from a crash
      if (!NAME_RE.test(name)) continue;
      this.seq = Math.max(this.seq, Number(name.slice(0, 20)));
      let entry;
      try {
        entry = JSON.parse(await fs.readFile(file, 'utf8'));
      } catch (err) {
        this.logger.error({ file, err: err.message }, 'outbox entry unreadable; moved to rejected/');
        await this.#markToReport(name);
        await renameDurable(file, path.join(this.rejectedDir, name));
        this.onParked?.(name);
        continue;
      }
      this.#push(name, entry);
      loaded++;
    }
    this.seq = Math.max(this.seq, Date.now() * 1000);
    if (loaded) this.logger.info({ entries: loaded }, 'outbox: re-sending entries left from a previous run');
    this.#gauge();
    for (const chat of this.chats.keys()) this.#kick(chat);
  }

  get depth() {
    let n = 0;
    for (const c of this.chats.values()) n += c.queue.length;
    return n;
  }

  /** Durably store an entry {chat, payload, pending?}, then schedule delivery. */
  async enqueue(entry) {
    const name = String(++this.seq).padStart(20, '0') + '.json';
    await writeFileAtomic(path.join(this.dir, name), JSON.stringify(entry));
    this.#push(name, entry);
    this.#gauge();
    this.#kick(entry.chat);
    return name;
  }

  /** Resolves when the outbox is empty (tests, graceful shutdown). */
  idle() {
    if (this.depth === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  close() {
    this.closed = true;
    for (const c of this.chats.values()) {
      clearTimeout(c.timer);
      c.abort?.abort();
    }
  }

  #push(name, entry) {
    const chat = entry.chat || '_';
    if (!this.chats.has(chat)) this.chats.set(chat, { queue: [], busy: false, timer: null, attempt: 0, abort: null });
    this.chats.get(chat).queue.push({ name, entry });
  }

  /** The marker that has the parked entry reported; written before the outbox copy goes, so a
   * crash in between leaves the entry to be parked (and marked) again. */
  async #markToReport(name) {
    await writeFileAtomic(path.join(this.toReportDir, name), '');
  }

  #gauge() {
    this.metrics?.set('bridge_outbox_depth', this.depth);
    if (this.depth === 0) this.idleWaiters.splice(0).forEach((r) => r());
  }

  #kick(chat) {
    const c = this.chats.get(chat);
    if (!c || c.busy || c.timer || this.closed) return;
    if (c.queue.length === 0) { this.chats.delete(chat); return; }
    c.busy = true;
    this.#deliverHead(chat, c).catch((err) => this.logger.error({ err: err.message }, 'outbox: unexpected error'))
      .finally(() => { c.busy = false; if (!c.timer) this.#kick(chat); });
  }

  #retryLater(chat, c, reason) {
    if (this.closed) return;
    const delay = backoffDelay(c.attempt, { baseMs: this.baseBackoffMs, maxMs: this.maxBackoffMs });
    c.attempt++;
    this.metrics?.inc('bridge_outbox_retries_total');
    this.logger.warn({ chat, attempt: c.attempt, retryInMs: delay, reason }, 'outbox: delivery failed, will retry');
    c.timer = setTimeout(() => { c.timer = null; this.#kick(chat); }, delay);
    c.timer.unref();
  }

  async #deliverHead(chat, c) {
    const item = c.queue[0];
    const file = path.join(this.dir, item.name);
    if (item.entry.pending && this.prepare) {
      try {
        item.entry = await this.prepare(item.entry, c.attempt);
      } catch (err) {
        return this.#retryLater(chat, c, `prepare: ${err.message}`);
      }
      await writeFileAtomic(file, JSON.stringify(item.entry));
    }
    if (this.closed) return;
    let res;
    c.abort = new AbortController();
    try {
      res = await postToIngress({ url: this.url, secret: this.secret, body: JSON.stringify(item.entry.payload),
        timeoutMs: this.timeoutMs, abort: c.abort, dispatcher: this.dispatcher });
    } catch (err) {
      return this.#retryLater(chat, c, err.reason);
    } finally {
      c.abort = null;
    }
    const { text } = res;
    if (res.status >= 200 && res.status < 300) {
      await unlinkDurable(file);
      c.queue.shift();
      c.attempt = 0;
      this.metrics?.inc('bridge_inbound_forwarded_total', { event: item.entry.payload.event });
      this.logger.debug({ chat, messageId: item.entry.payload.messageId, event: item.entry.payload.event }, 'outbox: delivered');
    } else if (isPermanent(res.status)) {
      // The entry as it was, plus why: {status, response, at}. Written whole to rejected/
      // before the outbox copy goes, so a crash in between at worst sends it once more.
      const to = path.join(this.rejectedDir, item.name);
      const rejected = { status: res.status, response: text.slice(0, RESPONSE_KEEP), at: new Date().toISOString() };
      await writeFileAtomic(to, JSON.stringify({ ...item.entry, rejected }));
      await this.#markToReport(item.name);
      await unlinkDurable(file);
      c.queue.shift();
      c.attempt = 0;
      this.metrics?.inc('bridge_outbox_rejected_total', { status: res.status });
      this.logger.warn({ chat, messageId: item.entry.payload.messageId, event: item.entry.payload.event, status: res.status, response: text.slice(0, 500), file: to },
        `outbox: ingress refused the entry for good (${res.status}); moved to rejected/, to be reported as wa.error; the chat's next entry goes on`);
      this.onParked?.(item.name);
    } else {
      const hint = res.status === 401 || res.status === 403 ? ' (ingress refuses X-BAILEYS-SECRET: check BAILEYS_WEBHOOK_SECRET on both sides)' : '';
      return this.#retryLater(chat, c, `HTTP ${res.status}${hint}`);
    }
    this.#gauge();
  }
}
