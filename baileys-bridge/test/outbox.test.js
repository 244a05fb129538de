// The durable outbox: survives a "crash", waits out a down ingress, 400 → rejected/.
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { Outbox, isPermanent } from '../src/outbox.js';
import { bridgeMetrics } from '../src/metrics.js';
import { silent, tmpDir, fakeIngress, closedPort, waitFor, SECRET } from './helpers.js';

const mk = (dir, url, extra = {}) => new Outbox({ dir, url, secret: SECRET, logger: silent, metrics: bridgeMetrics(), baseBackoffMs: 10, maxBackoffMs: 100, ...extra });
const entry = (chat, n) => ({ chat, payload: { event: 'message', remoteJid: chat, messageId: `M${n}`, text: `m${n}` } });
const files = async (dir) => (await fs.readdir(dir)).filter((f) => f.endsWith('.json'));

test('entries written while ingress is down survive a crash and are delivered in order by a new instance', async (t) => {
  const dir = await tmpDir(t);
  const first = mk(dir, `http://127.0.0.1:${await closedPort()}/api/whatsapp/baileys`);
  await first.open();
  for (let i = 1; i <= 5; i++) await first.enqueue(entry('a@s.whatsapp.net', i));
  await first.enqueue(entry('b@s.whatsapp.net', 6));
  await waitFor(() => first.metrics.get('bridge_outbox_retries_total') > 0, { what: 'a failed attempt' });
  first.close(); // "crash": nothing delivered, files stay
  assert.equal((await files(dir)).length, 6);

  const ingress = await fakeIngress(t);
  const second = mk(dir, `${ingress.url}/api/whatsapp/baileys`);
  t.after(() => second.close());
  await second.open();
  await second.idle();
  assert.equal((await files(dir)).length, 0);
  const a = ingress.received.filter((r) => r.body.remoteJid === 'a@s.whatsapp.net').map((r) => r.body.messageId);
  assert.deepEqual(a, ['M1', 'M2', 'M3', 'M4', 'M5']);
  assert.equal(ingress.received.length, 6);
  assert.equal(ingress.received[0].headers['x-baileys-secret'], SECRET);
  assert.equal(ingress.received[0].path, '/api/whatsapp/baileys');
  assert.equal(second.metrics.get('bridge_inbound_forwarded_total', { event: 'message' }), 6);
});

test('ingress answering 503 then 204: retried until the 2xx, kept on disk until then', async (t) => {
  const dir = await tmpDir(t);
  let up = false;
  const ingress = await fakeIngress(t, () => (up ? 204 : 503));
  const ob = mk(dir, `${ingress.url}/api/whatsapp/baileys`);
  t.after(() => ob.close());
  await ob.open();
  await ob.enqueue(entry('a@s.whatsapp.net', 1));
  await waitFor(() => ob.metrics.get('bridge_outbox_retries_total') >= 2, { what: 'retries' });
  assert.equal((await files(dir)).length, 1);
  up = true;
  await ob.idle();
  assert.equal(ingress.received.length, 1);
  assert.equal((await files(dir)).length, 0);
});

test('a 400 from ingress is permanent: moved to rejected/, later entries still flow', async (t) => {
  const dir = await tmpDir(t);
  const ingress = await fakeIngress(t, (req, body) => (body.messageId === 'M1' ? 400 : 204));
  const ob = mk(dir, `${ingress.url}/api/whatsapp/baileys`);
  t.after(() => ob.close());
  await ob.open();
  await ob.enqueue(entry('a@s.whatsapp.net', 1));
  await ob.enqueue(entry('a@s.whatsapp.net', 2));
  await ob.idle();
  assert.deepEqual(ingress.received.map((r) => r.body.messageId), ['M2']);
  const rejected = await files(path.join(dir, 'rejected'));
  assert.equal(rejected.length, 1);
  assert.equal(JSON.parse(await fs.readFile(path.join(dir, 'rejected', rejected[0]), 'utf8')).payload.messageId, 'M1');
  assert.equal(ob.metrics.get('bridge_outbox_rejected_total'), 1);
});

test('a torn temp file from a crash is ignored and removed on start', async (t) => {
  const dir = await tmpDir(t);
  await fs.writeFile(path.join(dir, '.00000000000000000001.json.123.abcd.tmp'), '{"chat":');
  const ingress = await fakeIngress(t);
  const ob = mk(dir, `${ingress.url}/x`);
  t.after(() => ob.close());
  await ob.open();
  await ob.idle();
  assert.deepEqual((await fs.readdir(dir)).sort(), ['rejected', 'to-report']);
});

/** A pino-shaped logger that keeps what is logged. */
function recordingLogger() {
  const lines = [];
  const l = {};
  for (const level of ['fatal', 'error', 'warn', 'info', 'debug', 'trace']) l[level] = (o, msg) => lines.push({ level, ...o, msg });
  l.child = () => l;
  return { logger: l, lines };
}

test('isPermanent: every 4xx but 401, 403, 408 and 429; never 2xx, 3xx or 5xx', () => {
  for (let s = 100; s < 600; s++) assert.equal(isPermanent(s), s >= 400 && s < 500 && ![401, 403, 408, 429].includes(s), String(s));
});

for (const status of [400, 404, 409, 413, 415, 422, 451]) {
  test(`ingress answering ${status}: permanent, moved to rejected/ with the status and the answer, counted, logged once at warn, the chat's next entry goes out`, async (t) => {
    const dir = await tmpDir(t);
    const answer = JSON.stringify({ ok: false, error: `refused with ${status}` });
    let asked = 0;
    const ingress = await fakeIngress(t, (req, body) => (body.messageId === 'M1' ? (asked++, { status, body: answer }) : 204));
    const { logger, lines } = recordingLogger();
    const ob = mk(dir, `${ingress.url}/api/whatsapp/baileys`, { logger });
    t.after(() => ob.close());
    await ob.open();
    await ob.enqueue(entry('a@s.whatsapp.net', 1));
    await ob.enqueue(entry('a@s.whatsapp.net', 2));
    // bounded: before the fix a 413 was retried forever and M2 waited behind it
    await waitFor(() => ob.depth === 0, { timeout: 3000, what: `the chat to get past the ${status}` });
    assert.equal(asked, 1, 'asked once, not retried');
    assert.deepEqual(ingress.received.map((r) => r.body.messageId), ['M2']);
    assert.deepEqual(await files(dir), []);
    const rejected = await files(path.join(dir, 'rejected'));
    assert.equal(rejected.length, 1);
    const r = JSON.parse(await fs.readFile(path.join(dir, 'rejected', rejected[0]), 'utf8'));
    assert.deepEqual(r.payload, entry('a@s.whatsapp.net', 1).payload);
    assert.equal(r.chat, 'a@s.whatsapp.net');
    assert.equal(r.rejected.status, status);
    assert.equal(r.rejected.response, answer);
    assert.ok(!Number.isNaN(Date.parse(r.rejected.at)));
    assert.equal(ob.metrics.get('bridge_outbox_rejected_total', { status: String(status) }), 1);
    assert.match(ob.metrics.render(), new RegExp(`^bridge_outbox_rejected_total\\{status="${status}"\\} 1$`, 'm'));
    assert.equal(ob.metrics.get('bridge_outbox_retries_total'), 0);
    const logged = lines.filter((l) => l.messageId === 'M1' && l.status === status);
    assert.equal(logged.length, 1, 'logged once');
    assert.equal(logged[0].level, 'warn');
    assert.equal(logged[0].chat, 'a@s.whatsapp.net');
  });
}

for (const status of [401, 403, 408, 429, 500, 502, 503]) {
  test(`ingress answering ${status}: retried with backoff (the entry waits, the chat after it too), delivered once ingress takes it`, async (t) => {
    const dir = await tmpDir(t);
    let fails = 2;
    const ingress = await fakeIngress(t, (req, body) => (body.messageId === 'M1' && fails-- > 0 ? { status, body: '{}' } : 204));
    const ob = mk(dir, `${ingress.url}/api/whatsapp/baileys`);
    t.after(() => ob.close());
    await ob.open();
    await ob.enqueue(entry('a@s.whatsapp.net', 1));
    await ob.enqueue(entry('a@s.whatsapp.net', 2));
    await ob.idle();
    assert.deepEqual(ingress.received.map((r) => r.body.messageId), ['M1', 'M2']);
    assert.equal(ob.metrics.get('bridge_outbox_retries_total'), 2);
    assert.equal(ob.metrics.get('bridge_outbox_rejected_total'), 0);
    assert.deepEqual(await files(path.join(dir, 'rejected')), []);
  });
}
