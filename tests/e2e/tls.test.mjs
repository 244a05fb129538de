// tls.test.mjs - ingress and the dashboard serving HTTPS themselves (INGRESS_TLS_CERT/KEY,
// DASHBOARD_TLS_CERT/KEY), with the local CA of scripts/tls.sh. A second ingress and a second
// dashboard run with TLS on ports of their own, beside the stack's plain ones, and are stopped at
// the end: the rest of the stack (Kafka, the router, the CRM) is the one every test uses.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import tls from 'node:tls';
import path from 'node:path';
import { formBody, inboundParams, sign } from '../../sim/twilio/webhook.mjs';
import { root, env, token, TWILIO_PATH, uniquePhone, waitFor, messagesFor, db, freePort, startExtra, stopExtra,
  twilioContact } from './lib.mjs';

const tlsDir = execFileSync(path.join(root, 'scripts/tls.sh'), [path.join(env.WA_STATE, 'tls')],
  { encoding: 'utf8' }).trim();
const ca = fs.readFileSync(path.join(tlsDir, 'ca.pem'));
const cert = path.join(tlsDir, 'server.pem');
const key = path.join(tlsDir, 'server.key');

test.after(async () => {
  await stopExtra();
  await db.end();
});

/** One HTTPS request on a new connection (no kept-alive one made with another trust), trusting
 * only the local CA unless trust says which. Resolves { status, headers, body }. */
function request(url, { method = 'GET', headers = {}, body, trust = ca } = {}) {
  return new Promise((resolve, reject) => {
    const req = https.request(url, { method, headers, ca: trust, agent: false, timeout: 10000 }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString() }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(body);
  });
}

/** Starts a second build/bin/NAME serving TLS on listen; resolves once https://listen/healthz
 * answers 200. */
function startTls(name, extra, listen) {
  return startExtra(name, 'tls', extra, async () => (await request(`https://${listen}/healthz`)).status === 200);
}

test('a webhook Twilio signed for the https:// URL reaches the CRM through ingress serving TLS', async () => {
  const listen = `127.0.0.1:${await freePort()}`;
  const publicBase = `https://${listen}`;
  await startTls('ingress', { INGRESS_LISTEN: listen, PUBLIC_BASE_URL: publicBase, INGRESS_TLS_CERT: cert,
    INGRESS_TLS_KEY: key }, listen);

  // Not over plain HTTP, and not to a client that does not trust the CA.
  await assert.rejects(fetch(`http://${listen}/healthz`));
  // Node's own CA list (the public CAs), without NODE_EXTRA_CA_CERTS: the local CA is not in it.
  await assert.rejects(request(`https://${listen}/healthz`, { trust: tls.rootCertificates }),
    /self-signed|issuer|certificate/i);

  const phone = uniquePhone();
  const params = inboundParams({ from: phone, body: 'hello over https' });
  const post = (signedFor) => request(`${publicBase}${TWILIO_PATH}`, { method: 'POST', body: formBody(params),
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', 'X-Twilio-Signature': sign(token, signedFor, params) } });
  // Signed for the http:// URL: not what Twilio called, so refused.
  const wrong = await post(`http://${listen}${TWILIO_PATH}`);
  assert.equal(wrong.status, 403, wrong.body);
  const ok = await post(`${publicBase}${TWILIO_PATH}`);
  assert.equal(ok.status, 204, ok.body);
  const rows = await waitFor('the message in the CRM', async () => {
    const m = await messagesFor(phone);
    return m.length ? m : null;
  }, { logs: ['router'] });
  assert.equal(rows.length, 1);
  assert.equal(rows[0].body, 'hello over https');
  assert.equal(rows[0].provider, 'twilio');
  assert.equal(rows[0].provider_message_id, params.MessageSid);
});

test('the dashboard serving TLS gives a Secure session cookie, and takes it back over HTTPS', async () => {
  const listen = `127.0.0.1:${await freePort()}`;
  await startTls('dashboard', { DASHBOARD_LISTEN: listen, DASHBOARD_TLS_CERT: cert, DASHBOARD_TLS_KEY: key,
    DASHBOARD_COOKIE_SECURE: '0' }, listen);
  const login = await request(`https://${listen}/login`, { method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ token: env.DASHBOARD_TOKEN }).toString() });
  assert.equal(login.headers.location, '/', `login answered ${login.status} ${login.body}`);
  const cookie = login.headers['set-cookie']?.[0];
  assert.ok(cookie, 'a session cookie');
  // DASHBOARD_COOKIE_SECURE=0 is overridden: under TLS the cookie never travels in clear.
  assert.match(cookie, /;\s*Secure(;|$)/);
  assert.match(cookie, /HttpOnly/);
  const leads = await request(`https://${listen}/api/leads?limit=1`, { headers: { Cookie: cookie.split(';')[0] } });
  assert.equal(leads.status, 200, leads.body);
  assert.ok(Array.isArray(JSON.parse(leads.body).leads));

  // The stack's own dashboard, plain HTTP with DASHBOARD_COOKIE_SECURE unset: no Secure (a
  // browser would drop such a cookie on http://), so the attribute above came from TLS. (Not when
  // the whole stack runs with WA_TLS=1: that one serves HTTPS too.)
  if (env.DASHBOARD_TLS_CERT || env.DASHBOARD_COOKIE_SECURE === '1') return;
  const plain = await fetch(`http://${env.DASHBOARD_LISTEN}/login`, { method: 'POST', redirect: 'manual',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ token: env.DASHBOARD_TOKEN }).toString() });
  assert.doesNotMatch(plain.headers.get('set-cookie') ?? '', /Secure/);
});

test('the dashboard hands a reply to an https send API, trusting DASHBOARD_SEND_CA_FILE; without it the reply is not sent', async () => {
  const ingress = `127.0.0.1:${await freePort()}`;
  await startTls('ingress', { INGRESS_LISTEN: ingress, PUBLIC_BASE_URL: `https://${ingress}`, INGRESS_TLS_CERT: cert,
    INGRESS_TLS_KEY: key }, ingress);
  const dashboard = async (tag, extra) => {
    const listen = `127.0.0.1:${await freePort()}`;
    await startExtra('dashboard', tag, { DASHBOARD_LISTEN: listen, DASHBOARD_SEND_URL: `https://${ingress}/api/whatsapp/send`,
      DASHBOARD_SEND_CA_FILE: '', DASHBOARD_TLS_CERT: '', DASHBOARD_TLS_KEY: '', ...extra },
    async () => (await fetch(`http://${listen}/healthz`)).status === 200);
    return listen;
  };
  const phone = await twilioContact();
  const auth = { Authorization: `Bearer ${env.DASHBOARD_TOKEN}`, 'Content-Type': 'application/json' };
  const reply = async (listen, text) => {
    const leads = await (await fetch(`http://${listen}/api/leads?q=${encodeURIComponent(phone)}`, { headers: auth })).json();
    const lead = leads.leads.find((l) => l.phone === phone);
    return fetch(`http://${listen}/api/leads/${lead.id}/reply`, { method: 'POST', headers: auth,
      body: JSON.stringify({ idempotencyKey: crypto.randomUUID(), type: 'text', text }) });
  };
  // The system's CAs only: the local CA's certificate is refused, and nothing is sent.
  const untrusting = await dashboard('send-noca', {});
  const refused = await reply(untrusting, 'not over an unverified connection');
  assert.equal(refused.status, 503, await refused.text());
  assert.equal((await messagesFor(phone)).filter((m) => m.direction === 'outbound').length, 0);
  // Trusting the local CA: the send API takes it.
  const trusting = await dashboard('send-ca', { DASHBOARD_SEND_CA_FILE: path.join(tlsDir, 'ca.pem') });
  const ok = await reply(trusting, 'over https to the send API');
  assert.ok([200, 202].includes(ok.status), `${ok.status} ${await ok.text()}`);
  await waitFor('the reply stored', async () => (await messagesFor(phone)).some((m) => m.body === 'over https to the send API'));
  // A file that is no CA: the dashboard does not start.
  const bad = spawnSync(path.join(root, 'build/bin/dashboard'), [], { env: { ...env, DASHBOARD_LISTEN: '127.0.0.1:1',
    DASHBOARD_SEND_CA_FILE: key }, encoding: 'utf8', timeout: 15000 });
  assert.equal(bad.status, 78);
  assert.match(bad.stderr, /config: DASHBOARD_SEND_CA_FILE=.*: no PEM certificate in it/);
});

test('TLS half configured, or a key that is not the certificate\'s: ingress and dashboard refuse to start', () => {
  const run = (bin, extra) => spawnSync(path.join(root, 'build/bin', bin), [], { env: { ...env, ...extra },
    encoding: 'utf8', timeout: 15000 });
  // Empty is unset (the stack may run with WA_TLS=1, which sets both).
  const half = run('ingress', { INGRESS_LISTEN: '127.0.0.1:1', INGRESS_TLS_CERT: cert, INGRESS_TLS_KEY: '' });
  assert.equal(half.status, 78);
  assert.match(half.stderr, /config: INGRESS_TLS_CERT is set but INGRESS_TLS_KEY is not: set both \(HTTPS\) or neither/);
  const swapped = run('dashboard', { DASHBOARD_LISTEN: '127.0.0.1:1', DASHBOARD_TLS_CERT: key, DASHBOARD_TLS_KEY: cert });
  assert.equal(swapped.status, 78);
  assert.match(swapped.stderr, /config: DASHBOARD_TLS_CERT=\S+server\.key: no PEM certificate in it/);
  const missing = run('dashboard', { DASHBOARD_LISTEN: '127.0.0.1:1', DASHBOARD_TLS_CERT: cert,
    DASHBOARD_TLS_KEY: path.join(tlsDir, 'nope.key') });
  assert.equal(missing.status, 78);
  assert.match(missing.stderr, /config: DASHBOARD_TLS_KEY=\S+nope\.key: cannot read it: No such file or directory/);
});
