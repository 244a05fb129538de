// Parked entries are reported to ingress (which raises wa.error with the payload): once ingress
// takes the report, again after a restart until it does, never in the way of the chat's entries.
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { Outbox } from '../src/outbox.js';
import { ParkedReporter, reportBody, describeParked, truncateUtf8, TO_REPORT } from '../src/parked.js';
import { bridgeMetrics } from '../src/metrics.js';
import { silent, tmpDir, fakeIngress, waitFor, SECRET, startBridge, call } from './helpers.js';

const INBOUND = '/api/whatsapp/baileys';
const PARKED = '/api/whatsapp/baileys/parked';
const entry = (chat, n, extra = {}) => ({ chat, payload: { event: 'message', remoteJid: chat, messageId: `M${n}`, text: `m${n}`, ...extra } });
const jsonFiles = async (dir) => (await fs.readdir(dir)).filter((f) => f.endsWith('.json'));

/** An outbox and its reporter wired as app.js wires them, over one fake ingress. */
async function pair(t, dir, ingressUrl, { metrics = bridgeMetrics(), maxBytes, logger = silent } = {}) {
  const parked = new ParkedReporter({ dir, url: ingressUrl + PARKED, secret: SECRET, logger, metrics, baseBackoffMs: 10, maxBackoffMs: 50, maxBytes });
  const outbox = new Outbox({ dir, url: ingressUrl + INBOUND, secret: SECRET, logger: silent, metrics, baseBackoffMs: 10, maxBackoffMs: 50, onParked: (n) => parked.add(n) });
  t.after(() => { outbox.close(); parked.close(); });
  await parked.open();
  await outbox.open();
  return { parked, outbox, metrics };
}

/** Ingress refusing M1 with 400 (as it refuses a number it does not take), taking the rest. */
const refusesM1 = (reports) => (req, body) => {
  if (req.url === PARKED) return reports(body);
  return body.messageId === 'M1' ? { status: 400, body: '{"error":"bad_request","message":"phone is not a phone number in E.164"}' } : 204;
};

test('a parked entry is reported once with its payload, the reason and the file name; the chat goes on', async (t) => {
  const dir = await tmpDir(t);
  const ingress = await fakeIngress(t, refusesM1(() => 204));
  const { parked, outbox, metrics } = await pair(t, dir, ingress.url);
  const first = entry('6834002@s.whatsapp.net', 1, { phone: '+6834002', text: 'שלום' });
  await outbox.enqueue(first);
  await outbox.enqueue(entry('6834002@s.whatsapp.net', 2));
  await outbox.idle();
  await parked.idle();
  const inbound = ingress.received.filter((r) => r.path === INBOUND).map((r) => r.body.messageId);
  assert.deepEqual(inbound, ['M2'], 'the chat went on past the parked entry');
  const reports = ingress.received.filter((r) => r.path === PARKED);
  assert.equal(reports.length, 1);
  const [name] = await jsonFiles(path.join(dir, 'rejected'));
  const r = reports[0];
  assert.equal(r.headers['x-baileys-secret'], SECRET);
  assert.equal(r.headers['content-type'], 'application/json');
  assert.equal(r.body.file, name);
  assert.equal(r.body.kind, 'message');
  assert.equal(r.body.chat, '6834002@s.whatsapp.net');
  assert.equal(r.body.status, 400);
  assert.match(r.body.response, /not a phone number/);
  assert.ok(!Number.isNaN(Date.parse(r.body.rejectedAt)));
  assert.deepEqual(JSON.parse(r.body.payload), first.payload, 'the payload, whole');
  assert.equal(r.body.payloadBytes, Buffer.byteLength(r.body.payload));
  assert.equal(r.body.truncated, false);
  assert.deepEqual(await fs.readdir(path.join(dir, TO_REPORT)), [], 'the marker goes once reported');
  assert.equal(metrics.get('bridge_outbox_rejected_reported_total'), 1);
  assert.equal(metrics.get('bridge_outbox_rejected_unreported'), 0);
  assert.match(metrics.render(), /^bridge_outbox_rejected_reported_total 1$/m);
  // The parked entry itself stays for inspection.
  assert.equal(JSON.parse(await fs.readFile(path.join(dir, 'rejected', name), 'utf8')).payload.messageId, 'M1');
});

test('ingress away for reports: retried with backoff while the chat flows; a restart before it took the report still reports it, once', async (t) => {
  const dir = await tmpDir(t);
  let reportsUp = false;
  const ingress = await fakeIngress(t, refusesM1(() => (reportsUp ? 204 : 503)));
  const metrics = bridgeMetrics();
  const a = await pair(t, dir, ingress.url, { metrics });
  await a.outbox.enqueue(entry('a@s.whatsapp.net', 1));
  for (let i = 2; i <= 4; i++) await a.outbox.enqueue(entry('a@s.whatsapp.net', i));
  // bounded: the chat must not wait for the report
  await waitFor(() => a.outbox.depth === 0, { timeout: 3000, what: 'the chat to flow while the report waits' });
  assert.deepEqual(ingress.received.filter((r) => r.path === INBOUND).map((r) => r.body.messageId), ['M2', 'M3', 'M4']);
  await waitFor(() => metrics.get('bridge_outbox_rejected_report_retries_total') >= 2, { what: 'report retries' });
  assert.equal(a.parked.pending, 1);
  assert.equal(metrics.get('bridge_outbox_rejected_unreported'), 1);
  assert.equal(metrics.get('bridge_outbox_rejected_reported_total'), 0);
  a.outbox.close(); // "crash" before ingress took the report
  a.parked.close();
  const [marker] = await fs.readdir(path.join(dir, TO_REPORT));
  assert.ok(marker, 'the marker survives');
  // A report cut off by the close may still reach the fake ingress: let it be answered 503.
  await new Promise((r) => setTimeout(r, 200));
  const before = ingress.received.length;

  reportsUp = true;
  const b = await pair(t, dir, ingress.url);
  await b.parked.idle();
  const reports = ingress.received.slice(before).filter((r) => r.path === PARKED);
  assert.equal(reports.length, 1, 'reported once');
  assert.equal(reports[0].body.file, marker);
  assert.equal(JSON.parse(reports[0].body.payload).messageId, 'M1');
  assert.equal(b.metrics.get('bridge_outbox_rejected_reported_total'), 1);
  assert.deepEqual(await fs.readdir(path.join(dir, TO_REPORT)), []);
  // A third start has nothing left to report.
  const c = await pair(t, dir, ingress.url);
  await c.parked.idle();
  assert.equal(ingress.received.slice(before).filter((r) => r.path === PARKED).length, 1);
});

test('a payload too large for the report: its first bytes (whole characters), flagged truncated with the full size; the body fits', async (t) => {
  const dir = await tmpDir(t);
  const sizes = [];
  const ingress = await fakeIngress(t, (req, body) => {
    if (req.url === PARKED) return 204;
    return body.messageId === 'M1' ? 413 : 204;
  });
  ingress.server.prependListener('request', (req) => sizes.push([req.url, Number(req.headers['content-length'])]));
  const { parked, outbox } = await pair(t, dir, ingress.url, { maxBytes: 4096 });
  const big = entry('a@s.whatsapp.net', 1, { text: 'ש"'.repeat(5000) }); // quotes: escaped twice over
  await outbox.enqueue(big);
  await outbox.idle();
  await parked.idle();
  const [r] = ingress.received.filter((x) => x.path === PARKED);
  const whole = JSON.stringify(big.payload);
  assert.equal(r.body.truncated, true);
  assert.equal(r.body.payloadBytes, Buffer.byteLength(whole));
  assert.ok(whole.startsWith(r.body.payload), 'a prefix of the payload');
  assert.ok(!r.body.payload.includes('\uFFFD'), 'no character cut in half');
  assert.ok(r.body.payload.length > 1000, 'as much as fits');
  const reportSize = sizes.filter(([u]) => u === PARKED).map(([, n]) => n);
  assert.ok(reportSize.every((n) => n <= 4096), `report sizes ${reportSize}`);
});

test('ingress answering 413 to a report: the same report again, smaller, until it fits', async (t) => {
  const dir = await tmpDir(t);
  const limit = 3000; // ingress takes less than the bridge assumed
  const ingress = await fakeIngress(t, (req, body) => {
    if (req.url === PARKED) return JSON.stringify(body).length > limit ? 413 : 204;
    return body.messageId === 'M1' ? 400 : 204;
  });
  const { parked, outbox, metrics } = await pair(t, dir, ingress.url, { maxBytes: 64 * 1024 });
  await outbox.enqueue(entry('a@s.whatsapp.net', 1, { text: 'x'.repeat(50000) }));
  await outbox.idle();
  await parked.idle();
  const [r] = ingress.received.filter((x) => x.path === PARKED);
  assert.equal(r.body.truncated, true);
  assert.ok(r.body.payloadBytes > 50000);
  assert.equal(metrics.get('bridge_outbox_rejected_reported_total'), 1);
  assert.equal(metrics.get('bridge_outbox_rejected_report_retries_total'), 0, 'shrinking is not a retry');
});

test('ingress refusing a report (400): not retried in this run, the marker kept for the next start, the next report goes', async (t) => {
  const dir = await tmpDir(t);
  let asked = 0;
  const ingress = await fakeIngress(t, (req, body) => {
    if (req.url === PARKED) return JSON.parse(body.payload).messageId === 'M1' ? (asked++, 400) : 204;
    return 422;
  });
  const { parked, outbox, metrics } = await pair(t, dir, ingress.url);
  await outbox.enqueue(entry('a@s.whatsapp.net', 1));
  await outbox.enqueue(entry('b@s.whatsapp.net', 2));
  await outbox.idle();
  await parked.idle();
  assert.equal(asked, 1);
  assert.deepEqual(ingress.received.filter((x) => x.path === PARKED).map((x) => JSON.parse(x.body.payload).messageId), ['M2']);
  assert.equal(metrics.get('bridge_outbox_rejected_report_errors_total', { status: '400' }), 1);
  assert.equal((await fs.readdir(path.join(dir, TO_REPORT))).length, 1);
});

test('an outbox entry that cannot be read is parked and reported as "unreadable", its text as the payload', async (t) => {
  const dir = await tmpDir(t);
  const name = '00000000000000000007.json';
  await fs.writeFile(path.join(dir, name), '{"chat":"a@s.whatsapp.net","payload":{"text":"torn\u0000');
  const ingress = await fakeIngress(t);
  const { parked } = await pair(t, dir, ingress.url);
  await parked.idle();
  const [r] = ingress.received.filter((x) => x.path === PARKED);
  assert.equal(r.body.file, name);
  assert.equal(r.body.kind, 'unreadable');
  assert.match(r.body.reason, /^unreadable outbox entry: /);
  assert.equal(r.body.status, undefined);
  assert.equal(r.body.payload, '{"chat":"a@s.whatsapp.net","payload":{"text":"torn\uFFFD', 'NUL, which ingress refuses, replaced');
});

test('a crash between the marker and the move of an unreadable entry: the next start parks and reports it, once', async (t) => {
  const dir = await tmpDir(t);
  const name = '00000000000000000008.json';
  await fs.mkdir(path.join(dir, TO_REPORT), { recursive: true });
  await fs.writeFile(path.join(dir, TO_REPORT, name), '');
  await fs.writeFile(path.join(dir, name), '{"chat":');
  const ingress = await fakeIngress(t);
  const { parked } = await pair(t, dir, ingress.url);
  await parked.idle();
  const reports = ingress.received.filter((x) => x.path === PARKED);
  assert.deepEqual(reports.map((r) => [r.body.file, r.body.kind]), [[name, 'unreadable']]);
  assert.deepEqual(await fs.readdir(path.join(dir, TO_REPORT)), []);
});

test('an entry moved back into outbox/ by the operator before its report went is not reported', async (t) => {
  const dir = await tmpDir(t);
  await fs.mkdir(path.join(dir, TO_REPORT), { recursive: true });
  await fs.writeFile(path.join(dir, TO_REPORT, '00000000000000000009.json'), '');
  const ingress = await fakeIngress(t);
  const { parked } = await pair(t, dir, ingress.url);
  await parked.idle();
  assert.equal(ingress.received.length, 0);
  assert.deepEqual(await fs.readdir(path.join(dir, TO_REPORT)), []);
});

test('truncateUtf8 never splits a character; reportBody stays within its limit', () => {
  const s = 'aש😀b'.repeat(50);
  for (let n = 0; n <= Buffer.byteLength(s) + 1; n++) {
    const p = truncateUtf8(s, n);
    assert.ok(Buffer.byteLength(p) <= n, `${n}`);
    assert.ok(s.startsWith(p));
    assert.ok(Buffer.byteLength(truncateUtf8(s, n + 4)) > Buffer.byteLength(p) || p === s, 'the longest such prefix');
  }
  const parked = describeParked('00000000000000000001.json', JSON.stringify({ ...entry('a@s.whatsapp.net', 1, { text: '"\\ש😀\n'.repeat(3000) }), rejected: { status: 413, response: 'r'.repeat(4096), at: new Date().toISOString() } }));
  for (const limit of [1024, 2000, 5000, 65536, 10 ** 6]) {
    const body = reportBody(parked, limit);
    assert.ok(Buffer.byteLength(body) <= limit, `limit ${limit}: ${Buffer.byteLength(body)}`);
    const o = JSON.parse(body);
    assert.equal(o.truncated, o.payload !== parked.payload);
    assert.ok(parked.payload.startsWith(o.payload));
  }
});

test('the bridge reports what it parks (loopback WhatsApp, a number ingress refuses)', async (t) => {
  const ingress = await fakeIngress(t, (req, body) => (req.url === INBOUND && body.phone === '+6834002' ? 400 : 204));
  const b = await startBridge(t, { BRIDGE_STATE_DIR: await tmpDir(t), INGRESS_URL: ingress.url });
  const r = await call(b.url, 'POST', '/dev/inbound', { body: { from: '+6834002', text: 'from Niue' } });
  assert.equal(r.status, 200);
  const report = await waitFor(() => ingress.received.find((x) => x.path === PARKED), { what: 'the report' });
  assert.equal(JSON.parse(report.body.payload).text, 'from Niue');
  assert.equal(report.body.status, 400);
  // Counted once ingress has answered, which is after the fake ingress has recorded the report.
  await waitFor(() => b.metrics.get('bridge_outbox_rejected_reported_total') === 1, { what: 'the report counted' });
  const metrics = await call(b.url, 'GET', '/metrics', { secret: null, raw: true });
  assert.match(metrics.buf.toString(), /^bridge_outbox_rejected_reported_total 1$/m);
});
