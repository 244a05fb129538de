// sessions.test.mjs - two Baileys sessions (channels) side by side: bridge@2 is a second bridge
// process with its own port, state and number. Each message is stored with the number it came
// in on (the bridge's `self` → wa.inbound's `to`); each bridge sends with its own idempotency store.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import {
  bridge, bridge2, bridgeUrl, bridge2Url, services, waitFor, messagesFor, uniquePhone, key, metric, metricSum, q, db,
} from './lib.mjs';

before(async () => {
  services('start', 'bridge@2');
  await waitFor('bridge@2 connected', async () => (await bridge2('/health')).status === 200, { logs: ['bridge@2'] });
});
// Stopped whatever happened: `make run` and the other tests run one channel of each provider.
after(async () => {
  try {
    services('stop', 'bridge@2');
  } finally {
    await db.end();
  }
});

const deviceOf = async (call) => (await call('/health')).json.device;

test('each session has its own number and port', async () => {
  assert.notEqual(bridgeUrl, bridge2Url);
  assert.equal(await deviceOf(bridge), '+972500000001');
  assert.equal(await deviceOf(bridge2), '+972500000002');
});

test('a contact writing to both numbers: each message is stored with the number it came in on', async () => {
  const phone = uniquePhone();
  const jid = `${phone.slice(1)}@s.whatsapp.net`;
  const one = await bridge('/dev/inbound', { from: phone, text: 'to the first number' });
  const two = await bridge2('/dev/inbound', { from: phone, text: 'to the second number' });
  assert.equal(one.status, 200, one.text);
  assert.equal(two.status, 200, two.text);
  const rows = await waitFor('both messages in the CRM', async () => {
    const r = await messagesFor(phone);
    return r.length === 2 ? r : false;
  }, { timeoutMs: 30000, logs: ['bridge', 'bridge@2', 'ingress', 'router'] });
  const byId = Object.fromEntries(rows.map((m) => [m.provider_message_id, m]));
  const first = byId[`${jid}/${one.json.messageId}`];
  const second = byId[`${jid}/${two.json.messageId}`];
  assert.ok(first && second, JSON.stringify(rows.map((m) => m.provider_message_id)));
  assert.equal(first.payload.to, '+972500000001');
  assert.equal(second.payload.to, '+972500000002');
  assert.equal(first.body, 'to the first number');
  assert.equal(second.body, 'to the second number');
  // one contact across both sessions
  assert.equal(first.contact_id, second.contact_id);
});

test('media from bridge@2 is fetched from bridge@2 and stored', async () => {
  const phone = uniquePhone();
  const png = Buffer.concat([Buffer.from('89504e470d0a1a0a', 'hex'), crypto.randomBytes(4000)]);
  const r = await bridge2('/dev/inbound', { from: phone, type: 'image', text: 'a photo to number 2',
    media: { mimetype: 'image/png', data: png.toString('base64') } });
  assert.equal(r.status, 200, r.text);
  const [m] = await waitFor('the message in the CRM', async () => {
    const rows = await messagesFor(phone);
    return rows.length === 1 ? rows : false;
  }, { timeoutMs: 30000, logs: ['bridge@2', 'ingress', 'router'] });
  assert.equal(m.payload.to, '+972500000002');
  assert.ok(m.payload.media[0].url.startsWith(`${bridge2Url}/media/`), m.payload.media[0].url);
  const [row] = await waitFor('the media stored', async () => {
    const rows = await q('select * from media where message_id = $1', [m.id]);
    return rows.length && rows[0].stored_at ? rows : false;
  }, { timeoutMs: 30000, logs: ['media-worker', 'bridge@2'] });
  assert.equal(row.sha256, crypto.createHash('sha256').update(png).digest('hex'));
});

test('a send to bridge@2 uses its own idempotency store; its receipt (with `self`) is taken by ingress', async () => {
  const phone = uniquePhone();
  const k = key();
  const body = { to: phone, type: 'text', text: 'from the second number', idempotencyKey: k };
  const sent = await bridge2('/send', body);
  assert.equal(sent.status, 200, sent.text);
  const again = await bridge2('/send', body);
  assert.deepEqual(again.json, { ok: true, messageId: sent.json.messageId, duplicate: true });
  const onTwo = (await bridge2('/dev/sent')).json.sent.filter((s) => s.messageId === sent.json.messageId);
  assert.equal(onTwo.length, 1);
  assert.equal(onTwo[0].to, `${phone.slice(1)}@s.whatsapp.net`);
  // The first session never heard of the key: its store is its own, so the key is new there.
  assert.ok(!(await bridge('/dev/sent')).json.sent.some((s) => s.messageId === sent.json.messageId));
  const fresh = await bridge('/send', body);
  assert.equal(fresh.status, 200, fresh.text);
  assert.equal(fresh.json.duplicate, undefined);
  assert.notEqual(fresh.json.messageId, sent.json.messageId);

  // A receipt from bridge@2 carries its `self`: ingress takes it (nothing parked).
  const forwarded = await metric(bridge2Url, 'bridge_inbound_forwarded_total{event="status"}');
  await bridge2('/dev/receipt', { messageId: sent.json.messageId, to: phone, status: 'delivered' });
  await waitFor('the receipt delivered to ingress', async () =>
    (await metric(bridge2Url, 'bridge_inbound_forwarded_total{event="status"}')) === forwarded + 1,
  { logs: ['bridge@2', 'ingress'] });
  assert.equal(await metric(bridge2Url, 'bridge_outbox_depth'), 0);
  assert.equal(await metricSum(bridge2Url, 'bridge_outbox_rejected_total'), 0, 'ingress refused an entry of bridge@2');
});
