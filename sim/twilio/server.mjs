#!/usr/bin/env node
// server.mjs - a fake Twilio Messages API (WhatsApp) for wa-broker's tests: the C sender talks to
// it instead of api.twilio.com. Requests are checked against Twilio's own OpenAPI document, every
// request is recorded, faults can be scripted, and accepted messages get signed status callbacks.
//
// It also hosts inbound media the way Twilio does (lib/hosted.mjs): Basic-auth media URLs on the API
// listener that 307 to signed URLs on a second listener, the "CDN".
//
//   node sim/twilio/server.mjs   (env: see README.md; prints "listening <host:port>", "cdn <host:port>")
//   import { startServer } from './server.mjs'; const sim = await startServer({ port: 0 });
import crypto from 'node:crypto';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { errorBody, FAULT_CODES, FAULT_MESSAGES, SYNC } from './lib/errors.mjs';
import { FaultError } from './lib/faults.mjs';
import { basicAuth, HttpError, parseForm, parseJsonBody, preciseNow, readBody, sendJson } from './lib/http.mjs';
import { MediaHost, MEDIA_PATH, resolveInboundMedia } from './lib/hosted.mjs';
import { fetchBytes } from './lib/media.mjs';
import { scopeKey } from './lib/phone.mjs';
import { DEFAULT_AUTH_TOKEN } from './webhook.mjs';
import { defaultConfig, TwilioSim } from './lib/sim.mjs';
import { loadSpec, SpecError } from './lib/spec.mjs';
import { checkCreateMessage } from './lib/validate.mjs';
import { TemplateCatalog, TemplateError } from './lib/templates.mjs';

export const DEFAULT_ACCOUNT_SID = 'AC00000000000000000000000000000000';
const newMediaMessageSid = () => `MM${crypto.randomBytes(16).toString('hex')}`;

const MSG_LIST = /^\/2010-04-01\/Accounts\/([^/]+)\/Messages\.json$/;
const MSG_ONE = /^\/2010-04-01\/Accounts\/([^/]+)\/Messages\/([^/]+)\.json$/;
const ACCOUNT_PATH = /^\/2010-04-01\/Accounts\/([^/]+)(\/|\.json|$)/;

// /sim/config keys and their checks.
const CONFIG_KEYS = {
  enforceWindow: (v) => typeof v === 'boolean',
  callbacks: (v) => typeof v === 'boolean',
  fetchMedia: (v) => typeof v === 'boolean',
  callbackDelayMs: (v) => Number.isFinite(v) && v >= 0,
  createLatencyMs: (v) => Number.isFinite(v) && v >= 0 && v <= 60000,
  windowMs: (v) => Number.isFinite(v) && v > 0,
  mediaTimeoutMs: (v) => Number.isFinite(v) && v > 0,
  ingressUrl: (v) => typeof v === 'string' && /^https?:\/\//.test(v),
  publicBaseUrl: (v) => v === null || (typeof v === 'string' && /^https?:\/\//.test(v)),
  callbackVia: (v) => v === null || (typeof v === 'string' && /^https?:\/\//.test(v)),
  serviceSender: (v) => typeof v === 'string',
};

export async function startServer(opts = {}) {
  const spec = opts.spec ?? loadSpec(opts.specPath);
  const accountSid = opts.accountSid ?? DEFAULT_ACCOUNT_SID;
  const authToken = opts.authToken ?? DEFAULT_AUTH_TOKEN;
  const log = opts.log === false ? () => {}
    : typeof opts.log === 'function' ? opts.log : (line) => process.stderr.write(`${line}\n`);
  const sim = new TwilioSim({ accountSid, authToken, config: opts.config });
  // The listeners' base URLs are known only once they listen (port 0); hence the closures.
  let apiBase = null;
  let cdnBase = null;
  const templates = new TemplateCatalog();
  const media = new MediaHost({ accountSid, authToken, apiBase: () => apiBase, cdnBase: () => cdnBase, log });

  const twilioError = (status, code, message) => [status, errorBody(status, code, message)];
  const notFound = (p) => twilioError(404, SYNC.NOT_FOUND, `The requested resource ${p} was not found`);

  // ---- Twilio REST part -------------------------------------------------------------------

  async function twilioApi(req, res, url, receivedAtMs) {
    const raw = await readBody(req);
    const isForm = (req.headers['content-type'] ?? '').toLowerCase()
      .startsWith('application/x-www-form-urlencoded');
    // A JSON body is not parsed: Twilio only reads forms, so it then reports the missing To.
    const params = req.method === 'GET' ? parseForm(url.search)
      : isForm ? parseForm(raw.toString('utf8')) : {};
    const call = sim.recordCall({ method: req.method, path: url.pathname, receivedAtMs, params });
    const cred = basicAuth(req);
    call.authOk = !!cred && cred.user === accountSid && cred.pass === authToken;
    const answer = (status, body, headers) => {
      call.responseStatus = status;
      call.code = status >= 400 ? body.code : null;
      res.simNote = call.code ? `code=${call.code}` : (call.sid ?? '');
      sendJson(res, status, body, { 'Twilio-Request-Id': `RQ${call.seq.toString(16).padStart(32, '0')}`, ...headers });
    };

    const list = MSG_LIST.exec(url.pathname);
    const isCreate = req.method === 'POST' && !!list;
    let lostAnswer = null;
    if (isCreate) {
      if (sim.config.createLatencyMs) await sim.sleep(sim.config.createLatencyMs);
      if (sim.closed) return;
      const to = typeof params.To === 'string' ? params.To : null;
      const fault = sim.faults.take('response', to);
      if (fault) {
        call.faultId = fault.id;
        if (fault.latencyMs) await sim.sleep(fault.latencyMs);
        if (sim.closed) return;
        if (fault.created) {
          call.createdDespiteFault = true;
          lostAnswer = { ...fault, dropSocket: () => req.socket.destroy() };
        } else if (fault.drop) {
          call.dropped = true;
          res.simNote = 'dropped by fault';
          req.socket.destroy();
          return;
        } else if (fault.status) {
          const code = fault.code ?? FAULT_CODES[fault.status] ?? SYNC.BAD_REQUEST;
          const message = fault.message ?? FAULT_MESSAGES[fault.status] ?? 'Simulated error';
          answer(...twilioError(fault.status, code, message));
          return;
        }
      }
    }

    if (!call.authOk) {
      answer(...twilioError(401, SYNC.AUTHENTICATE, 'Authenticate'),
        { 'WWW-Authenticate': 'Basic realm="Twilio API"' });
      return;
    }
    const acct = ACCOUNT_PATH.exec(url.pathname)?.[1];
    if (acct !== accountSid) { answer(...notFound(url.pathname)); return; }

    if (isCreate) { await createMessage(params, call, answer, lostAnswer); return; }
    if (list && req.method === 'GET') { answer(200, listMessages(url, params)); return; }
    const one = MSG_ONE.exec(url.pathname);
    if (one && req.method === 'GET') {
      const msg = sim.messages.get(one[2]);
      if (msg) answer(200, msg.resource); else answer(...notFound(url.pathname));
      return;
    }
    if (list || one) { answer(...twilioError(405, 20004, `Method ${req.method} not allowed on ${url.pathname}`)); return; }
    answer(...notFound(url.pathname));
  }

  // `lostAnswer`: a fault with created:true - the message is made as usual, then the client
  // gets the fault's error (or a dropped connection) instead of the 201.
  async function createMessage(params, call, answer, lostAnswer) {
    const check = checkCreateMessage(spec, params);
    if (!check.ok) { answer(...twilioError(check.status, check.code, check.message)); return; }
    const msg = sim.createMessage(check.data, Date.now());
    call.sid = msg.sid;
    // Twilio fetches media before accepting; a failed fetch still gets 201 and fails later.
    const media = await sim.fetchMedia(msg);
    if (sim.closed) return;
    if (media.length) call.media = media;
    const override = sim.faults.take('callbacks', msg.params.To);
    const steps = sim.planLifecycle(msg, override);
    call.lifecycle = steps.map((s) => (s.errorCode ? `${s.status}:${s.errorCode}` : s.status));
    if (!lostAnswer) {
      answer(201, msg.resource);
    } else if (lostAnswer.drop) {
      call.dropped = true;
      lostAnswer.dropSocket();
    } else {
      const code = lostAnswer.code ?? FAULT_CODES[lostAnswer.status] ?? SYNC.BAD_REQUEST;
      answer(...twilioError(lostAnswer.status, code, lostAnswer.message ?? FAULT_MESSAGES[lostAnswer.status] ?? 'Simulated error'));
    }
    sim.runLifecycle(msg, steps).catch((e) => log(`twilio-sim lifecycle ${msg.sid}: ${e.message}`));
  }

  // GET .../Messages.json: newest first, filtered by To/From like Twilio (DateSent filters are
  // not simulated). Enough for a sender that reconciles after an ambiguous timeout.
  function listMessages(url, q) {
    const pageSize = Math.min(Math.max(Number(q.PageSize) || 50, 1), 1000);
    const all = [...sim.messages.values()]
      .filter((m) => (!q.To || m.resource.to === q.To) && (!q.From || m.resource.from === q.From))
      .sort((a, b) => b.createdAtMs - a.createdAtMs)
      .slice(0, pageSize)
      .map((m) => m.resource);
    const first = `${url.pathname}?PageSize=${pageSize}&Page=0`;
    return { end: Math.max(all.length - 1, 0), first_page_uri: first, messages: all, next_page_uri: null,
      page: 0, page_size: pageSize, previous_page_uri: null, start: 0, uri: first };
  }

  // ---- Content API part (content.twilio.com/v1): the template catalogue ------------------

  async function contentApi(req, res, url) {
    await readBody(req);
    const call = sim.recordCall({ method: req.method, path: url.pathname, receivedAtMs: preciseNow(),
      params: parseForm(url.search) });
    const cred = basicAuth(req);
    call.authOk = !!cred && cred.user === accountSid && cred.pass === authToken;
    const answer = (status, body, headers) => {
      call.responseStatus = status;
      sendJson(res, status, body, headers);
    };
    if (!call.authOk) {
      answer(...twilioError(401, SYNC.AUTHENTICATE, 'Authenticate'),
        { 'WWW-Authenticate': 'Basic realm="Twilio API"' });
      return;
    }
    if (url.pathname !== '/v1/ContentAndApprovals') { answer(...notFound(url.pathname)); return; }
    if (req.method !== 'GET') {
      answer(...twilioError(405, 20004, `Method ${req.method} not allowed on ${url.pathname}`));
      return;
    }
    answer(200, templates.page(apiBase, parseForm(url.search), accountSid));
  }

  // ---- /sim part (no auth: loopback only) -----------------------------------------------

  async function simApi(req, res, url) {
    // POST /sim/media may carry a base64 file; everything else is a small JSON object.
    const limit = url.pathname === '/sim/media' ? 64 * 1024 * 1024 : undefined;
    const body = req.method === 'POST' ? parseJsonBody(await readBody(req, limit)) : (await readBody(req), {});
    const q = url.searchParams;
    const route = `${req.method} ${url.pathname}`;
    const ok = (value, status = 200) => sendJson(res, status, value);
    switch (route) {
      case 'GET /sim/health':
        return ok({ ok: true, accountSid, spec: spec.path, cdn: cdnBase });
      case 'GET /sim/calls':
        return ok({ calls: sim.listCalls(q.get('to')) });
      case 'DELETE /sim/calls': {
        const cleared = sim.calls.length;
        sim.calls = [];
        return ok({ cleared });
      }
      case 'GET /sim/faults':
        return ok({ faults: sim.faults.list() });
      case 'POST /sim/faults':
        try {
          return ok({ faults: sim.faults.add(body.faults ?? body) }, 201);
        } catch (e) {
          if (e instanceof FaultError) throw new HttpError(400, e.message);
          throw e;
        }
      case 'DELETE /sim/faults':
        sim.faults.clear();
        return ok({ faults: [] });
      case 'POST /sim/inbound': {
        if (!body.from) throw new HttpError(400, 'from (+E.164) is required');
        const items = resolveInboundMedia(media, body.media);
        // A message with media has an MM sid at Twilio; a hosted item already names its message
        // (it is in the media URL), so the webhook uses that one unless the caller chose.
        const messageSid = body.messageSid ?? items.find((m) => m.messageSid)?.messageSid
          ?? (items.length ? newMediaMessageSid() : undefined);
        return ok(await sim.inbound({ ...body, media: items, messageSid }));
      }
      case 'POST /sim/media': {
        const item = await media.create(body);
        return ok({ url: item.url, sid: item.sid, messageSid: item.messageSid, sha256: item.sha256,
          size: item.size, contentType: item.contentType, filename: item.filename }, 201);
      }
      case 'GET /sim/media':
        return ok({ media: media.list() });
      case 'DELETE /sim/media':
        return ok({ cleared: media.forget() });
      case 'GET /sim/media-requests':
        return ok({ requests: media.apiLog(q.get('sid')) });
      case 'DELETE /sim/media-requests':
        media.apiRequests = [];
        return ok({ requests: [] });
      case 'GET /sim/cdn-requests':
        return ok({ requests: media.cdnLog(q.get('sid')) });
      case 'DELETE /sim/cdn-requests':
        media.cdnRequests = [];
        return ok({ requests: [] });
      case 'GET /sim/window':
        return ok({ windows: sim.listWindows() });
      case 'POST /sim/window': {
        if (!scopeKey(body.user) || !Number.isFinite(body.lastInboundAtMs)) {
          throw new HttpError(400, 'user (+E.164) and lastInboundAtMs (number) are required');
        }
        sim.noteInbound(body.user, body.sender ?? null, body.lastInboundAtMs);
        return ok({ windows: sim.listWindows() });
      }
      case 'DELETE /sim/window':
        sim.windows.clear();
        return ok({ windows: [] });
      case 'GET /sim/config':
        return ok({ config: sim.config });
      case 'POST /sim/config': {
        for (const [k, v] of Object.entries(body)) {
          if (!CONFIG_KEYS[k]) throw new HttpError(400, `unknown config key ${k}`);
          if (!CONFIG_KEYS[k](v)) throw new HttpError(400, `bad value for ${k}: ${JSON.stringify(v)}`);
        }
        Object.assign(sim.config, body);
        return ok({ config: sim.config });
      }
      case 'POST /sim/callback': {
        const msg = sim.messages.get(body.sid);
        if (!msg) throw new HttpError(404, `no message ${body.sid}`);
        if (typeof body.status !== 'string') throw new HttpError(400, 'status is required');
        const url2 = body.url ?? msg.statusCallback;
        if (!url2) throw new HttpError(409, `message ${body.sid} has no StatusCallback; pass url`);
        const attempt = await sim.sendStatus(msg, {
          status: body.status,
          ...(body.errorCode !== undefined ? { errorCode: body.errorCode } : {}),
          ...(body.errorMessage !== undefined ? { errorMessage: body.errorMessage } : {}),
        }, { url: url2 });
        return ok({ sid: msg.sid, status: body.status, httpStatus: attempt.httpStatus,
          error: attempt.error, attempt });
      }
      case 'GET /sim/callbacks':
        return ok({ callbacks: sim.listCallbacks(q.get('sid')) });
      case 'DELETE /sim/callbacks':
        sim.callbackRecords = [];
        return ok({ callbacks: [] });
      case 'GET /sim/messages':
        return ok({ messages: [...sim.messages.values()].map((m) => m.resource) });
      case 'POST /sim/fetch': {
        if (typeof body.url !== 'string') throw new HttpError(400, 'url is required');
        const r = await fetchBytes(body.url, { timeoutMs: sim.config.mediaTimeoutMs, signal: sim.abort.signal });
        return ok({ status: r.status, bytes: r.bytes, sha256: r.sha256, contentType: r.contentType,
          ...(r.error ? { error: r.error } : {}), ...(r.truncated ? { truncated: true } : {}) });
      }
      case 'POST /sim/reset':
        sim.reset();
        media.reset();
        templates.reset();
        return ok({ ok: true });
      // The Content API catalogue: add or change a template (its approval too), list, remove.
      case 'GET /sim/templates':
        return ok({ templates: [...templates.bySid.values()] });
      case 'POST /sim/templates':
        try {
          return ok(templates.put(body));
        } catch (e) {
          if (e instanceof TemplateError) throw new HttpError(400, e.message);
          throw e;
        }
      case 'DELETE /sim/templates':
        return ok({ removed: templates.remove(q.get('sid')) });
      default:
        throw new HttpError(404, `no route ${route}`);
    }
  }

  // ---- server ------------------------------------------------------------------------------

  const logRequest = (name, req, res) => {
    const t0 = performance.now();
    res.on('close', () => {
      const status = res.headersSent ? res.statusCode : 'no-answer';
      log(`${name} ${req.method} ${req.url} -> ${status}${res.simNote ? ` ${res.simNote}` : ''} `
        + `${(performance.now() - t0).toFixed(1)}ms`);
    });
  };

  // The media handlers are synchronous; a bug in one must answer 500, not kill the sim.
  const guarded = (req, res, fn) => {
    try {
      fn();
    } catch (e) {
      log(`twilio-sim error on ${req.method} ${req.url}: ${e.stack ?? e}`);
      if (!res.headersSent) sendJson(res, 500, { error: e.message }); else res.destroy();
    }
  };

  const server = http.createServer((req, res) => {
    const receivedAtMs = preciseNow();
    logRequest('twilio-sim', req, res);
    const url = new URL(req.url, 'http://sim.invalid');
    const mediaPath = MEDIA_PATH.exec(url.pathname);
    // Media GETs have no body to read; resume() drains one if a client sent it anyway.
    if (mediaPath) { req.resume(); guarded(req, res, () => media.serveApi(req, res, url, mediaPath)); return; }
    const handler = url.pathname.startsWith('/sim/') ? simApi(req, res, url)
      : url.pathname.startsWith('/2010-04-01/') ? twilioApi(req, res, url, receivedAtMs)
        : url.pathname.startsWith('/v1/') ? contentApi(req, res, url)
          : Promise.reject(new HttpError(404, `no route ${req.method} ${url.pathname}`));
    handler.catch((e) => {
      if (res.headersSent || res.destroyed) return;
      const status = e instanceof HttpError ? e.status : 500;
      if (status === 500) log(`twilio-sim error on ${req.method} ${req.url}: ${e.stack ?? e}`);
      sendJson(res, status, { error: e.message });
    });
  });

  // The CDN: another port, hence another origin, like mms.twiliocdn.com next to api.twilio.com.
  const cdn = http.createServer((req, res) => {
    logRequest('twilio-sim-cdn', req, res);
    req.resume();
    guarded(req, res, () => media.serveCdn(req, res));
  });

  const listen = (srv, port, hostName) => new Promise((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(port, hostName, () => { srv.off('error', reject); resolve(srv.address()); });
  });
  const baseOf = ({ address, port }) => `http://${address.includes(':') ? `[${address}]` : address}:${port}`;
  const { address, port } = await listen(server, opts.port ?? 3002, opts.host ?? '127.0.0.1');
  apiBase = baseOf(server.address());
  let cdnAddr;
  try {
    // In-process callers get a free port unless they ask (parallel test files must not collide
    // on 3003); the command line passes TWILIO_SIM_CDN_LISTEN, default 127.0.0.1:3003.
    cdnAddr = await listen(cdn, opts.cdnPort ?? 0, opts.cdnHost ?? opts.host ?? '127.0.0.1');
  } catch (e) {
    server.close();
    throw e;
  }
  cdnBase = baseOf(cdnAddr);

  let closing = null;
  function close() {
    closing ??= Promise.all([server, cdn].map((srv) => new Promise((resolve) => {
      srv.close(() => resolve());
      srv.closeAllConnections();
    })));
    sim.close();
    return closing.then(() => {});
  }

  return { url: apiBase, host: address, port, cdnUrl: cdnBase, cdnHost: cdnAddr.address, cdnPort: cdnAddr.port,
    accountSid, authToken, sim, media, spec, close };
}

// ---- command line ---------------------------------------------------------------------------

// "host:port", "[v6]:port" or "host" -> {host, port}.
function parseListen(name, value, defaultPort) {
  const i = value.lastIndexOf(':');
  const bare = i < 0 || value.endsWith(']');
  const host = (bare ? value : value.slice(0, i)).replace(/^\[|\]$/g, '') || '127.0.0.1';
  const port = bare ? defaultPort : Number(value.slice(i + 1));
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`bad ${name} ${value}`);
  return { host, port };
}

export function optionsFromEnv(env = process.env) {
  const { host, port } = parseListen('TWILIO_SIM_LISTEN', env.TWILIO_SIM_LISTEN || '127.0.0.1:3002', 3002);
  const cdnListen = parseListen('TWILIO_SIM_CDN_LISTEN', env.TWILIO_SIM_CDN_LISTEN || '127.0.0.1:3003', 3003);
  const config = defaultConfig();
  config.enforceWindow = !['0', 'false', 'no', 'off'].includes((env.TWILIO_SIM_ENFORCE_WINDOW ?? '1').toLowerCase());
  if (env.TWILIO_SIM_CALLBACK_DELAY_MS) config.callbackDelayMs = Number(env.TWILIO_SIM_CALLBACK_DELAY_MS);
  if (env.TWILIO_SIM_CREATE_LATENCY_MS) config.createLatencyMs = Number(env.TWILIO_SIM_CREATE_LATENCY_MS);
  if (env.INGRESS_URL) config.ingressUrl = env.INGRESS_URL;
  config.publicBaseUrl = env.PUBLIC_BASE_URL || null;
  config.callbackVia = env.TWILIO_SIM_CALLBACK_VIA || null;
  return {
    host, port, config, cdnHost: cdnListen.host, cdnPort: cdnListen.port,
    accountSid: env.TWILIO_ACCOUNT_SID || DEFAULT_ACCOUNT_SID,
    authToken: env.TWILIO_AUTH_TOKEN || DEFAULT_AUTH_TOKEN,
    specPath: env.TWILIO_OAI_SPEC || undefined,
  };
}

async function main() {
  let handle;
  try {
    handle = await startServer(optionsFromEnv());
  } catch (e) {
    const why = e instanceof SpecError ? e.message : `cannot start: ${e.message}`;
    process.stderr.write(`twilio-sim: ${why}\n`);
    process.exit(e instanceof SpecError ? 78 : 1);
  }
  process.stdout.write(`listening ${handle.url.replace(/^http:\/\//, '')}\n`);
  process.stdout.write(`cdn ${handle.cdnUrl.replace(/^http:\/\//, '')}\n`);
  const stop = async (sig) => {
    process.stderr.write(`twilio-sim: ${sig}, shutting down\n`);
    await handle.close();
    process.exit(0);
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main();
