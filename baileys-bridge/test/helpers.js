// Shared test helpers: temp dirs, a fake ingress, a loopback bridge, polling.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import http from 'node:http';
import https from 'node:https';
import pino from 'pino';
import { loadConfig } from '../src/config.js';
import { createBridge } from '../src/app.js';

export const SECRET = 'test-secret-123';
export const silent = pino({ level: 'silent' });

export async function tmpDir(t) {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'bb-test-'));
  t.after(() => fs.rm(dir, { recursive: true, force: true }));
  return dir;
}

/**
 * In-process fake ingress on an ephemeral port. respond(req, body) → a status (default 204;
 * a 400 answers {"error":"bad"}) or {status, body} to choose the answer's body.
 * tls: { cert, key } (PEM) serves HTTPS on 127.0.0.1 instead.
 */
export async function fakeIngress(t, respond = () => 204, { tls } = {}) {
  const received = [];
  const handler = (req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString() || 'null');
      const r = respond(req, body);
      const status = typeof r === 'object' ? r.status : r;
      const answer = typeof r === 'object' ? r.body ?? '' : status === 400 ? '{"error":"bad"}' : '';
      if (status >= 200 && status < 300) received.push({ headers: req.headers, body, path: req.url });
      res.writeHead(status, { 'content-type': 'application/json' }).end(answer);
    });
  };
  const server = tls ? https.createServer(tls, handler) : http.createServer(handler);
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const ingress = { url: `${tls ? 'https' : 'http'}://127.0.0.1:${server.address().port}`, received, server, async close() {
    server.closeAllConnections();
    await new Promise((r) => server.close(() => r()));
  } };
  t.after(() => ingress.close());
  return ingress;
}

/** A port nothing listens on (bound then closed). */
export async function closedPort() {
  const s = http.createServer();
  await new Promise((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address();
  await new Promise((r) => s.close(r));
  return port;
}

export function testConfig(env = {}) {
  const { config, errors } = loadConfig({
    BAILEYS_WEBHOOK_SECRET: SECRET, BRIDGE_LISTEN: '127.0.0.1:0', BAILEYS_LOOPBACK: '1', LOG_LEVEL: 'silent',
    BRIDGE_OUTBOX_BASE_BACKOFF_MS: '20', BRIDGE_OUTBOX_MAX_BACKOFF_MS: '200', ...env,
  });
  if (errors.length) throw new Error(errors.join('; '));
  return config;
}

/** Start a loopback bridge; closed automatically at the end of the test. */
export async function startBridge(t, env) {
  const bridge = await createBridge(testConfig(env), { logger: silent });
  t.after(() => bridge.close());
  return bridge;
}

export async function call(base, method, p, { body, secret = SECRET, raw = false } = {}) {
  const headers = {};
  if (secret !== null) headers['x-baileys-secret'] = secret;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(base + p, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const buf = Buffer.from(await res.arrayBuffer());
  return { status: res.status, headers: res.headers, buf, json: raw ? null : (buf.length ? JSON.parse(buf.toString()) : null) };
}

export async function waitFor(fn, { timeout = 5000, interval = 10, what = 'condition' } = {}) {
  const end = Date.now() + timeout;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, interval));
  }
}
