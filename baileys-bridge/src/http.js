// HTTP API: /health, /metrics, /qr, /send, /media/:id and (loopback only) /dev/*.
import http from 'node:http';
import crypto from 'node:crypto';
import fs from 'node:fs';
import qrcode from 'qrcode-terminal';
import { HttpError } from './sender.js';

const json = (res, status, body, headers = {}) => {
  const b = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(b), ...headers });
  res.end(b);
};

/**
 * The request body as JSON, at most `limit` bytes. Over the limit: a 413 HttpError marked
 * `close`, and the rest of the body is read and dropped (not a reset: that could reach the
 * client before our answer does); the route's caller answers, then the connection closes.
 */
function readJson(req, limit) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    let over = false;
    req.on('data', (c) => {
      if (over) return;
      size += c.length;
      if (size > limit) {
        over = true;
        chunks.length = 0;
        const err = new HttpError(413, { ok: false, error: 'body_too_large', reason: `limit is ${limit} bytes` });
        err.close = true;
        reject(err);
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => {
      if (over) return;
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString('utf8') || 'null'));
      } catch {
        reject(new HttpError(400, { ok: false, error: 'bad_request', reason: 'body is not valid JSON' }));
      }
    });
    req.on('error', reject);
  });
}

/** Answer an oversized body, then close the connection once the client has sent it (or after a grace time). */
function answerAndClose(req, res, status, body, graceMs = 5000) {
  const b = JSON.stringify(body);
  // The whole answer goes out now (content-length: the client has it all); the response is
  // ended only when the request is over, because ending it closes the socket, and a client
  // still sending into a closed socket gets a reset that can destroy the answer unread.
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(b), connection: 'close' });
  res.write(b);
  let done = false;
  const finish = () => { if (done) return; done = true; clearTimeout(timer); res.end(); };
  const timer = setTimeout(() => { finish(); req.socket?.destroy(); }, graceMs);
  timer.unref();
  if (req.complete) return finish();
  req.on('end', finish);
  req.on('close', finish);
  req.resume();
}

/** RFC 6266 / 5987 Content-Disposition: an ASCII filename="…" fallback plus filename*=UTF-8''…. */
export function contentDisposition(name) {
  const full = String(name).replace(/[\u0000-\u001f\u007f]/g, '_').toWellFormed();
  const ascii = full.replace(/[^\x20-\x7e]/gu, '_').replace(/["\\]/g, '\\$&');
  const encoded = encodeURIComponent(full).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encoded}`;
}

/** A Content-Type header value from a sender-given mimetype, or application/octet-stream. */
export function safeMimetype(m) {
  return typeof m === 'string' && /^[\x21-\x7e][\x20-\x7e]*$/.test(m) && m.length <= 255 ? m : 'application/octet-stream';
}

/** 401 when the header is missing, 403 when it is wrong; constant-time compare. */
export function checkSecret(req, secret) {
  const got = req.headers['x-baileys-secret'];
  if (got === undefined || got === '') return { status: 401, body: { ok: false, error: 'missing_secret', reason: 'X-BAILEYS-SECRET header required' } };
  const a = crypto.createHash('sha256').update(String(got)).digest();
  const b = crypto.createHash('sha256').update(secret).digest();
  if (!crypto.timingSafeEqual(a, b)) return { status: 403, body: { ok: false, error: 'wrong_secret' } };
  return null;
}

function isLoopback(addr) {
  return typeof addr === 'string' && (addr.startsWith('127.') || addr === '::1' || addr.startsWith('::ffff:127.'));
}

/**
 * The metrics tell traffic and failures: they need the secret, or METRICS_TOKEN as a bearer token
 * when that is set; a client on this machine gets them without either. null when allowed.
 */
export function metricsRefused(req, config) {
  if (req.headers['x-baileys-secret'] !== undefined) return checkSecret(req, config.secret);
  const auth = req.headers.authorization;
  if (config.metricsToken && typeof auth === 'string' && auth.startsWith('Bearer ')) {
    const a = crypto.createHash('sha256').update(auth.slice(7)).digest();
    const b = crypto.createHash('sha256').update(config.metricsToken).digest();
    return crypto.timingSafeEqual(a, b) ? null : { status: 403, body: { ok: false, error: 'bad_token' } };
  }
  if (isLoopback(req.socket.remoteAddress)) return null;
  return { status: 403, body: { ok: false, error: 'metrics_local_only', reason: 'GET /metrics needs X-BAILEYS-SECRET or Authorization: Bearer METRICS_TOKEN from another machine' } };
}

export function createHttpServer({ config, logger, metrics, link, sender, media, loopback, handled = async () => {} }) {
  const routes = [];
  const route = (method, pattern, { auth = true, handler }) => routes.push({ method, pattern, auth, handler });

  route('GET', /^\/health$/, {
    auth: false,
    handler: (req, res) => {
      const connected = !!link.connected;
      const body = { status: connected ? 'ok' : link.state, connected };
      // The account's own number is for whoever holds the secret (sender-baileys's probes do not
      // need it): anyone who can reach /health would otherwise learn it.
      if (req.headers['x-baileys-secret'] !== undefined && !checkSecret(req, config.secret)) {
        body.device = link.device ?? null;
      }
      json(res, connected ? 200 : 503, body);
    },
  });

  route('GET', /^\/metrics$/, {
    auth: false,
    handler: (req, res) => {
      const refused = metricsRefused(req, config);
      if (refused) return json(res, refused.status, refused.body);
      const b = metrics.render();
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
      res.end(b);
    },
  });

  route('GET', /^\/qr$/, {
    handler: (req, res) => {
      if (link.connected) return json(res, 200, { ok: true, connected: true, qr: null, pairingCode: null });
      if (link.pairingCode) return json(res, 200, { ok: true, connected: false, qr: null, pairingCode: link.pairingCode });
      if (!link.qr) return json(res, 404, { ok: false, error: 'no_qr', state: link.state });
      const url = new URL(req.url, 'http://x');
      if (url.searchParams.get('format') === 'text') {
        qrcode.generate(link.qr, { small: true }, (ascii) => { res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' }); res.end(ascii + '\n'); });
        return;
      }
      json(res, 200, { ok: true, connected: false, qr: link.qr, pairingCode: null });
    },
  });

  route('POST', /^\/send$/, {
    handler: async (req, res) => {
      const body = await readJson(req, 1 << 20);
      const r = await sender.send(body);
      json(res, r.status, r.body, r.status === 429 ? { 'retry-after': String(Math.ceil((r.body.retryAfterMs || 1000) / 1000)) } : {});
    },
  });

  route('GET', /^\/media\/([0-9a-f]{32})$/, {
    handler: async (req, res, m) => {
      const hit = await media.get(m[1]);
      if (!hit) return json(res, 404, { ok: false, error: 'not_found', reason: 'unknown or expired media id' });
      res.writeHead(200, {
        // both come from the sender's message: only ASCII reaches the headers
        'content-type': safeMimetype(hit.meta.mimetype),
        'content-length': hit.meta.size,
        ...(hit.meta.fileName ? { 'content-disposition': contentDisposition(hit.meta.fileName) } : {}),
      });
      fs.createReadStream(hit.file).pipe(res);
    },
  });

  if (loopback) {
    // Answered once the bridge's handlers have written the event to the outbox: a 200 means the
    // bridge has it durably, so a test may count it as one that must reach the CRM whatever is
    // killed afterwards.
    route('POST', /^\/dev\/inbound$/, { handler: async (req, res) => {
      const r = await loopback.inbound(await readJson(req, 32 << 20));
      await handled();
      json(res, 200, r);
    } });
    route('POST', /^\/dev\/receipt$/, { handler: async (req, res) => {
      const r = loopback.receipt(await readJson(req, 1 << 16));
      await handled();
      json(res, 200, r);
    } });
    route('GET', /^\/dev\/sent$/, { handler: (req, res) => json(res, 200, { ok: true, sent: loopback.sent }) });
    route('POST', /^\/dev\/disconnect$/, { handler: (req, res) => { loopback.disconnect(); json(res, 200, { ok: true, connected: false }); } });
    route('POST', /^\/dev\/send-stall$/, { handler: async (req, res) => {
      const b = await readJson(req, 1 << 10);
      if (!Number.isInteger(b?.ms) || b.ms < 0 || !Number.isInteger(b?.count) || b.count < 0) {
        json(res, 400, { ok: false, error: 'bad_request', reason: 'ms and count must be non-negative integers' });
        return;
      }
      loopback.stall = { ms: b.ms, count: b.count };
      json(res, 200, { ok: true, stall: loopback.stall });
    } });
    route('POST', /^\/dev\/connect$/, { handler: (req, res) => { loopback.connect(); json(res, 200, { ok: true, connected: true }); } });
  }

  return http.createServer(async (req, res) => {
    const path = (req.url || '/').split('?')[0];
    let matched = null;
    let m;
    for (const r of routes) {
      if ((m = r.pattern.exec(path))) { matched = r; if (r.method === req.method) break; }
    }
    try {
      if (!matched) return json(res, 404, { ok: false, error: 'not_found' });
      if (matched.method !== req.method) return json(res, 405, { ok: false, error: 'method_not_allowed' });
      if (matched.auth) {
        const denied = checkSecret(req, config.secret);
        if (denied) return json(res, denied.status, denied.body);
      }
      await matched.handler(req, res, m);
    } catch (err) {
      if (err instanceof HttpError) {
        if (err.close && !res.headersSent) return answerAndClose(req, res, err.status, err.body);
        return json(res, err.status, err.body);
      }
      logger.error({ err: err.message, path }, 'http handler failed');
      if (!res.headersSent) json(res, 500, { ok: false, error: 'internal' });
      else res.destroy();
    }
  });
}
