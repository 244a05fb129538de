// hosted.mjs - inbound media served the way Twilio serves it ("Enforce HTTP Auth on Media URLs";
// twilio/twilio-ruby issue #198; codeforamerica/vita-min PR #563):
//
//   GET https://api.twilio.com/2010-04-01/Accounts/AC…/Messages/MM…/Media/ME…   (Basic auth)
//     -> 307, body application/xml, Location: a signed URL on the CDN host (valid 4 h)
//   GET <cdn>/cdn/<token>?Expires=…&Signature=…                                 (no auth)
//     -> 200 with the bytes, Content-Type, Content-Length, Content-Disposition
//
// The API half is served by the main listener, the CDN half by a second listener on another
// port (another origin), so a client that forwards its credentials across the redirect is caught
// by the CDN's request log. Every behaviour can be bent per item (auth, redirect target, hop
// count, forced statuses, transient CDN failures) to test the receiver's fetch code.
import crypto from 'node:crypto';
import { pipeline } from 'node:stream';
import { errorBody, FAULT_CODES, FAULT_MESSAGES, SYNC } from './errors.mjs';
import { basicAuth, HttpError, preciseNow, rfc2822 } from './http.mjs';
import { contentDisposition, contentStream, digest, extensionFor, KINDS, messageTypeFor } from './content.mjs';

export const MEDIA_PATH = /^\/2010-04-01\/Accounts\/([^/]+)\/Messages\/([^/]+)\/Media\/([^/.]+)(\.json)?$/;
export const CDN_TTL_MS = 4 * 60 * 60 * 1000; // Twilio's signed media URLs last 4 hours
const MAX_SIZE = 4 * 1024 ** 3;
const MAX_HOPS = 20;
const hex32 = () => crypto.randomBytes(16).toString('hex');
const SID_MM = /^(MM|SM)[0-9a-fA-F]{32}$/;
const BASE_URL = /^https?:\/\/[^/?#\s]+$/;

// Options of POST /sim/media and their checks; an unknown key is a 400 (typos would otherwise
// silently give default behaviour).
const OPTION_CHECKS = {
  base64: (v) => typeof v === 'string' && /^[A-Za-z0-9+/=\s_-]*$/.test(v),
  size: (v) => Number.isSafeInteger(v) && v >= 0 && v <= MAX_SIZE,
  seed: (v) => typeof v === 'string' || Number.isFinite(v),
  kind: (v) => Object.hasOwn(KINDS, v),
  contentType: (v) => typeof v === 'string' && /^[\w.+-]+\/[\w.+-]+(\s*;.*)?$/.test(v),
  // Any name, hostile ones included, but no control characters (they cannot go in a header).
  filename: (v) => typeof v === 'string' && v.length > 0 && !/[\x00-\x1f\x7f]/.test(v),
  messageSid: (v) => typeof v === 'string' && SID_MM.test(v),
  publicBase: (v) => typeof v === 'string' && BASE_URL.test(v.replace(/\/+$/, '')),
  cdnPublicBase: (v) => typeof v === 'string' && BASE_URL.test(v.replace(/\/+$/, '')),
  auth: (v) => typeof v === 'boolean',
  redirect: (v) => ['cdn', 'none', 'elsewhere'].includes(v),
  location: (v) => typeof v === 'string' && URL.canParse(v),
  hops: (v) => Number.isInteger(v) && v >= 1 && v <= MAX_HOPS,
  status: (v) => v === null || (Number.isInteger(v) && v >= 400 && v <= 599),
  cdnStatus: (v) => v === null || (Number.isInteger(v) && v >= 400 && v <= 599),
  cdnFailures: (v) => Number.isInteger(v) && v >= 0,
  cdnTtlMs: (v) => Number.isFinite(v) && v > 0,
  cdnRejectAuth: (v) => typeof v === 'boolean',
  bytesPerSecond: (v) => Number.isFinite(v) && v >= 1024,
};

export function parseMediaOptions(body) {
  for (const [k, v] of Object.entries(body)) {
    if (!OPTION_CHECKS[k]) throw new HttpError(400, `unknown option ${k}`);
    if (!OPTION_CHECKS[k](v)) throw new HttpError(400, `bad value for ${k}: ${JSON.stringify(v)}`);
  }
  const hasB64 = body.base64 !== undefined;
  if (hasB64 === (body.size !== undefined)) throw new HttpError(400, 'give exactly one of base64 or size');
  if (hasB64 && (body.kind !== undefined || body.seed !== undefined)) {
    throw new HttpError(400, 'kind and seed apply to generated content (size), not base64');
  }
  const redirect = body.redirect ?? 'cdn';
  if ((redirect === 'elsewhere') !== (body.location !== undefined)) {
    throw new HttpError(400, 'location goes with redirect "elsewhere", and only with it');
  }
  return { ...body, redirect };
}

// S3-style XML error, as the CDN (an S3 bucket behind Twilio's domain) would answer.
const s3Error = (code, message) => `<?xml version="1.0" encoding="UTF-8"?>\n`
  + `<Error><Code>${code}</Code><Message>${message}</Message></Error>\n`;

export class MediaHost {
  // apiBase() / cdnBase(): the listeners' own http://host:port, known only once they listen.
  constructor({ accountSid, authToken, apiBase, cdnBase, log = () => {} }) {
    Object.assign(this, { accountSid, authToken, apiBase, cdnBase, log });
    // Signs CDN URLs; per process, so a URL from an earlier run never validates.
    this.secret = crypto.randomBytes(32);
    this.digests = new Map(); // "seed|kind|size" -> sha256: generating 500 MB twice is wasted time
    this.reset();
  }

  reset() {
    this.items = new Map(); // ME sid -> item
    this.tokens = new Map(); // CDN token -> {sid, hop, expiresMs}
    this.resetLogs();
  }

  resetLogs() {
    this.apiRequests = [];
    this.cdnRequests = [];
    this.seq = 0;
  }

  forget() {
    const n = this.items.size;
    this.items.clear();
    this.tokens.clear();
    return n;
  }

  async create(body) {
    const o = parseMediaOptions(body);
    const sid = `ME${hex32()}`;
    const messageSid = o.messageSid ?? `MM${hex32()}`;
    const kind = o.kind ?? null;
    const contentType = o.contentType ?? (kind ? KINDS[kind].contentType : 'image/jpeg');
    const item = {
      sid, messageSid, accountSid: this.accountSid, createdAtMs: Date.now(),
      contentType, filename: o.filename ?? `${sid}.${extensionFor(contentType)}`,
      kind, seed: o.base64 === undefined ? String(o.seed ?? '') : null,
      auth: o.auth ?? true, redirect: o.redirect, location: o.location ?? null, hops: o.hops ?? 1,
      status: o.status ?? null, cdnStatus: o.cdnStatus ?? null,
      cdnFailures: o.cdnFailures ?? 0, cdnFailuresLeft: o.cdnFailures ?? 0,
      cdnTtlMs: o.cdnTtlMs ?? CDN_TTL_MS, cdnRejectAuth: o.cdnRejectAuth ?? false,
      bytesPerSecond: o.bytesPerSecond ?? null,
      publicBase: o.publicBase?.replace(/\/+$/, '') ?? null,
      cdnPublicBase: o.cdnPublicBase?.replace(/\/+$/, '') ?? null,
    };
    if (o.base64 !== undefined) {
      item.bytes = Buffer.from(o.base64, 'base64');
      item.size = item.bytes.length;
      item.sha256 = crypto.createHash('sha256').update(item.bytes).digest('hex');
    } else {
      item.size = o.size;
      const key = `${item.seed}|${kind}|${item.size}`;
      item.sha256 = this.digests.get(key) ?? await digest(item);
      if (this.digests.size > 256) this.digests.clear();
      this.digests.set(key, item.sha256);
    }
    item.path = `/2010-04-01/Accounts/${this.accountSid}/Messages/${messageSid}/Media/${sid}`;
    item.url = `${item.publicBase ?? this.apiBase()}${item.path}`;
    this.items.set(sid, item);
    return item;
  }

  // What /sim/media shows: everything but the bytes.
  describe(item) {
    const { bytes, ...rest } = item;
    return { ...rest, source: bytes ? 'base64' : 'generated' };
  }

  list() { return [...this.items.values()].map((i) => this.describe(i)); }

  apiLog(sid) { return sid ? this.apiRequests.filter((r) => r.sid === sid) : this.apiRequests; }

  cdnLog(sid) { return sid ? this.cdnRequests.filter((r) => r.sid === sid) : this.cdnRequests; }

  // ---- signed CDN URLs ---------------------------------------------------------------------

  sign(token, expires) {
    return crypto.createHmac('sha256', this.secret).update(`${token}\n${expires}`).digest('hex');
  }

  // A fresh CDN URL for hop `hop` (1-based) of the item. The token is unguessable (128 bits); the
  // Expires/Signature query makes the URL look like a presigned one and catches a client that
  // rewrites or drops the query string when it follows the redirect.
  cdnUrl(item, hop) {
    const token = crypto.randomBytes(16).toString('base64url');
    const expiresMs = Date.now() + item.cdnTtlMs;
    const expires = Math.ceil(expiresMs / 1000);
    const now = Date.now();
    for (const [t, v] of this.tokens) if (v.expiresMs < now) this.tokens.delete(t);
    this.tokens.set(token, { sid: item.sid, hop, expiresMs });
    return `${item.cdnPublicBase ?? this.cdnBase()}/cdn/${token}?Expires=${expires}&Signature=${this.sign(token, expires)}`;
  }

  // ---- the API listener: …/Messages/MM…/Media/ME…[.json] -----------------------------------

  serveApi(req, res, url, match) {
    const [, acct, msgSid, meSid, json] = match;
    const cred = basicAuth(req);
    const authOk = !!cred && cred.user === this.accountSid && cred.pass === this.authToken;
    this.seq += 1;
    const rec = { seq: this.seq, receivedAtMs: preciseNow(), method: req.method, path: req.url,
      sid: meSid, authPresent: req.headers.authorization !== undefined, authOk,
      status: null, location: null, headers: req.headers };
    this.apiRequests.push(rec);
    const reqId = `RQ${this.seq.toString(16).padStart(32, '0')}`;
    res.simNote = meSid;
    const error = (status, code, message, headers = {}) => {
      rec.status = status;
      const text = JSON.stringify(errorBody(status, code, message));
      res.simNote = `${meSid} code=${code}`;
      res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8',
        'Content-Length': Buffer.byteLength(text), 'Twilio-Request-Id': reqId, ...headers });
      res.end(req.method === 'HEAD' ? undefined : text);
    };
    const unauthorized = () => error(401, SYNC.AUTHENTICATE, 'Authenticate',
      { 'WWW-Authenticate': 'Basic realm="Twilio API"' });
    const notFound = () => error(404, SYNC.NOT_FOUND, `The requested resource ${url.pathname} was not found`);

    const item = this.items.get(meSid);
    const known = item && acct === item.accountSid && msgSid === item.messageSid;

    // The .json resource is ordinary REST: Basic auth always, whatever the media setting.
    if (json) {
      if (!authOk) return unauthorized();
      if (!known) return notFound();
      if (req.method === 'DELETE') {
        this.items.delete(meSid);
        rec.status = 204;
        res.writeHead(204, { 'Twilio-Request-Id': reqId });
        return res.end();
      }
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        return error(405, 20004, `Method ${req.method} not allowed on ${url.pathname}`);
      }
      const text = JSON.stringify({
        account_sid: item.accountSid, content_type: item.contentType,
        date_created: rfc2822(item.createdAtMs), date_updated: rfc2822(item.createdAtMs),
        parent_sid: item.messageSid, sid: item.sid, uri: `${item.path}.json`,
      });
      rec.status = 200;
      res.writeHead(200, { 'Content-Type': 'application/json; charset=utf-8',
        'Content-Length': Buffer.byteLength(text), 'Twilio-Request-Id': reqId });
      return res.end(req.method === 'HEAD' ? undefined : text);
    }

    if (req.method !== 'GET' && req.method !== 'HEAD') {
      return error(405, 20004, `Method ${req.method} not allowed on ${url.pathname}`);
    }
    if (!known) return notFound();
    // "Enforce HTTP Auth on Media URLs": without it the URL is public and credentials are ignored.
    if (item.auth && !authOk) return unauthorized();
    if (item.status) {
      const s = item.status;
      return error(s, FAULT_CODES[s] ?? SYNC.INTERNAL, FAULT_MESSAGES[s] ?? 'Simulated error');
    }
    if (item.redirect === 'none') {
      rec.status = 200;
      return this.sendBytes(req, res, item, { 'Twilio-Request-Id': reqId });
    }
    const location = item.redirect === 'elsewhere' ? item.location : this.cdnUrl(item, 1);
    rec.status = 307;
    rec.location = location;
    return redirect(req, res, location, { 'Twilio-Request-Id': reqId });
  }

  // ---- the CDN listener: /cdn/<token>?Expires=&Signature= ------------------------------------

  serveCdn(req, res) {
    const url = new URL(req.url, 'http://cdn.invalid');
    const token = /^\/cdn\/([\w-]+)$/.exec(url.pathname)?.[1];
    const entry = token ? this.tokens.get(token) : undefined;
    const item = entry ? this.items.get(entry.sid) : undefined;
    this.seq += 1;
    // Every header exactly as received, so a test can prove no Authorization (or cookie, or
    // anything else meant for api.twilio.com) crossed the redirect.
    const rec = { seq: this.seq, receivedAtMs: preciseNow(), method: req.method, path: req.url,
      sid: entry?.sid ?? null, hop: entry?.hop ?? null, hasAuthorization: req.headers.authorization !== undefined,
      headers: req.headers, rawHeaders: req.rawHeaders, status: null, location: null,
      bytesSent: 0, maxQueuedBytes: 0 };
    this.cdnRequests.push(rec);
    const xml = (status, code, message, headers = {}) => {
      rec.status = status;
      const text = s3Error(code, message);
      res.writeHead(status, { 'Content-Type': 'application/xml', 'Content-Length': Buffer.byteLength(text), ...headers });
      res.end(req.method === 'HEAD' ? undefined : text);
    };

    if (req.method !== 'GET' && req.method !== 'HEAD') {
      return xml(405, 'MethodNotAllowed', 'The specified method is not allowed against this resource.', { Allow: 'GET, HEAD' });
    }
    if (!item) return xml(404, 'NoSuchKey', 'The specified key does not exist.');
    const expires = url.searchParams.get('Expires') ?? '';
    const signature = url.searchParams.get('Signature') ?? '';
    const want = Buffer.from(this.sign(token, expires));
    const got = Buffer.from(signature);
    if (got.length !== want.length || !crypto.timingSafeEqual(got, want)) {
      return xml(403, 'SignatureDoesNotMatch', 'The request signature we calculated does not match the signature you provided.');
    }
    if (Date.now() > entry.expiresMs) return xml(403, 'AccessDenied', 'Request has expired');
    // What S3 answers when a presigned URL also carries an Authorization header (opt-in: by
    // default the request is served and only the log shows the leaked header).
    if (item.cdnRejectAuth && rec.hasAuthorization) {
      return xml(400, 'InvalidArgument', 'Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified');
    }
    if (item.cdnFailuresLeft > 0) {
      item.cdnFailuresLeft -= 1;
      return xml(503, 'ServiceUnavailable', 'Please reduce your request rate.');
    }
    if (entry.hop < item.hops) {
      const location = this.cdnUrl(item, entry.hop + 1);
      rec.status = 307;
      rec.location = location;
      return redirect(req, res, location);
    }
    if (item.cdnStatus) {
      return xml(item.cdnStatus, item.cdnStatus === 404 ? 'NoSuchKey' : 'InternalError', 'Simulated error');
    }
    rec.status = 200;
    return this.sendBytes(req, res, item, { 'Cache-Control': 'private, max-age=14400' }, rec);
  }

  // The bytes, streamed: the generator makes a chunk only when the socket has taken the last
  // one. `rec` (CDN log) gets live counters: bytesSent, and maxQueuedBytes = the most this
  // process ever held for the response (a test checks it stays far below the item's size).
  sendBytes(req, res, item, headers, rec) {
    res.writeHead(200, {
      'Content-Type': item.contentType,
      'Content-Length': item.size,
      'Content-Disposition': contentDisposition(item.filename),
      'Last-Modified': new Date(item.createdAtMs).toUTCString(),
      ...headers,
    });
    if (req.method === 'HEAD') { res.end(); return; }
    const body = contentStream(item);
    pipeline(body, res, (err) => {
      if (err && err.code !== 'ERR_STREAM_PREMATURE_CLOSE') this.log(`twilio-sim media ${item.sid}: ${err.message}`);
    });
    // Attached after pipeline() has piped the stream (a 'data' listener added before would
    // start the flow with nobody writing); runs after pipe's own listener has written the chunk.
    if (rec) {
      body.on('data', (chunk) => {
        rec.bytesSent += chunk.length;
        rec.maxQueuedBytes = Math.max(rec.maxQueuedBytes, res.writableLength + body.readableLength);
      });
    }
  }
}

// 307 with a small XML body, as Twilio answers a media GET (the client must not look at it).
function redirect(req, res, location, headers = {}) {
  const text = `<?xml version="1.0" encoding="UTF-8"?>\n<TwilioResponse><RedirectTo>${
    location.replace(/&/g, '&amp;').replace(/</g, '&lt;')}</RedirectTo></TwilioResponse>\n`;
  res.writeHead(307, { Location: location, 'Content-Type': 'application/xml',
    'Content-Length': Buffer.byteLength(text), ...headers });
  res.end(req.method === 'HEAD' ? undefined : text);
}

// Where a media entry of POST /sim/inbound points: {url, contentType} as given, or {sid} of a
// hosted item. Returns webhook.mjs's shape {url, mime}.
export function resolveInboundMedia(host, media) {
  if (media === undefined) return [];
  if (!Array.isArray(media)) throw new HttpError(400, 'media must be an array');
  if (media.length > 10) throw new HttpError(400, 'at most 10 media items');
  return media.map((m, i) => {
    if (m && typeof m.sid === 'string') {
      const item = host.items.get(m.sid);
      if (!item) throw new HttpError(400, `media[${i}]: no hosted media ${m.sid}`);
      const mime = m.contentType ?? item.contentType;
      return { url: item.url, mime, type: m.type ?? messageTypeFor(mime), messageSid: item.messageSid };
    }
    if (!m || typeof m.url !== 'string') throw new HttpError(400, `media[${i}] needs url or sid`);
    const mime = m.contentType ?? m.mime;
    if (typeof mime !== 'string') throw new HttpError(400, `media[${i}] needs contentType`);
    return { url: m.url, mime, type: m.type ?? messageTypeFor(mime) };
  });
}
