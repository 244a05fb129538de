// helpers.mjs - shared test plumbing: an in-process simulator, a form POST helper, and a tiny
// HTTP receiver that plays ingress (status callbacks, inbound webhooks) and serves media.
import http from 'node:http';
import { startServer } from '../server.mjs';
import { formBody } from '../webhook.mjs';
import { parseForm } from '../lib/http.mjs';

export const ACCOUNT = 'AC0123456789abcdef0123456789abcdef';
export const TOKEN = 'test-token-0123456789';
export const SENDER = 'whatsapp:+14155238886';

let nextUser = 15550100000;
// A fresh recipient per test keeps scoped faults and windows apart.
export const newUser = () => `+${(nextUser += 1)}`;

export async function startSim(config = {}) {
  return startServer({ port: 0, accountSid: ACCOUNT, authToken: TOKEN, log: false,
    config: { callbackDelayMs: 5, ...config } });
}

export function messagesUrl(sim, account = ACCOUNT) {
  return `${sim.url}/2010-04-01/Accounts/${account}/Messages.json`;
}

export function basic(user = ACCOUNT, pass = TOKEN) {
  return `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;
}

// POSTs a form (arrays become repeated keys) to the Messages API; returns {status, body}.
export async function send(sim, params, { auth = basic(), account = ACCOUNT } = {}) {
  const headers = { 'Content-Type': 'application/x-www-form-urlencoded' };
  if (auth) headers.Authorization = auth;
  const res = await fetch(messagesUrl(sim, account), { method: 'POST', headers, body: formBody(params) });
  return { status: res.status, body: await res.json(), headers: res.headers };
}

export async function simJson(sim, method, path, body) {
  const res = await fetch(`${sim.url}${path}`, {
    method,
    headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

export const openWindow = (sim, user) => simJson(sim, 'POST', '/sim/window',
  { user, lastInboundAtMs: Date.now() });

// A WhatsApp text message that passes every rule.
export const textMessage = (to, extra = {}) => ({ To: `whatsapp:${to}`, From: SENDER, Body: 'hello', ...extra });

// Local receiver: records every request, answers 204 (or `status`), serves /media/*.
export async function startReceiver({ status = 204 } = {}) {
  const requests = [];
  const waiters = [];
  const media = new Map([
    ['/media/cat.jpg', { type: 'image/jpeg', body: Buffer.from('\xff\xd8\xff\xe0 fake jpeg bytes', 'latin1') }],
    ['/media/doc.pdf', { type: 'application/pdf', body: Buffer.from('%PDF-1.4 fake') }],
    ['/media/note.txt', { type: 'text/plain', body: Buffer.from('plain text') }],
  ]);
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      if (req.method === 'GET' && req.url.startsWith('/media/')) {
        const m = media.get(req.url);
        if (!m) { res.writeHead(404); res.end(); return; }
        res.writeHead(200, { 'Content-Type': m.type });
        res.end(m.body);
        return;
      }
      const raw = Buffer.concat(chunks).toString('utf8');
      const rec = { method: req.method, url: req.url, headers: req.headers, raw, params: parseForm(raw) };
      requests.push(rec);
      for (const w of [...waiters]) {
        if (w.pred(requests)) { waiters.splice(waiters.indexOf(w), 1); w.resolve(requests); }
      }
      res.writeHead(status);
      res.end();
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${server.address().port}`;
  return {
    base,
    requests,
    media,
    // Resolves with all requests once pred(requests) holds; rejects after timeoutMs.
    waitFor(pred, timeoutMs = 3000) {
      if (pred(requests)) return Promise.resolve(requests);
      return new Promise((resolve, reject) => {
        const w = { pred, resolve };
        waiters.push(w);
        setTimeout(() => {
          const i = waiters.indexOf(w);
          if (i >= 0) { waiters.splice(i, 1); reject(new Error(`receiver: condition not met in ${timeoutMs} ms; got ${JSON.stringify(requests.map((r) => r.params))}`)); }
        }, timeoutMs).unref();
      });
    },
    close: () => new Promise((r) => { server.close(r); server.closeAllConnections(); }),
  };
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
