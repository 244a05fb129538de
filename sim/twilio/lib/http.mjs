// http.mjs - small helpers for the node:http server: bodies, forms, JSON answers, Basic auth.

export class HttpError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

export function readBody(req, limit = 1024 * 1024) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (c) => {
      size += c.length;
      if (size > limit) { reject(new HttpError(413, `body larger than ${limit} bytes`)); req.destroy(); return; }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

// Form body -> object; a key sent more than once becomes an array, in the order received.
export function parseForm(text) {
  const out = {};
  for (const [k, v] of new URLSearchParams(text)) {
    if (!Object.hasOwn(out, k)) out[k] = v;
    else if (Array.isArray(out[k])) out[k].push(v);
    else out[k] = [out[k], v];
  }
  return out;
}

export function parseJsonBody(buf) {
  if (buf.length === 0) return {};
  try {
    const v = JSON.parse(buf.toString('utf8'));
    if (v === null || typeof v !== 'object') throw new Error('not an object');
    return v;
  } catch (e) {
    throw new HttpError(400, `body must be a JSON object: ${e.message}`);
  }
}

export function sendJson(res, status, body, headers = {}) {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

// {user, pass} from "Authorization: Basic ...", or null.
export function basicAuth(req) {
  const m = /^Basic\s+(\S+)$/i.exec(req.headers.authorization ?? '');
  if (!m) return null;
  const text = Buffer.from(m[1], 'base64').toString('utf8');
  const i = text.indexOf(':');
  return i < 0 ? null : { user: text.slice(0, i), pass: text.slice(i + 1) };
}

// RFC 2822 in GMT, as Twilio writes dates: "Thu, 24 Aug 2023 05:01:45 +0000".
export const rfc2822 = (ms) => new Date(ms).toUTCString().replace(/GMT$/, '+0000');

// Wall-clock milliseconds with sub-millisecond precision.
export const preciseNow = () => performance.timeOrigin + performance.now();
