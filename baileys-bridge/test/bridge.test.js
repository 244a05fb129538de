// The whole bridge in loopback mode: HTTP API, secrets, /send idempotency across restarts,
// inbound (text + real encrypted media) reaching a fake ingress, receipts.
import test from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { startBridge, fakeIngress, tmpDir, call, waitFor, testConfig, silent, SECRET } from './helpers.js';
import { ingressVerdict } from './ingress-contract.js';
import { createBridge } from '../src/app.js';

test('/health is 200 when open and 503 with the same shape when not', async (t) => {
  const b = await startBridge(t, { BRIDGE_STATE_DIR: await tmpDir(t) });
  let r = await call(b.url, 'GET', '/health', { secret: null });
  assert.equal(r.status, 200);
  // Without the secret it says whether it is connected, not which number it is.
  assert.deepEqual(r.json, { status: 'ok', connected: true });
  r = await call(b.url, 'GET', '/health');
  assert.deepEqual(r.json, { status: 'ok', device: '+972500000001', connected: true });
  r = await call(b.url, 'GET', '/health', { secret: 'wrong' });
  assert.deepEqual(r.json, { status: 'ok', connected: true });
  await call(b.url, 'POST', '/dev/disconnect');
  r = await call(b.url, 'GET', '/health');
  assert.equal(r.status, 503);
  assert.equal(r.json.connected, false);
  assert.deepEqual(Object.keys(r.json).sort(), ['connected', 'device', 'status']);
  await call(b.url, 'POST', '/dev/connect');
  assert.equal((await call(b.url, 'GET', '/health', { secret: null })).status, 200);
});

test('protected endpoints: 401 without the secret, 403 with a wrong one', async (t) => {
  const b = await startBridge(t, { BRIDGE_STATE_DIR: await tmpDir(t) });
  const endpoints = [['POST', '/send'], ['GET', '/qr'], ['GET', `/media/${'a'.repeat(32)}`], ['POST', '/dev/inbound'], ['POST', '/dev/receipt'], ['GET', '/dev/sent'], ['POST', '/dev/disconnect'], ['POST', '/dev/connect']];
  for (const [m, p] of endpoints) {
    assert.equal((await call(b.url, m, p, { secret: null, body: m === 'POST' ? {} : undefined })).status, 401, `${m} ${p} without secret`);
    assert.equal((await call(b.url, m, p, { secret: 'wrong-secret', body: m === 'POST' ? {} : undefined })).status, 403, `${m} ${p} wrong secret`);
  }
  assert.equal((await call(b.url, 'GET', '/health', { secret: null })).status, 200);
  const metrics = await call(b.url, 'GET', '/metrics', { secret: null, raw: true });
  assert.match(metrics.buf.toString(), /# TYPE bridge_outbox_depth gauge/);
});

test('/dev endpoints do not exist outside loopback mode', async (t) => {
  // a real (non-loopback) link pointed at a closed port: never reaches WhatsApp
  const b = await createBridge(testConfig({ BAILEYS_LOOPBACK: '0', BRIDGE_STATE_DIR: await tmpDir(t) }), {
    logger: silent, socketOptions: { waWebSocketUrl: 'ws://127.0.0.1:9/ws' }, backoff: { baseMs: 60000, maxMs: 60000 },
  });
  t.after(() => b.close());
  assert.equal((await call(b.url, 'POST', '/dev/inbound', { body: {} })).status, 404);
  const r = await call(b.url, 'POST', '/send', { body: { to: '+972501234567', type: 'text', text: 'x', idempotencyKey: 'k' } });
  assert.deepEqual([r.status, r.json], [503, { ok: false, error: 'not_connected' }]);
});

test('/send validates input with a JSON reason', async (t) => {
  const b = await startBridge(t, { BRIDGE_STATE_DIR: await tmpDir(t) });
  const cases = [
    { to: '+972501234567', type: 'text', text: 'no key' },
    { to: 'nope', type: 'text', text: 'x', idempotencyKey: 'a' },
    { to: '+972501234567', type: 'video', text: 'x', idempotencyKey: 'a' },
    { to: '+972501234567', type: 'text', idempotencyKey: 'a' },
    { to: '+972501234567', type: 'media', mediaUrl: 'ftp://x/y.jpg', idempotencyKey: 'a' },
  ];
  for (const body of cases) {
    const r = await call(b.url, 'POST', '/send', { body });
    assert.equal(r.status, 400, JSON.stringify(body));
    assert.equal(r.json.ok, false);
    assert.equal(typeof r.json.reason, 'string');
  }
  const r = await fetch(`${b.url}/send`, { method: 'POST', headers: { 'x-baileys-secret': SECRET }, body: '{not json' });
  assert.equal(r.status, 400);
  assert.equal((await call(b.url, 'GET', '/dev/sent')).json.sent.length, 0);
});

test('/send is idempotent: same key → one send, same messageId, also after a restart', async (t) => {
  const dir = await tmpDir(t);
  const body = { to: '+972501234567', type: 'text', text: 'hello', idempotencyKey: 'order-42' };
  const b1 = await createBridge(testConfig({ BRIDGE_STATE_DIR: dir }), { logger: silent });
  const [r1, r2] = await Promise.all([call(b1.url, 'POST', '/send', { body }), call(b1.url, 'POST', '/send', { body })]);
  const r3 = await call(b1.url, 'POST', '/send', { body });
  assert.equal(r1.status, 200);
  assert.match(r1.json.messageId, /^3EB0[0-9A-F]{18}$/);
  assert.equal(r2.json.messageId, r1.json.messageId);
  assert.equal(r3.json.messageId, r1.json.messageId);
  const sent = (await call(b1.url, 'GET', '/dev/sent')).json.sent;
  assert.equal(sent.length, 1);
  assert.equal(sent[0].to, '972501234567@s.whatsapp.net');
  await b1.close();

  const b2 = await createBridge(testConfig({ BRIDGE_STATE_DIR: dir }), { logger: silent });
  t.after(() => b2.close());
  const r4 = await call(b2.url, 'POST', '/send', { body });
  assert.equal(r4.json.messageId, r1.json.messageId);
  // What "WhatsApp" got outlives the bridge: still the one send, and the new process sent nothing.
  const again = (await call(b2.url, 'GET', '/dev/sent')).json.sent;
  assert.equal(again.length, 1);
  assert.equal(again[0].messageId, r1.json.messageId);
  assert.equal(again[0].repeats, undefined);
  // the stored message serves Baileys' getMessage for retries
  const other = await call(b2.url, 'POST', '/send', { body: { ...body, idempotencyKey: 'order-43' } });
  assert.notEqual(other.json.messageId, r1.json.messageId);
});

test('/send: 503 not_connected (nothing sent) and 429 over the pacing limit', async (t) => {
  const b = await startBridge(t, { BRIDGE_STATE_DIR: await tmpDir(t), BRIDGE_SEND_RATE: '2' });
  await call(b.url, 'POST', '/dev/disconnect');
  let r = await call(b.url, 'POST', '/send', { body: { to: '+972501234567', type: 'text', text: 'x', idempotencyKey: 'd1' } });
  assert.deepEqual([r.status, r.json], [503, { ok: false, error: 'not_connected' }]);
  assert.equal((await call(b.url, 'GET', '/dev/sent')).json.sent.length, 0);
  await call(b.url, 'POST', '/dev/connect');
  // the same key works once connected
  r = await call(b.url, 'POST', '/send', { body: { to: '+972501234567', type: 'text', text: 'x', idempotencyKey: 'd1' } });
  assert.equal(r.status, 200);
  const statuses = [];
  for (let i = 0; i < 4; i++) statuses.push((await call(b.url, 'POST', '/send', { body: { to: '+972501234567', type: 'text', text: 'x', idempotencyKey: `r${i}` } })).status);
  assert.ok(statuses.includes(429), `statuses ${statuses}`);
  assert.equal((await call(b.url, 'GET', '/metrics', { raw: true })).buf.toString().includes('bridge_send_errors_total{reason="rate_limited"}'), true);
});

test('media send is recorded with the right Baileys content', async (t) => {
  const b = await startBridge(t, { BRIDGE_STATE_DIR: await tmpDir(t) });
  const r = await call(b.url, 'POST', '/send', { body: { to: '+972501234567', type: 'media', mediaUrl: 'https://cdn.example/a/photo.jpg', caption: 'pic', idempotencyKey: 'm1' } });
  assert.equal(r.status, 200);
  const [s] = (await call(b.url, 'GET', '/dev/sent')).json.sent;
  assert.deepEqual(s.content, { image: { url: 'https://cdn.example/a/photo.jpg' }, caption: 'pic', mimetype: 'image/jpeg' });
});

test('inbound text and receipts reach ingress; a LID is mapped to the phone', async (t) => {
  const ingress = await fakeIngress(t);
  const b = await startBridge(t, { BRIDGE_STATE_DIR: await tmpDir(t), INGRESS_URL: ingress.url });
  const r = await call(b.url, 'POST', '/dev/inbound', { body: { from: '+972501234567', text: 'hi', pushName: 'Dana' } });
  assert.equal(r.status, 200);
  await call(b.url, 'POST', '/dev/inbound', { body: { from: '+972507654321', lid: '123456789@lid', noAlt: true, text: 'via lid', pushName: 'Lia' } });
  await call(b.url, 'POST', '/dev/inbound', { body: { from: '+972501234567', text: 'mine', fromMe: true, upsertType: 'append' } });
  await call(b.url, 'POST', '/dev/inbound', { body: { from: '+972501234567', text: 'offline', upsertType: 'append' } });
  await waitFor(() => ingress.received.length >= 3, { what: 'three messages' });
  const byText = Object.fromEntries(ingress.received.map((x) => [x.body.text, x.body]));
  assert.equal(byText.hi.messageId, r.json.messageId);
  assert.equal(byText.hi.phone, '+972501234567');
  assert.equal(byText.hi.pushName, 'Dana');
  assert.equal(byText['via lid'].remoteJid, '123456789@lid');
  assert.equal(byText['via lid'].lid, '123456789@lid');
  assert.equal(byText['via lid'].phone, '+972507654321');
  assert.ok(byText.offline);
  assert.equal(byText.mine, undefined);
  assert.equal(ingress.received[0].headers['x-baileys-secret'], SECRET);

  const sent = await call(b.url, 'POST', '/send', { body: { to: '+972501234567', type: 'text', text: 'reply', idempotencyKey: 'x1' } });
  await call(b.url, 'POST', '/dev/receipt', { body: { messageId: sent.json.messageId, to: '+972501234567', status: 'delivered' } });
  await call(b.url, 'POST', '/dev/receipt', { body: { messageId: sent.json.messageId, to: '+972501234567', status: 'read' } });
  await waitFor(() => ingress.received.filter((x) => x.body.event === 'status').length >= 2, { what: 'receipts' });
  const st = ingress.received.filter((x) => x.body.event === 'status').map((x) => x.body);
  assert.deepEqual(st.map((s) => s.status), ['delivered', 'read']);
  assert.equal(st[0].messageId, sent.json.messageId);
  assert.equal(st[0].phone, '+972501234567');
  assert.equal(typeof st[0].timestamp, 'number');
  // Receipts of our sends name the caller's key; one for a message sent from the phone does not.
  assert.deepEqual(st.map((s) => s.idempotencyKey), ['x1', 'x1']);
  await call(b.url, 'POST', '/dev/receipt', { body: { messageId: '3EB0PHONE0000001', to: '+972501234567', status: 'delivered' } });
  await waitFor(() => ingress.received.filter((x) => x.body.event === 'status').length >= 3, { what: 'the third receipt' });
  const phoneReceipt = ingress.received.filter((x) => x.body.event === 'status')[2].body;
  assert.equal(phoneReceipt.messageId, '3EB0PHONE0000001');
  assert.equal(phoneReceipt.idempotencyKey, undefined);
});

test('loopback: every payload names our number as `self` (BAILEYS_LOOPBACK_SELF, default +972500000001)', async (t) => {
  const ingress = await fakeIngress(t);
  const b = await startBridge(t, { BRIDGE_STATE_DIR: await tmpDir(t), INGRESS_URL: ingress.url, BAILEYS_LOOPBACK_SELF: '+972500000002' });
  assert.equal((await call(b.url, 'GET', '/health')).json.device, '+972500000002');
  await call(b.url, 'POST', '/dev/inbound', { body: { from: '+972501234567', text: 'to shop 2' } });
  const sent = await call(b.url, 'POST', '/send', { body: { to: '+972501234567', type: 'text', text: 'reply', idempotencyKey: 's1' } });
  await call(b.url, 'POST', '/dev/receipt', { body: { messageId: sent.json.messageId, to: '+972501234567', status: 'read' } });
  await waitFor(() => ingress.received.length >= 2, { what: 'a message and a receipt' });
  assert.deepEqual(ingress.received.map((x) => [x.body.event, x.body.self]), [['message', '+972500000002'], ['status', '+972500000002']]);
  for (const x of ingress.received) assert.equal(ingressVerdict(JSON.stringify(x.body)).status, 200);

  // digits without '+' are taken too; unset, the first loopback number
  const other = await fakeIngress(t);
  const b2 = await startBridge(t, { BRIDGE_STATE_DIR: await tmpDir(t), INGRESS_URL: other.url, BAILEYS_LOOPBACK_SELF: '14155550100' });
  const b3 = await startBridge(t, { BRIDGE_STATE_DIR: await tmpDir(t), INGRESS_URL: other.url });
  await call(b2.url, 'POST', '/dev/inbound', { body: { from: '+972501234567', text: 'to b2' } });
  await call(b3.url, 'POST', '/dev/inbound', { body: { from: '+972501234567', text: 'to b3' } });
  await waitFor(() => other.received.length >= 2, { what: 'one message from each bridge' });
  const selfOf = Object.fromEntries(other.received.map((x) => [x.body.text, x.body.self]));
  assert.deepEqual(selfOf, { 'to b2': '+14155550100', 'to b3': '+972500000001' });
});

test('inbound image: really encrypted, downloaded (after a 410 re-upload), served at /media/:id with the secret', async (t) => {
  const ingress = await fakeIngress(t);
  const b = await startBridge(t, { BRIDGE_STATE_DIR: await tmpDir(t), INGRESS_URL: ingress.url });
  const data = crypto.randomBytes(30000);
  await call(b.url, 'POST', '/dev/inbound', { body: { from: '+972501234567', type: 'image', text: 'photo', media: { mimetype: 'image/jpeg', data: data.toString('base64'), expired: true } } });
  await call(b.url, 'POST', '/dev/inbound', { body: { from: '+972501234567', type: 'document', media: { mimetype: 'application/pdf', data: Buffer.from('%PDF-1').toString('base64'), fileName: 'x.pdf' } } });
  await waitFor(() => ingress.received.length >= 2, { what: 'media messages' });
  const [img, doc] = ingress.received.map((x) => x.body);
  assert.equal(img.type, 'image');
  assert.equal(img.text, 'photo');
  assert.equal(img.media.mimetype, 'image/jpeg');
  assert.equal(img.media.size, data.length);
  assert.ok(img.media.url.startsWith(`${b.url}/media/`));
  assert.equal(doc.type, 'document');
  assert.equal(doc.media.fileName, 'x.pdf');
  const path = new URL(img.media.url).pathname;
  assert.equal((await call(b.url, 'GET', path, { secret: null, raw: true })).status, 401);
  const got = await call(b.url, 'GET', path, { raw: true });
  assert.equal(got.status, 200);
  assert.equal(got.headers.get('content-type'), 'image/jpeg');
  assert.deepEqual(got.buf, data);
  assert.match((await call(b.url, 'GET', '/metrics', { raw: true })).buf.toString(), /bridge_media_downloads_total\{result="reupload_requested"\} 1/);
});

test('ingress down at first, bridge "killed", restarted bridge delivers everything', async (t) => {
  const dir = await tmpDir(t);
  let up = false;
  const ingress = await fakeIngress(t, () => (up ? 204 : 503));
  const b1 = await createBridge(testConfig({ BRIDGE_STATE_DIR: dir, INGRESS_URL: ingress.url }), { logger: silent });
  for (let i = 0; i < 3; i++) await call(b1.url, 'POST', '/dev/inbound', { body: { from: '+972501234567', text: `m${i}` } });
  assert.equal(b1.outbox.depth, 3, 'a 200 from /dev/inbound means the bridge has written it');
  await b1.close();
  up = true;
  const b2 = await createBridge(testConfig({ BRIDGE_STATE_DIR: dir, INGRESS_URL: ingress.url }), { logger: silent });
  t.after(() => b2.close());
  await waitFor(() => ingress.received.length === 3, { what: 'redelivery' });
  assert.deepEqual(ingress.received.map((x) => x.body.text), ['m0', 'm1', 'm2']);
});

test('a receipt the bridge took just before a stop is on disk when close() returns, and reaches ingress after the restart', async (t) => {
  // The fault suite lost receipts this way: Baileys' events are handled after it has taken
  // them (and acknowledged them to WhatsApp), and the stop exited while the handlers still had
  // a backlog. The events go straight to the simulated socket here: /dev/* would wait for them.
  const dir = await tmpDir(t);
  let up = false;
  const ingress = await fakeIngress(t, () => (up ? 204 : 503));
  const b1 = await createBridge(testConfig({ BRIDGE_STATE_DIR: dir, INGRESS_URL: ingress.url }), { logger: silent });
  const sent = await call(b1.url, 'POST', '/send', { body: { to: '+972501234567', type: 'text', text: 'reply', idempotencyKey: 'stop-1' } });
  assert.equal(sent.status, 200);
  // A backlog ahead of the receipt: inbound messages the handlers have not written yet.
  for (let i = 0; i < 40; i++) await b1.loopback.inbound({ from: '+972501234567', text: `before ${i}` });
  b1.loopback.receipt({ messageId: sent.json.messageId, to: '+972501234567', status: 'delivered' });
  await b1.close();
  const onDisk = [];
  for (const name of (await fs.readdir(path.join(dir, 'outbox'))).filter((n) => n.endsWith('.json'))) {
    onDisk.push(JSON.parse(await fs.readFile(path.join(dir, 'outbox', name), 'utf8')).payload);
  }
  assert.equal(onDisk.filter((p) => p.event === 'status').length, 1, 'the receipt is in the outbox');
  assert.equal(onDisk.filter((p) => p.event !== 'status').length, 40, 'so is every inbound message');
  up = true;
  const b2 = await createBridge(testConfig({ BRIDGE_STATE_DIR: dir, INGRESS_URL: ingress.url }), { logger: silent });
  t.after(() => b2.close());
  await waitFor(() => ingress.received.some((x) => x.body.event === 'status'), { what: 'the receipt at ingress' });
  const st = ingress.received.find((x) => x.body.event === 'status').body;
  assert.equal(st.messageId, sent.json.messageId);
  assert.equal(st.idempotencyKey, 'stop-1');
});

test('a second bridge on the same state dir is refused (lock)', async (t) => {
  const dir = await tmpDir(t);
  await startBridge(t, { BRIDGE_STATE_DIR: dir });
  await assert.rejects(createBridge(testConfig({ BRIDGE_STATE_DIR: dir }), { logger: silent }), /already locked/);
});

test('GET /media/:id for documents named in Hebrew, with emoji, or with quotes and CR/LF: 200, RFC 6266 Content-Disposition, no injected header', async (t) => {
  const ingress = await fakeIngress(t);
  const b = await startBridge(t, { BRIDGE_STATE_DIR: await tmpDir(t), INGRESS_URL: ingress.url });
  const names = ['חוזה.pdf', '📄 report 😀.pdf', 'a"b\\c\r\nX-Injected: 1.pdf'];
  for (const fileName of names) {
    await call(b.url, 'POST', '/dev/inbound', { body: { from: '+972501234567', type: 'document', media: { mimetype: 'application/pdf', data: Buffer.from(`%PDF ${fileName}`).toString('base64'), fileName } } });
  }
  // a sender-chosen mimetype that cannot be a header value
  await call(b.url, 'POST', '/dev/inbound', { body: { from: '+972501234567', type: 'document', media: { mimetype: 'application/pdf; name="חוזה"', data: Buffer.from('%PDF').toString('base64'), fileName: 'x.pdf' } } });
  await waitFor(() => ingress.received.length >= 4, { what: 'four documents' });
  const docs = ingress.received.map((x) => x.body);
  for (const [i, fileName] of names.entries()) {
    assert.equal(docs[i].media.fileName, fileName);
    const got = await call(b.url, 'GET', new URL(docs[i].media.url).pathname, { raw: true });
    assert.equal(got.status, 200, fileName);
    assert.equal(got.buf.toString(), `%PDF ${fileName}`);
    assert.equal(got.headers.get('content-type'), 'application/pdf');
    assert.equal(got.headers.get('x-injected'), null);
    const cd = got.headers.get('content-disposition');
    const m = /^attachment; filename="((?:[^"\\]|\\.)*)"; filename\*=UTF-8''(\S+)$/.exec(cd);
    assert.ok(m, cd);
    assert.equal(decodeURIComponent(m[2]), fileName.replace(/[\r\n]/g, '_'));
    assert.match(m[1], /^[\x20-\x7e]*$/);
  }
  const odd = await call(b.url, 'GET', new URL(docs[3].media.url).pathname, { raw: true });
  assert.equal(odd.status, 200);
  assert.equal(odd.headers.get('content-type'), 'application/octet-stream');
});

test('inbound media that cannot be had reaches ingress as unavailable (a download failing 5 times; a file over BRIDGE_INBOUND_MEDIA_MAX_BYTES), text kept; ingress takes them all', async (t) => {
  const ingress = await fakeIngress(t, (req, body) => (ingressVerdict(JSON.stringify(body)).status === 200 ? 204 : 400));
  const dir = await tmpDir(t);
  const b = await startBridge(t, { BRIDGE_STATE_DIR: dir, INGRESS_URL: ingress.url, BRIDGE_INBOUND_MEDIA_MAX_BYTES: '20000' });
  const big = crypto.randomBytes(30000).toString('base64');
  await call(b.url, 'POST', '/dev/inbound', { body: { from: '+972501234567', type: 'image', text: 'gone', media: { mimetype: 'image/jpeg', data: Buffer.from('jpg').toString('base64'), fail: 500 } } });
  await call(b.url, 'POST', '/dev/inbound', { body: { from: '+972501234568', type: 'video', text: 'declared big', media: { mimetype: 'video/mp4', data: big } } });
  await call(b.url, 'POST', '/dev/inbound', { body: { from: '+972501234569', type: 'video', text: 'no size given', media: { mimetype: 'video/mp4', data: big, fileLength: null } } });
  await call(b.url, 'POST', '/dev/inbound', { body: { from: '+972501234560', type: 'video', text: 'size understated', media: { mimetype: 'video/mp4', data: big, fileLength: 100 } } });
  await waitFor(() => ingress.received.length >= 4, { timeout: 10000, what: 'four media messages' });
  const by = Object.fromEntries(ingress.received.map((x) => [x.body.text, x.body]));
  assert.deepEqual(by.gone.media, { mimetype: 'image/jpeg', size: 3, url: null, fileName: null, unavailable: 'download_failed: 500 Internal Server Error after 5 tries' });
  assert.deepEqual(by['declared big'].media, { mimetype: 'video/mp4', size: 30000, url: null, fileName: null, unavailable: 'too_large: 30000 bytes over BRIDGE_INBOUND_MEDIA_MAX_BYTES (20000)' });
  assert.deepEqual(by['no size given'].media, { mimetype: 'video/mp4', size: null, url: null, fileName: null, unavailable: 'too_large: more than 20000 bytes (BRIDGE_INBOUND_MEDIA_MAX_BYTES) while downloading' });
  assert.equal(by['size understated'].media.unavailable, 'too_large: more than 20000 bytes (BRIDGE_INBOUND_MEDIA_MAX_BYTES) while downloading');
  assert.equal(by['size understated'].media.size, 100);
  // nothing of them stored; nothing rejected
  assert.deepEqual(await fs.readdir(path.join(dir, 'media')), []);
  assert.deepEqual(await fs.readdir(path.join(dir, 'outbox', 'rejected')), []);
  const metrics = (await call(b.url, 'GET', '/metrics', { raw: true })).buf.toString();
  assert.match(metrics, /bridge_media_downloads_total\{result="too_large"\} 3/);
});

test('ingress answering 413 for one message: rejected/ with the answer, counted by status, the chat goes on', async (t) => {
  const ingress = await fakeIngress(t, (req, body) => (body.text === 'too big' ? { status: 413, body: '{"error":"body_too_large"}' } : 204));
  const dir = await tmpDir(t);
  const b = await startBridge(t, { BRIDGE_STATE_DIR: dir, INGRESS_URL: ingress.url });
  await call(b.url, 'POST', '/dev/inbound', { body: { from: '+972501234567', text: 'too big' } });
  await call(b.url, 'POST', '/dev/inbound', { body: { from: '+972501234567', text: 'next' } });
  await waitFor(() => ingress.received.some((x) => x.body.text === 'next'), { what: 'the next message' });
  // (the parked entry's report goes to ingress too: parked.test.js)
  assert.deepEqual(ingress.received.filter((x) => x.path === '/api/whatsapp/baileys').map((x) => x.body.text), ['next']);
  const rejected = await fs.readdir(path.join(dir, 'outbox', 'rejected'));
  assert.equal(rejected.length, 1);
  const r = JSON.parse(await fs.readFile(path.join(dir, 'outbox', 'rejected', rejected[0]), 'utf8'));
  assert.equal(r.payload.text, 'too big');
  assert.equal(r.rejected.status, 413);
  assert.equal(r.rejected.response, '{"error":"body_too_large"}');
  assert.match((await call(b.url, 'GET', '/metrics', { raw: true })).buf.toString(), /bridge_outbox_rejected_total\{status="413"\} 1/);
});
