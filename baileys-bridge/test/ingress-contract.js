// What ingress accepts from the bridge: a JS model of ingress/baileys_normalize.c
// (ing_baileys_normalize) and of the Jansson parser it uses, so the property tests can
// check that whatever the bridge forwards is a body ingress takes.
// Keep in step with: ingress/baileys_normalize.c (media: the contract agreed for media items
// that could not be had, {url: null, …, unavailable}; ingress is being changed to it),
// common/wa_phone.c (wa_phone_e164),
// common/wa_outbound.h (WA_KEY_MAX), ingress/main.c (INGRESS_MAX_BODY default).
// This file is a helper, not a test file: it has no top-level side effects.

export const INGRESS_MAX_BODY = 524288; // INGRESS_MAX_BODY default; larger bodies get 413
export const WA_KEY_MAX = 200; // bytes
export const MEDIA_UNAVAILABLE_MAX = 500; // bytes of media.unavailable
const MAX_TS = 32503680000; // seconds, year 3000
const MESSAGE_TYPES = ['text', 'image', 'audio', 'video', 'document', 'sticker', 'location', 'contact', 'reaction', 'button', 'unknown'];
const STATUSES = ['sent', 'delivered', 'read', 'played', 'error'];
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

const bytes = (s) => Buffer.byteLength(s, 'utf8');

/**
 * What Jansson's json_loadb(..., JSON_REJECT_DUPLICATES) refuses in a text that JSON.parse
 * takes: "\u0000" (no JSON_ALLOW_NUL), lone surrogate escapes, integers outside int64.
 * Returns null or the reason.
 */
export function janssonRefusal(text) {
  let i = 0;
  const n = text.length;
  while (i < n) {
    const c = text[i];
    if (c === '"') {
      for (i++; i < n && text[i] !== '"'; i++) {
        if (text[i] !== '\\') continue;
        i++;
        if (text[i] !== 'u') continue;
        const u = parseInt(text.slice(i + 1, i + 5), 16);
        i += 4;
        if (u === 0) return '\\u0000 is not allowed';
        if (u >= 0xdc00 && u <= 0xdfff) return 'invalid Unicode (lone low surrogate)';
        if (u >= 0xd800 && u <= 0xdbff) {
          const next = text.slice(i + 1, i + 3) === '\\u' ? parseInt(text.slice(i + 3, i + 7), 16) : NaN;
          if (!(next >= 0xdc00 && next <= 0xdfff)) return 'invalid Unicode (lone high surrogate)';
          i += 6;
        }
      }
      i++;
      continue;
    }
    if (c === '-' || (c >= '0' && c <= '9')) {
      const m = /^-?\d+(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i, i + 400));
      const lit = m[0];
      if (!m[1] && !m[2]) {
        const v = BigInt(lit);
        if (v < INT64_MIN || v > INT64_MAX) return 'too big integer';
      }
      i += lit.length;
      continue;
    }
    i++;
  }
  return null;
}

/** A JS number that JSON.stringify writes as a literal Jansson reads as an integer. */
const isJsonInteger = (v) => typeof v === 'number' && Number.isInteger(v) && Math.abs(v) < 1e21;
const isJsonNumber = (v) => typeof v === 'number' && Number.isFinite(v);
const present = (o, k) => Object.prototype.hasOwnProperty.call(o, k) && o[k] !== null;

/** common/wa_phone.c wa_phone_e164: the normalized "+digits" or null. */
export function waPhoneE164(input) {
  let s = Buffer.from(input, 'utf8').toString('latin1'); // the C code walks bytes
  if (s.slice(0, 9).replace(/[A-Z]/g, (c) => c.toLowerCase()) === 'whatsapp:') s = s.slice(9);
  let digits = '';
  let plus = false;
  for (const c of s) {
    if (c >= '0' && c <= '9') {
      if (digits.length === 31) return null;
      digits += c;
    } else if (c === '+' && digits.length === 0 && !plus) plus = true;
    else if (' -().'.includes(c)) continue;
    else return null;
  }
  if (!plus && digits.length > 2 && digits.startsWith('00')) digits = digits.slice(2);
  if (digits.length < 8 || digits.length > 15 || digits[0] === '0') return null;
  return `+${digits}`;
}

function phoneFromJid(jid) {
  const at = jid.indexOf('@');
  if (at < 0 || jid.slice(at) !== '@s.whatsapp.net') return null;
  const user = /^[^:@]*/.exec(jid)[0];
  if (user.length === 0 || bytes(user) >= 24) return null;
  return waPhoneE164(user);
}

/**
 * ing_baileys_normalize() on the body the bridge would POST.
 * @param {string} body the JSON text (JSON.stringify of the payload)
 * @returns {{status: 200|400|413, kind?: 'message'|'status', reason?: string}}
 */
export function ingressVerdict(body) {
  if (bytes(body) > INGRESS_MAX_BODY) return { status: 413, reason: `body larger than ${INGRESS_MAX_BODY} bytes` };
  const no = (reason) => ({ status: 400, reason });
  const jr = janssonRefusal(body);
  if (jr) return no(`invalid JSON: ${jr}`);
  let root;
  try { root = JSON.parse(body); } catch (err) { return no(`invalid JSON: ${err.message}`); }
  if (!root || typeof root !== 'object' || Array.isArray(root)) return no('the body must be a JSON object');
  const optString = (o, k) => (present(o, k) && typeof o[k] !== 'string' ? `${k} must be a string` : null);

  for (const k of ['event', 'remoteJid', 'messageId', 'phone', 'lid', 'self']) {
    const e = optString(root, k);
    if (e) return no(e);
  }
  const event = present(root, 'event') ? root.event : 'message';
  if (event !== 'message' && event !== 'status') return no('event must be "message" or "status"');
  const jid = present(root, 'remoteJid') ? root.remoteJid : null;
  if (!jid || !jid.includes('@') || bytes(jid) > 128) return no('remoteJid is required (user@server)');
  if (jid === 'status@broadcast') return no('status broadcasts are not conversations');
  const id = present(root, 'messageId') ? root.messageId : null;
  if (!id || bytes(id) > 128) return no('messageId is required (1 to 128 characters)');
  if (present(root, 'timestamp')) {
    const ts = root.timestamp;
    if (!isJsonInteger(ts) || ts <= 0 || ts > MAX_TS) return no('timestamp must be a positive number of seconds');
  }
  if (present(root, 'phone')) {
    if (!waPhoneE164(root.phone)) return no('phone is not a phone number in E.164');
  } else if (!phoneFromJid(jid)) {
    return no('no phone number: give phone, or a remoteJid of user@s.whatsapp.net (a LID needs its phone mapping)');
  }
  // `self`, the session's own number (optional): a message's `to`; a receipt keeps it in raw only
  if (present(root, 'self') && !waPhoneE164(root.self)) return no('self is not a phone number in E.164');

  if (event === 'status') {
    for (const k of ['status', 'error', 'idempotencyKey']) {
      const e = optString(root, k);
      if (e) return no(e);
    }
    if (!present(root, 'status') || !STATUSES.includes(root.status)) return no('status must be one of sent, delivered, read, played, error');
    if (present(root, 'idempotencyKey')) {
      const key = root.idempotencyKey;
      if (!key || bytes(key) > WA_KEY_MAX) return no(`idempotencyKey must be 1 to ${WA_KEY_MAX} bytes`);
    }
    return { status: 200, kind: 'status' };
  }

  for (const k of ['type', 'text', 'pushName']) {
    const e = optString(root, k);
    if (e) return no(e);
  }
  if (!present(root, 'type') || !MESSAGE_TYPES.includes(root.type)) return no('type must be one of text, image, audio, video, document, sticker, location, contact, reaction, button, unknown');
  if (root.fromMe === true) return no('fromMe messages are our own sends, not inbound');
  if (present(root, 'media')) {
    // The media contract (bridge README "media"): an item is either available,
    // {url: "http(s)://…", mimetype, size}, or not, {url: null, mimetype, size, unavailable: "<reason>"}.
    // mimetype and size may be null or absent (WhatsApp did not give them).
    const m = root.media;
    if (!m || typeof m !== 'object' || Array.isArray(m)) return no('media must be an object {url, mimetype, size[, unavailable]}');
    if (present(m, 'mimetype') && typeof m.mimetype !== 'string') return no('media.mimetype must be a string or null');
    if (present(m, 'size') && !isJsonInteger(m.size)) return no('media.size must be an integer or null');
    if (present(m, 'size') && m.size < -1) return no('media.size must not be negative');
    if (present(m, 'unavailable')) {
      const u = m.unavailable;
      if (typeof u !== 'string' || u.length === 0 || bytes(u) > MEDIA_UNAVAILABLE_MAX) return no(`media.unavailable must be a string of 1 to ${MEDIA_UNAVAILABLE_MAX} bytes`);
    }
    if (present(m, 'url')) {
      if (typeof m.url !== 'string') return no('media.url must be a string or null');
      if (!m.url.startsWith('http://') && !m.url.startsWith('https://')) return no('media.url must be http(s)');
    } else if (!present(m, 'unavailable')) {
      return no('media.url is required unless media.unavailable says why the file is missing');
    }
  }
  if (present(root, 'location')) {
    const l = root.location;
    const coord = (v) => typeof v === 'string' || isJsonNumber(v);
    if (!l || typeof l !== 'object' || Array.isArray(l) || !coord(l.latitude) || !coord(l.longitude)) return no('location must have latitude and longitude');
  }
  return { status: 200, kind: 'message' };
}
