// POST /send: validation, idempotency (durable idempotencyKey → messageId), pacing,
// and the durable store of sent messages that Baileys' getMessage serves retries from.
import crypto from 'node:crypto';
import path from 'node:path';
import { BufferJSON, generateMessageIDV2, proto } from 'baileys';
import { FileStore } from './fsutil.js';

export class HttpError extends Error {
  constructor(status, body) { super(body.error); this.status = status; this.body = body; }
}
const bad = (reason) => new HttpError(400, { ok: false, error: 'bad_request', reason });

/** Per-second token bucket; take() returns 0 when allowed, else ms until a token is free. */
export class RateLimiter {
  constructor(perSecond) { this.rate = perSecond; this.tokens = Math.max(1, perSecond); this.last = Date.now(); }
  take() {
    const now = Date.now();
    this.tokens = Math.min(Math.max(1, this.rate), this.tokens + ((now - this.last) / 1000) * this.rate);
    this.last = now;
    if (this.tokens >= 1) { this.tokens -= 1; return 0; }
    return Math.ceil(((1 - this.tokens) / this.rate) * 1000);
  }
}

const EXT_KIND = {
  jpg: ['image', 'image/jpeg'], jpeg: ['image', 'image/jpeg'], png: ['image', 'image/png'], webp: ['image', 'image/webp'],
  mp4: ['video', 'video/mp4'], '3gp': ['video', 'video/3gpp'],
  ogg: ['audio', 'audio/ogg; codecs=opus'], opus: ['audio', 'audio/ogg; codecs=opus'], mp3: ['audio', 'audio/mpeg'], m4a: ['audio', 'audio/mp4'], aac: ['audio', 'audio/aac'],
  pdf: ['document', 'application/pdf'],
};

/** Map +E.164 / digits / a JID to a JID. */
export function toJid(to) {
  if (typeof to !== 'string' || !to.trim()) throw bad('"to" is required: an E.164 number like +972501234567 or a WhatsApp JID');
  const t = to.trim();
  if (t.includes('@')) {
    if (!/^[0-9A-Za-z.:_-]+@(s\.whatsapp\.net|lid|g\.us)$/.test(t)) throw bad(`"to" is not a supported JID: ${t}`);
    return t;
  }
  const digits = t.replace(/^\+/, '').replace(/[\s\-()]/g, '');
  if (!/^[1-9]\d{6,14}$/.test(digits)) throw bad(`"to" is not an E.164 number: ${t}`);
  return `${digits}@s.whatsapp.net`;
}

/** Validate the body and build Baileys' AnyMessageContent. */
export function buildContent(body) {
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw bad('body must be a JSON object');
  const { type, text, mediaUrl, caption, mimetype, fileName } = body;
  if (typeof body.idempotencyKey !== 'string' || !body.idempotencyKey.trim() || body.idempotencyKey.length > 256) {
    throw bad('"idempotencyKey" is required (a non-empty string of at most 256 characters)');
  }
  const jid = toJid(body.to);
  if (type === 'text') {
    if (typeof text !== 'string' || !text.trim()) throw bad('"text" is required for type "text"');
    if (text.length > 65536) throw bad('"text" is longer than 65536 characters');
    return { jid, content: { text } };
  }
  if (type === 'media') {
    if (mediaUrl === undefined || mediaUrl === null || mediaUrl === '') throw bad('"mediaUrl" is required for type "media" (an http or https URL)');
    // a string only: new URL() would take anything whose String() is a URL (["https://…"], an object with toString)
    if (typeof mediaUrl !== 'string') throw bad(`"mediaUrl" must be a string (an http or https URL), got ${Array.isArray(mediaUrl) ? 'an array' : typeof mediaUrl}`);
    let u;
    try { u = new URL(mediaUrl); } catch { throw bad('"mediaUrl" is not a valid URL (an http or https URL is required)'); }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw bad('"mediaUrl" must be http or https');
    if (caption !== undefined && caption !== null && typeof caption !== 'string') throw bad('"caption" must be a string');
    if (fileName !== undefined && fileName !== null && typeof fileName !== 'string') {
      throw bad(`"fileName" must be a string, got ${Array.isArray(fileName) ? 'an array' : typeof fileName}`);
    }
    const ext = path.extname(u.pathname).slice(1).toLowerCase();
    const [guessKind, guessMime] = EXT_KIND[ext] || ['document', 'application/octet-stream'];
    const mime = typeof mimetype === 'string' && mimetype ? mimetype : guessMime;
    const kind = typeof mimetype === 'string' && mimetype ? (['image', 'video', 'audio'].find((k) => mime.startsWith(`${k}/`)) || 'document') : guessKind;
    const src = { url: u.toString() };
    const cap = caption || undefined;
    if (kind === 'image') return { jid, content: { image: src, caption: cap, mimetype: mime } };
    if (kind === 'video') return { jid, content: { video: src, caption: cap, mimetype: mime } };
    if (kind === 'audio') return { jid, content: { audio: src, mimetype: mime } };
    return { jid, content: { document: src, mimetype: mime, fileName: fileName || path.basename(u.pathname) || 'file', caption: cap } };
  }
  throw bad('"type" must be "text" or "media"');
}

/** Why the media fetch was refused (the SSRF guard, the size limit), or null. */
export function mediaRefusal(err) {
  for (let e = err, depth = 0; e && depth < 8; e = e.cause, depth++) {
    if (e.code === 'MEDIA_URL_REFUSED') return e.message;
    if (e.code === 'UND_ERR_RES_EXCEEDED_MAX_SIZE') return 'media URL refused: the file is larger than BRIDGE_MEDIA_MAX_BYTES';
  }
  return null;
}

export function createSender({ stateDir, getSock, isConnected, rate, logger, metrics }) {
  const idem = new FileStore(path.join(stateDir, 'idempotency'));
  const sent = new FileStore(path.join(stateDir, 'sent'), { replacer: BufferJSON.replacer, reviver: BufferJSON.reviver });
  // WhatsApp message id → the caller's idempotencyKey, so a receipt can name the
  // message the caller knows (it may arrive before the caller has recorded our id).
  // Not fsynced: a crash that loses one only costs its receipts the shortcut.
  const keys = new FileStore(path.join(stateDir, 'sent-keys'), { durable: false });
  const limiter = new RateLimiter(rate);
  const inflight = new Map();
  const idemKey = (k) => crypto.createHash('sha256').update(k).digest('hex');

  async function sendOnce(body) {
    const { jid, content } = buildContent(body);
    const ik = idemKey(body.idempotencyKey);
    const rec = await idem.get(ik);
    if (rec?.state === 'sent') {
      logger.info({ messageId: rec.messageId }, 'send: repeated idempotencyKey, returning the first messageId');
      return { status: 200, body: { ok: true, messageId: rec.messageId, duplicate: true } };
    }
    if (!isConnected()) {
      // An earlier attempt with this key was handed to Baileys and never concluded (the bridge
      // stopped, or Baileys threw after it may have sent): the caller must not take this
      // message elsewhere, only ask again later with the same key.
      const earlier = rec?.state === 'sending';
      metrics?.inc('bridge_send_errors_total', { reason: earlier ? 'not_connected_after_attempt' : 'not_connected' });
      throw new HttpError(503, { ok: false, error: 'not_connected', ...(earlier ? { earlierAttempt: 'unknown' } : {}) });
    }
    const wait = limiter.take();
    if (wait > 0) {
      metrics?.inc('bridge_send_errors_total', { reason: 'rate_limited' });
      throw new HttpError(429, { ok: false, error: 'rate_limited', retryAfterMs: wait });
    }
    // Reserve the id before the send: after a crash mid-send, a retry re-sends with the
    // SAME WhatsApp message id (the recipient's client drops a repeated id) instead of a new one.
    const messageId = rec?.messageId || generateMessageIDV2(getSock()?.user?.id);
    await idem.set(ik, { state: 'sending', messageId, to: jid, at: new Date().toISOString() });
    await keys.set(messageId, { idempotencyKey: body.idempotencyKey });
    let m;
    try {
      m = await getSock().sendMessage(jid, content, { messageId });
    } catch (err) {
      // The media URL was refused before anything reached WhatsApp: provably not sent, and
      // sending again will not help.
      const refusal = mediaRefusal(err);
      if (refusal) {
        metrics?.inc('bridge_send_errors_total', { reason: 'media_refused' });
        logger.warn({ messageId, reason: refusal }, 'send: media URL refused');
        throw new HttpError(400, { ok: false, error: 'media_refused', reason: refusal });
      }
      metrics?.inc('bridge_send_errors_total', { reason: 'send_failed' });
      logger.warn({ messageId, err: err.message, code: err?.output?.statusCode }, 'send: Baileys sendMessage failed');
      throw new HttpError(502, { ok: false, error: 'send_failed', detail: err.message, retryable: true });
    }
    const finalId = m?.key?.id || messageId;
    if (finalId !== messageId) await keys.set(finalId, { idempotencyKey: body.idempotencyKey });
    if (m?.message) await sent.set(finalId, proto.Message.toObject(proto.Message.fromObject(m.message), { longs: Number, bytes: Buffer }));
    await idem.set(ik, { state: 'sent', messageId: finalId, to: jid, at: new Date().toISOString() });
    metrics?.inc('bridge_sends_total', { type: body.type });
    logger.info({ messageId: finalId, type: body.type }, 'send: handed to WhatsApp');
    return { status: 200, body: { ok: true, messageId: finalId } };
  }

  /** Returns {status, body}; concurrent calls with one key share one attempt. */
  async function send(body) {
    const key = typeof body?.idempotencyKey === 'string' ? body.idempotencyKey : null;
    if (key && inflight.has(key)) return inflight.get(key);
    const p = sendOnce(body).catch((err) => {
      if (err instanceof HttpError) return { status: err.status, body: err.body };
      logger.error({ err: err.message }, 'send: internal error');
      return { status: 500, body: { ok: false, error: 'internal' } };
    });
    if (key) {
      inflight.set(key, p);
      p.finally(() => inflight.delete(key));
    }
    return p;
  }

  /** For Baileys' getMessage: the proto.IMessage we sent, so a retry can be re-encrypted. */
  async function getMessage(key) {
    const v = key?.id ? await sent.get(key.id) : undefined;
    return v ? proto.Message.fromObject(v) : undefined;
  }

  /** The idempotencyKey a message was sent with, or undefined (sent from the phone). */
  async function keyFor(messageId) {
    return messageId ? (await keys.get(messageId))?.idempotencyKey : undefined;
  }

  return { send, getMessage, keyFor };
}
