// Inbound handlers: messages.upsert (notify AND append), messages.update (receipts),
// message-receipt.update (group receipts). Everything that is forwarded goes through
// the durable outbox; the payload is built field by field (JSON.stringify of a proto
// instance drops remoteJidAlt and turns Longs into strings).
import http from 'node:http';
import {
  proto, normalizeMessageContent, getContentType, toNumber, jidDecode, jidNormalizedUser,
  isJidGroup, isJidStatusBroadcast, isJidBroadcast, isJidNewsletter, isLidUser, isPnUser,
} from 'baileys';
import { mediaIdFor, httpStatusOf, MediaTooLarge } from './media.js';

const S = proto.WebMessageInfo.Status;
export const STATUS_NAMES = { [S.ERROR]: 'error', [S.SERVER_ACK]: 'sent', [S.DELIVERY_ACK]: 'delivered', [S.READ]: 'read', [S.PLAYED]: 'played' };

const TYPE_BY_CONTENT = {
  conversation: 'text', extendedTextMessage: 'text',
  imageMessage: 'image', audioMessage: 'audio', videoMessage: 'video', ptvMessage: 'video',
  documentMessage: 'document', stickerMessage: 'sticker',
  locationMessage: 'location', liveLocationMessage: 'location',
  contactMessage: 'contact', contactsArrayMessage: 'contact',
  reactionMessage: 'reaction',
  buttonsResponseMessage: 'button', templateButtonReplyMessage: 'button', listResponseMessage: 'button', interactiveResponseMessage: 'button',
};
const MEDIA_TYPES = new Set(['image', 'audio', 'video', 'document', 'sticker']);
// Signalling, not conversation: never forwarded.
const SILENT_CONTENT = new Set(['protocolMessage', 'senderKeyDistributionMessage', 'messageContextInfo', 'keepInChatMessage', 'pinInChatMessage', 'encReactionMessage', 'pollUpdateMessage']);

/** A bounded insertion-ordered set/map. */
class Bounded extends Map {
  constructor(max) { super(); this.max = max; }
  set(k, v) {
    if (this.has(k)) this.delete(k);
    super.set(k, v);
    if (this.size > this.max) this.delete(this.keys().next().value);
    return this;
  }
}

export const phoneFromJid = (jid) => (jid && isPnUser(jid) ? `+${jidDecode(jid).user}` : null);

/**
 * The linked account's own number, "+E.164", from the socket's user id
 * ("972500000001:12@s.whatsapp.net": the part after ':' is our device). Ingress records it as
 * the message's `to`, the channel a message came in on. Null when not logged in yet, and when
 * the user is not 8 to 15 digits (ingress's rule): a `self` ingress refuses would park every
 * message of this session, while one without `self` is still taken.
 */
export function selfPhone(sock) {
  const id = sock?.user?.id;
  if (typeof id !== 'string' || !isPnUser(id)) return null;
  const user = jidDecode(id)?.user;
  return typeof user === 'string' && /^[1-9]\d{7,14}$/.test(user) ? `+${user}` : null;
}

export function textOf(c, t) {
  if (!c || !t) return null;
  const m = c[t];
  switch (t) {
    case 'conversation': return c.conversation || null;
    case 'extendedTextMessage': return m.text ?? null;
    case 'reactionMessage': return m.text ?? null;
    case 'contactMessage': return m.displayName ?? null;
    case 'contactsArrayMessage': return m.displayName ?? null;
    case 'locationMessage': case 'liveLocationMessage': return m.name ?? m.caption ?? null;
    case 'buttonsResponseMessage': return m.selectedDisplayText ?? m.selectedButtonId ?? null;
    case 'templateButtonReplyMessage': return m.selectedDisplayText ?? m.selectedId ?? null;
    case 'listResponseMessage': return m.title ?? m.singleSelectReply?.selectedRowId ?? null;
    case 'interactiveResponseMessage': return m.body?.text ?? null;
    default: return (m && typeof m === 'object' && m.caption) || null;
  }
}

const numOrNull = (v) => (v === null || v === undefined ? null : toNumber(v));
/** A size ingress can hold: a safe non-negative integer, else null (a u64 past 2^53 is not exact). */
const sizeOrNull = (v) => {
  const n = numOrNull(v);
  return Number.isSafeInteger(n) && n >= 0 ? n : null;
};

export const DOWNLOAD_TRIES = 5;
export const UNAVAILABLE_MAX_BYTES = 500;

/**
 * media.unavailable text: one line, no control characters, well-formed UTF-16 (Jansson
 * refuses lone surrogates and U+0000), at most UNAVAILABLE_MAX_BYTES bytes of UTF-8.
 */
export function unavailableReason(text) {
  const s = String(text).replace(/[\u0000-\u001f\u007f\s]+/g, ' ').toWellFormed().trim() || 'unknown';
  if (Buffer.byteLength(s, 'utf8') <= UNAVAILABLE_MAX_BYTES) return s;
  let out = '';
  let n = 3; // room for the "..."
  for (const ch of s) {
    n += Buffer.byteLength(ch, 'utf8');
    if (n > UNAVAILABLE_MAX_BYTES) break;
    out += ch;
  }
  return `${out}...`;
}

/** Why a download failed, short: "410 Gone", "ECONNREFUSED", or the error's message. */
export function describeDownloadError(err) {
  // a Boom without data.url is not an HTTP answer (Boom defaults to 500)
  const status = err?.isBoom ? (err.data?.url ? httpStatusOf(err) : null) : httpStatusOf(err);
  if (Number.isInteger(status)) return `${status}${http.STATUS_CODES[status] ? ` ${http.STATUS_CODES[status]}` : ''}`;
  const d = String(err?.cause?.code || err?.code || err?.message || err).replace(/[\u0000-\u001f\u007f\s]+/g, ' ').trim().slice(0, 200);
  return d || 'unknown error';
}

export function createInbound({ getSock, outbox, config, logger, metrics, mediaUrl, media, keyFor }) {
  const seen = new Bounded(20000); // (remoteJid|id) already forwarded
  const heldStubs = new Bounded(5000); // (remoteJid|id) → stub info, waiting for the real message
  const lastStatus = new Bounded(50000); // messageId → highest status forwarded
  let chain = Promise.resolve();
  const serial = (fn) => (chain = chain.then(fn).catch((err) => logger.error({ err: err.message, stack: err.stack }, 'inbound handler failed')));

  /** Adds `self`, our number, to a payload when the socket knows it (else it is left out). */
  let warnedSelf = false;
  const addSelf = (payload) => {
    const sock = getSock();
    const self = selfPhone(sock);
    if (self) payload.self = self;
    else if (sock?.user?.id && !warnedSelf) {
      // logged in, but as nothing ingress takes for a number: say so once, forward without it
      warnedSelf = true;
      logger.warn({ userId: String(sock.user.id) }, 'inbound: our own user id is not an 8-15 digit phone number; payloads go without "self"');
    }
    return payload;
  };

  const skip = (reason, key) => {
    metrics?.inc('bridge_inbound_skipped_total', { reason });
    logger.debug({ reason, remoteJid: key?.remoteJid, messageId: key?.id }, 'inbound: skipped');
  };

  /** Resolve the sender's phone (E.164 with '+') and LID; only mappings Baileys already knows. */
  async function resolveContact(jid, alt) {
    let lid = null;
    let pnJid = null;
    if (jid && isLidUser(jid)) {
      lid = jidNormalizedUser(jid);
      if (alt && isPnUser(alt)) pnJid = alt;
      else {
        try {
          pnJid = await getSock()?.signalRepository?.lidMapping?.getPNForLID(jid) ?? null;
        } catch (err) {
          logger.debug({ err: err.message, lid }, 'LID → PN lookup failed');
        }
      }
    } else if (jid && isPnUser(jid)) {
      pnJid = jid;
      if (alt && isLidUser(alt)) lid = jidNormalizedUser(alt);
    }
    // getPNForLID returns "<user>:<device>@s.whatsapp.net"; normalise before use
    return { phone: pnJid ? phoneFromJid(jidNormalizedUser(pnJid)) : null, lid };
  }

  function allowedChat(jid, key) {
    if (isJidStatusBroadcast(jid)) return skip('status_broadcast', key), false;
    if (isJidBroadcast(jid) || isJidNewsletter(jid)) return skip('broadcast', key), false;
    if (isJidGroup(jid) && !config.groups) return skip('group', key), false;
    return true;
  }

  async function handleMessage(msg, upsertType) {
    const key = msg?.key;
    if (!key?.remoteJid || !key.id) return skip('no_key', key);
    const jid = key.remoteJid;
    if (key.fromMe) return skip('own_echo', key);
    if (!allowedChat(jid, key)) return;
    const k = `${jid}|${key.id}`;
    if (seen.has(k)) return skip('duplicate', key);

    const stubType = msg.messageStubType ?? 0;
    if (!msg.message) {
      if (stubType === proto.WebMessageInfo.StubType.CIPHERTEXT || stubType === 0) {
        heldStubs.set(k, { at: Date.now(), params: msg.messageStubParameters || [] });
        metrics?.inc('bridge_inbound_skipped_total', { reason: 'stub_held' });
        logger.info({ remoteJid: jid, messageId: key.id, params: msg.messageStubParameters }, 'inbound: decryption stub held until the real message arrives');
        return;
      }
      return skip('stub_event', key);
    }
    const content = normalizeMessageContent(msg.message);
    const ctype = getContentType(content);
    if (!ctype || SILENT_CONTENT.has(ctype)) return skip('signalling', key);
    const type = TYPE_BY_CONTENT[ctype] || 'unknown';

    const sender = isJidGroup(jid) ? key.participant : jid;
    const senderAlt = isJidGroup(jid) ? key.participantAlt : key.remoteJidAlt;
    const { phone, lid } = await resolveContact(sender, senderAlt);

    const payload = {
      event: 'message',
      remoteJid: jid,
      messageId: key.id,
      timestamp: numOrNull(msg.messageTimestamp) ?? Math.floor(Date.now() / 1000),
      type,
      text: textOf(content, ctype),
      media: null,
      pushName: msg.pushName || null,
      phone,
      lid,
      fromMe: false,
    };
    if (isJidGroup(jid)) payload.participant = sender ? jidNormalizedUser(sender) : null;
    if (type === 'location') {
      const l = content[ctype];
      payload.location = { latitude: l.degreesLatitude ?? null, longitude: l.degreesLongitude ?? null, name: l.name ?? null, address: l.address ?? null };
    }
    const entry = { chat: jid, payload: addSelf(payload) };
    if (MEDIA_TYPES.has(type)) {
      const m = content[ctype];
      const id = mediaIdFor(key);
      payload.media = { mimetype: m.mimetype ?? null, size: sizeOrNull(m.fileLength), url: mediaUrl(id), fileName: m.fileName ?? null };
      // keep what is needed to download (and re-upload) after a crash
      entry.pending = { mediaId: id, raw: Buffer.from(proto.WebMessageInfo.encode(msg).finish()).toString('base64') };
    }
    await outbox.enqueue(entry);
    seen.set(k, true);
    if (heldStubs.delete(k)) logger.info({ remoteJid: jid, messageId: key.id }, 'inbound: real message arrived for a held stub');
    logger.info({ remoteJid: jid, messageId: key.id, type, upsertType }, 'inbound: queued for ingress');
  }

  /**
   * Outbox hook: finish a media entry by downloading the file into the cache. A file that
   * cannot be had (over the size cap, or DOWNLOAD_TRIES failed downloads) does not hold up
   * the message: it is forwarded with media {url: null, mimetype, size, unavailable: why}.
   */
  async function prepare(entry, attempt) {
    const { mediaId, raw } = entry.pending;
    const msg = proto.WebMessageInfo.decode(Buffer.from(raw, 'base64'));
    const payload = { ...entry.payload, media: { ...entry.payload.media } };
    const unavailable = (why) => {
      payload.media.url = null;
      payload.media.unavailable = unavailableReason(why);
    };
    try {
      const meta = await media.fetch(mediaId, msg, getSock(), payload.media);
      payload.media.size = meta.size;
    } catch (err) {
      if (err instanceof MediaTooLarge || err?.code === 'MEDIA_TOO_LARGE') {
        logger.warn({ chat: entry.chat, messageId: payload.messageId, reason: err.message }, 'inbound: media over BRIDGE_INBOUND_MEDIA_MAX_BYTES, not stored; forwarding it as unavailable');
        unavailable(err.reason || err.message);
      } else if (attempt < DOWNLOAD_TRIES - 1) {
        throw err;
      } else {
        // give up on the file, not on the message
        const why = `download_failed: ${describeDownloadError(err)} after ${attempt + 1} tries`;
        logger.error({ chat: entry.chat, messageId: payload.messageId, err: err.message, reason: why }, 'inbound: media download failed; forwarding it as unavailable');
        unavailable(why);
      }
    }
    return { chat: entry.chat, payload };
  }

  async function handleStatus(key, status, ts, extra = {}) {
    const name = STATUS_NAMES[status];
    if (!name) return;
    const lk = extra.participant ? `${key.id}|${extra.participant}` : key.id;
    const prev = lastStatus.get(lk);
    if (status !== S.ERROR && prev !== undefined && status <= prev) return skip('status_not_newer', key);
    lastStatus.set(lk, Math.max(prev ?? 0, status));
    const who = extra.participant || key.remoteJid;
    const { phone } = await resolveContact(who, null);
    const payload = {
      event: 'status', remoteJid: key.remoteJid, messageId: key.id, status: name,
      timestamp: ts || Math.floor(Date.now() / 1000), phone, ...extra,
    };
    // Our own sends carry the caller's key, so the receipt finds its message
    // even before the caller has recorded WhatsApp's id.
    const idempotencyKey = keyFor ? await keyFor(key.id) : undefined;
    if (idempotencyKey) payload.idempotencyKey = idempotencyKey;
    await outbox.enqueue({ chat: key.remoteJid, payload: addSelf(payload) });
  }

  function onUpsert({ messages, type }) {
    return serial(async () => {
      for (const msg of messages || []) await handleMessage(msg, type);
    });
  }

  function onUpdate(updates) {
    return serial(async () => {
      for (const { key, update } of updates || []) {
        if (update?.status === undefined || update.status === null || !key?.id) continue; // edits, polls, stub params
        if (!key.fromMe) continue; // our own devices reading inbound messages
        if (!allowedChat(key.remoteJid, key)) continue;
        const extra = {};
        if (update.status === S.ERROR && update.messageStubParameters?.length) extra.errorCode = String(update.messageStubParameters[0]);
        const ts = numOrNull(update.messageTimestamp);
        await handleStatus(key, update.status, ts > 0 ? ts : null, extra);
      }
    });
  }

  function onReceipt(receipts) {
    return serial(async () => {
      for (const { key, receipt } of receipts || []) {
        if (!key?.id || !receipt || !allowedChat(key.remoteJid, key)) continue;
        const status = receipt.playedTimestamp ? S.PLAYED : receipt.readTimestamp ? S.READ : S.DELIVERY_ACK;
        const ts = numOrNull(receipt.playedTimestamp ?? receipt.readTimestamp ?? receipt.receiptTimestamp);
        // per participant, so keyed apart in the monotonic filter
        await handleStatus(key, status, ts, { participant: receipt.userJid });
      }
    });
  }

  function attach(ev) {
    ev.on('messages.upsert', onUpsert);
    ev.on('messages.update', onUpdate);
    ev.on('message-receipt.update', onReceipt);
  }

  /** Resolves once every event taken so far has been handled (those queued meanwhile too). */
  async function idle() {
    for (let seen; seen !== chain;) {
      seen = chain;
      await seen;
    }
  }

  return { attach, onUpsert, onUpdate, onReceipt, prepare, idle, heldStubs };
}
