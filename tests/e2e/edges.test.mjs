// edges.test.mjs - the public listeners against slow and abusive clients, behind a reverse proxy,
// and who may read their metrics. Second instances of ingress and the dashboard run beside the
// stack's with the settings under test; the rest of the stack (Kafka, the router, the CRM) is the
// one every test uses. Slow clients connect from 127.0.0.2 and up (loopback addresses of their
// own), so the per-address cap holds them and not the tests' own requests from 127.0.0.1.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { formBody, inboundParams, sign } from '../../sim/twilio/webhook.mjs';
import { root, env, token, TWILIO_PATH, uniquePhone, waitFor, messagesFor, db, freePort, startExtra, stopExtra, sleep,
  bridgeMessage } from './lib.mjs';

test.after(async () => {
  await stopExtra();
  await db.end();
});

const healthy = (listen) => async () => (await fetch(`http://${listen}/healthz`)).status === 200;

/** A connection from localAddress that sends a request line and then one header line every
 * everyMs, never finishing its headers. Resolves the socket once connected; socket.closedAt is
 * set when the server closes it. */
function slowClient(port, localAddress, everyMs) {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1', localAddress });
    s.closedAt = null;
    let timer = null;
    const end = () => {
      if (s.closedAt === null) s.closedAt = Date.now();
      clearInterval(timer);
    };
    s.on('error', end);
    s.on('close', end);
    s.on('data', () => {});
    s.on('connect', () => {
      s.write(`POST ${TWILIO_PATH} HTTP/1.1\r\nHost: slow\r\n`);
      let n = 0;
      timer = setInterval(() => { if (!s.destroyed) s.write(`X-Slow-${n++}: still here\r\n`); }, everyMs);
      resolve(s);
    });
    s.setTimeout(60000, () => s.destroy());
    // A connection the server refuses at once may close before 'connect' matters.
    s.once('close', () => resolve(s));
  });
}

function signedWebhook(base, phone, n) {
  const params = inboundParams({ from: phone, body: `under siege ${n}` });
  return { params, init: { method: 'POST', body: formBody(params), headers: {
    'Content-Type': 'application/x-www-form-urlencoded', 'X-Twilio-Signature': sign(token, `${base}${TWILIO_PATH}`, params) } } };
}

async function metricValue(listen, name, headers = {}) {
  const text = await (await fetch(`http://${listen}/metrics`, { headers })).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line ? Number(line.split(' ')[1]) : null;
}

test('1,000 slow connections: each address gets its cap, each request its deadline, and webhooks are answered in under 100 ms', async () => {
  const port = await freePort();
  const listen = `127.0.0.1:${port}`;
  const base = `http://${listen}`;
  await startExtra('ingress', 'edges', { INGRESS_LISTEN: listen, PUBLIC_BASE_URL: base, INGRESS_MAX_CONNS_PER_IP: '64',
    INGRESS_REQUEST_DEADLINE_S: '4', INGRESS_CLIENT_TIMEOUT_S: '30' }, healthy(listen));

  // 1,000 connections from ten addresses, each sending a header line every second: never idle,
  // never done.
  const slow = [];
  for (let i = 0; i < 1000; i++) slow.push(slowClient(port, `127.0.0.${2 + (i % 10)}`, 1000));
  const sockets = await Promise.all(slow);
  await sleep(1000);
  const open = sockets.filter((s) => s.closedAt === null).length;
  // 64 per address, ten addresses: the rest were turned away.
  assert.ok(open <= 640, `${open} slow connections still open`);
  assert.ok(open >= 500, `only ${open} slow connections open: the cap is 64 per address`);

  // Meanwhile, Twilio's webhooks.
  const phone = uniquePhone();
  const took = [];
  for (let n = 0; n < 100; n++) {
    const { init } = signedWebhook(base, phone, n);
    const t0 = performance.now();
    const r = await fetch(`${base}${TWILIO_PATH}`, init);
    took.push(performance.now() - t0);
    assert.equal(r.status, 204, await r.text());
  }
  took.sort((a, b) => a - b);
  const p95 = took[94], p50 = took[49];
  console.log(`webhooks beside ${open} slow connections: p50 ${p50.toFixed(1)} ms, p95 ${p95.toFixed(1)} ms, max ${took[99].toFixed(1)} ms`);
  assert.ok(p95 < 100, `p95 ${p95.toFixed(1)} ms`);

  // The deadline (4 s from the first byte) cuts every slow one, though none was ever idle.
  await waitFor('every slow connection cut', () => sockets.every((s) => s.closedAt !== null), { timeoutMs: 15000 });
  const cut = await metricValue(listen, 'wa_http_deadline_cut_total');
  assert.ok(cut >= open, `wa_http_deadline_cut_total ${cut}, ${open} were open`);
  const rows = await waitFor('the 100 webhooks in the CRM', async () => {
    const m = await messagesFor(phone);
    return m.length >= 100 ? m : null;
  }, { timeoutMs: 30000, logs: ['router'] });
  assert.equal(rows.length, 100);
});

test('behind a trusted proxy the client is the one X-Forwarded-For names, and only then', async () => {
  const port = await freePort();
  const listen = `127.0.0.1:${port}`;
  await startExtra('ingress', 'proxy', { INGRESS_LISTEN: listen, PUBLIC_BASE_URL: `http://${listen}`,
    TRUSTED_PROXIES: '127.0.0.1', BAILEYS_ALLOWED_IPS: '203.0.113.0/24', METRICS_TOKEN: '' }, healthy(listen));
  const post = (forwarded, localAddress) => new Promise((resolve, reject) => {
    // Node's fetch cannot pick the source address: a raw request does.
    const body = JSON.stringify(bridgeMessage(uniquePhone()));
    const s = net.connect({ port, host: '127.0.0.1', localAddress }, () => {
      s.write(`POST /api/whatsapp/baileys HTTP/1.1\r\nHost: ${listen}\r\nContent-Type: application/json\r\n` +
        `X-BAILEYS-SECRET: ${env.BAILEYS_WEBHOOK_SECRET}\r\n` + (forwarded ? `X-Forwarded-For: ${forwarded}\r\n` : '') +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
    });
    let text = '';
    s.on('data', (d) => { text += d; });
    s.on('end', () => resolve(Number(text.split(' ')[1])));
    s.on('error', reject);
  });
  // From the proxy (127.0.0.1), for a client on the allowlist: taken.
  assert.equal(await post('203.0.113.9', '127.0.0.1'), 204);
  // From the proxy, for a client off it: refused.
  assert.equal(await post('198.51.100.1', '127.0.0.1'), 403);
  // A client that wrote the header itself, passed on by the proxy: the address the proxy saw counts.
  assert.equal(await post('203.0.113.9, 198.51.100.1', '127.0.0.1'), 403);
  // Not from the proxy: the header is ignored, and 127.0.0.2 is not on the allowlist.
  assert.equal(await post('203.0.113.9', '127.0.0.2'), 403);
  // The proxy itself, with no header, is not on the allowlist either.
  assert.equal(await post(null, '127.0.0.1'), 403);

  // Metrics without METRICS_TOKEN: for this machine only, and a request the proxy forwards comes
  // from its client.
  assert.equal((await fetch(`http://${listen}/metrics`)).status, 200);
  const forwarded = await fetch(`http://${listen}/metrics`, { headers: { 'X-Forwarded-For': '203.0.113.9' } });
  assert.equal(forwarded.status, 403);
  assert.equal((await forwarded.json()).error, 'metrics_local_only');
});

test('METRICS_TOKEN: /metrics needs it as a bearer token, from anywhere', async () => {
  const listen = `127.0.0.1:${await freePort()}`;
  const logFile = `${env.WA_STATE}/log/ingress-metrics.log`;
  const from = fs.existsSync(logFile) ? fs.statSync(logFile).size : 0; /* a state used before keeps its log */
  await startExtra('ingress', 'metrics', { INGRESS_LISTEN: listen, PUBLIC_BASE_URL: `http://${listen}`,
    METRICS_TOKEN: 'metrics-token-for-tests' }, healthy(listen));
  assert.equal((await fetch(`http://${listen}/metrics`)).status, 401);
  assert.equal((await fetch(`http://${listen}/metrics`, { headers: { Authorization: 'Bearer wrong' } })).status, 403);
  const ok = await fetch(`http://${listen}/metrics`, { headers: { Authorization: 'Bearer metrics-token-for-tests' } });
  assert.equal(ok.status, 200);
  assert.match(await ok.text(), /wa_ingress_webhooks_total/);
  // The start-up listing masks it.
  const log = fs.readFileSync(logFile).subarray(from).toString('utf8');
  assert.doesNotMatch(log, /metrics-token-for-tests/);
  assert.match(log, /METRICS_TOKEN/);
  // Nothing at start that is not the operator's to act on: libmicrohttpd warned at every start
  // while our logger was not its first option.
  assert.doesNotMatch(log, /warn: http /);
});

test('a bad TRUSTED_PROXIES entry stops ingress and the dashboard at start, with one clear line', () => {
  for (const bin of ['ingress', 'dashboard']) {
    const r = spawnSync(path.join(root, 'build/bin', bin), [], { env: { ...env, TRUSTED_PROXIES: '10.0.0.0/' },
      encoding: 'utf8', timeout: 15000 });
    assert.equal(r.status, 78, `${bin}: ${r.stderr}`);
    assert.match(r.stderr, /config: TRUSTED_PROXIES: entry 1 "10\.0\.0\.0\/" is not an address or a network/);
  }
});

test('the dashboard holds idle and live connections without a thread each, and cuts a slow request', async () => {
  const port = await freePort();
  const listen = `127.0.0.1:${port}`;
  const child = await startExtra('dashboard', 'edges', { DASHBOARD_LISTEN: listen, DASHBOARD_REQUEST_DEADLINE_S: '3',
    DASHBOARD_MAX_CONNS_PER_IP: '32' }, healthy(listen));
  const threads = () => Number(/Threads:\s+(\d+)/.exec(fs.readFileSync(`/proc/${child.pid}/status`, 'utf8'))[1]);
  const before = threads();

  // 200 live-event connections (20 addresses, 10 each), waiting for the next event.
  const live = [];
  for (let i = 0; i < 200; i++) {
    live.push(new Promise((resolve, reject) => {
      const s = net.connect({ port, host: '127.0.0.1', localAddress: `127.0.1.${1 + (i % 20)}` }, () => {
        s.write(`GET /api/events HTTP/1.1\r\nHost: ${listen}\r\nAuthorization: Bearer ${env.DASHBOARD_TOKEN}\r\n\r\n`);
      });
      let text = '';
      s.on('data', (d) => {
        text += d;
        if (text.includes('retry:')) resolve(s);
      });
      s.on('error', reject);
    }));
  }
  const sockets = await Promise.all(live);
  // And 100 slow ones, 10 addresses: they are cut at the deadline.
  const slow = await Promise.all(Array.from({ length: 100 }, (_, i) => slowClient(port, `127.0.2.${1 + (i % 10)}`, 500)));
  await sleep(500);
  const during = threads();
  console.log(`dashboard threads: ${before} before, ${during} with 200 live and 100 slow connections`);
  assert.ok(during - before < 10, `threads ${before} -> ${during}`);

  // The API still answers at once.
  const t0 = performance.now();
  const r = await fetch(`http://${listen}/api/leads?limit=1`, { headers: { Authorization: `Bearer ${env.DASHBOARD_TOKEN}` } });
  assert.equal(r.status, 200);
  assert.ok(performance.now() - t0 < 1000);

  await waitFor('the slow requests cut', () => slow.every((s) => s.closedAt !== null), { timeoutMs: 10000 });
  // The live ones are answered requests, not slow ones: still open.
  assert.ok(sockets.every((s) => !s.destroyed && s.readyState === 'open'));
  for (const s of sockets) s.destroy();
});
