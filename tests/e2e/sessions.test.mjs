// sessions.test.mjs - two Baileys sessions (channels) side by side: bridge@2 is a second bridge
// process with its own port, state and number. Each message is stored with the number it came
// in on (the bridge's `self` → wa.inbound's `to`); each bridge sends with its own idempotency store.
// The router and sender-baileys run here with both sessions configured (BAILEYS_CHANNELS), the
// second one paired with the second Twilio number (BAILEYS_FAILOVER_TO): each reply goes out
// through the session its contact wrote to, and each session fails over on its own.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import {
  bridge, bridge2, bridgeUrl, bridge2Url, services, waitFor, messagesFor, uniquePhone, key, metric, metricSum, q, db,
  env, restartWith, send, waitMessage, sim, simCalls, routerUrl, senderBaileysUrl, baileysUp,
} from './lib.mjs';

const B1 = '+972500000001';
const B2 = '+972500000002';
const [T1, T2] = env.TWILIO_WA_FROM.split(',').map((n) => n.trim().replace(/^whatsapp:/, ''));
const restore = [];

before(async () => {
  services('start', 'bridge@2');
  await waitFor('bridge@2 connected', async () => (await bridge2('/health')).status === 200, { logs: ['bridge@2'] });
  const sessions = {
    BAILEYS_CHANNELS: `${B1}=${bridgeUrl}/send,${B2}=${bridge2Url}/send`,
    BAILEYS_FAILOVER_TO: `${B2}=${T2}`,
  };
  restore.push(restartWith('sender-baileys', sessions), restartWith('router', sessions));
  await waitFor('both sessions UP at sender-baileys and the router', async () => {
    for (const n of [B1, B2]) {
      if ((await metric(senderBaileysUrl, `wa_sender_baileys_up{channel="baileys:${n}"}`)) !== 1) return false;
      if ((await metric(routerUrl, `wa_router_channel_up{channel="baileys:${n}"}`)) !== 1) return false;
    }
    return true;
  }, { timeoutMs: 30000, logs: ['sender-baileys', 'router'] });
});
// Stopped whatever happened: `make run` and the other tests run one channel of each provider.
after(async () => {
  try {
    for (const r of restore.reverse()) r();
    services('stop', 'bridge@2');
    await baileysUp();
  } finally {
    await db.end();
  }
});

const sentBy = async (call, phone) =>
  ((await call('/dev/sent')).json?.sent ?? []).filter((s) => s.to === `${phone.slice(1)}@s.whatsapp.net`);

async function writes(call, phone, text, count) {
  const r = await call('/dev/inbound', { from: phone, text });
  assert.equal(r.status, 200, r.text);
  await waitFor(`"${text}" in the CRM`, async () => (await messagesFor(phone)).length === count,
    { timeoutMs: 30000, logs: ['bridge', 'bridge@2', 'ingress', 'router'] });
}

async function reply(phone, text, extra = {}) {
  const r = await send({ to: phone, type: 'text', text, idempotencyKey: key(), ...extra });
  assert.equal(r.status, 202, r.text);
  return r.json.id;
}

const done = (m) => ['sent', 'delivered', 'read', 'failed'].includes(m.status);

test('each contact is answered through the session it wrote to', async () => {
  const one = uniquePhone();
  const two = uniquePhone();
  await writes(bridge, one, 'hi first number', 1);
  await writes(bridge2, two, 'hi second number', 1);
  const a = await waitMessage(await reply(one, 'answer from the first'), 'sent', done, { logs: ['router', 'sender-baileys'] });
  const b = await waitMessage(await reply(two, 'answer from the second'), 'sent', done, { logs: ['router', 'sender-baileys'] });
  assert.equal(a.status, 'sent', JSON.stringify(a));
  assert.equal(b.status, 'sent', JSON.stringify(b));
  assert.equal(a.channel, `baileys:${B1}`);
  assert.equal(b.channel, `baileys:${B2}`);
  assert.deepEqual((await sentBy(bridge, one)).map((s) => s.content?.text), ['answer from the first']);
  assert.deepEqual((await sentBy(bridge2, two)).map((s) => s.content?.text), ['answer from the second']);
  assert.equal((await sentBy(bridge2, one)).length, 0);
  assert.equal((await sentBy(bridge, two)).length, 0);
});

test('a contact who wrote to both sessions is answered through the latest; a request may name the other', async () => {
  const phone = uniquePhone();
  await writes(bridge, phone, 'first to number one', 1);
  await writes(bridge2, phone, 'then to number two', 2);
  const latest = await waitMessage(await reply(phone, 'via the latest'), 'sent', done);
  assert.equal(latest.channel, `baileys:${B2}`);
  const named = await waitMessage(await reply(phone, 'via the one I name', { channel: `baileys:${B1}` }), 'sent', done);
  assert.equal(named.status, 'sent', JSON.stringify(named));
  assert.equal(named.channel, `baileys:${B1}`);
  assert.deepEqual((await sentBy(bridge, phone)).map((s) => s.content?.text), ['via the one I name']);
  assert.deepEqual((await sentBy(bridge2, phone)).map((s) => s.content?.text), ['via the latest']);
});

test('a named channel the contact never wrote to, or that this installation lacks, is refused at once', async () => {
  const phone = uniquePhone();
  await writes(bridge, phone, 'only to number one', 1);
  // Named, with the wait option: the caller is told in the same request.
  const never = await send({ to: phone, type: 'text', text: 'not through number two', idempotencyKey: key(),
    channel: `baileys:${B2}` }, { headers: { Prefer: 'wait=5' } });
  assert.equal(never.status, 200, never.text);
  assert.equal(never.json.status, 'failed', never.text);
  assert.equal(never.json.errorCode, 'outside_window');
  assert.match(never.json.reason, /outside 24h window/);
  const unknown = await waitMessage(await reply(phone, 'through a number we do not have',
    { channel: 'baileys:+972500000099' }), 'refused', done);
  assert.equal(unknown.status, 'failed', JSON.stringify(unknown));
  assert.equal(unknown.errorCode, 'channel_unknown');
  assert.equal((await sentBy(bridge2, phone)).length, 0);
  assert.equal((await sentBy(bridge, phone)).length, 0);
});

test('the second session down: its contacts fail over to its paired Twilio number; the first session carries on', async () => {
  const two = uniquePhone();
  const one = uniquePhone();
  await writes(bridge2, two, 'hi number two', 1);
  const tw = await sim('/sim/inbound', { from: two, to: T2, body: 'and to your Twilio number' });
  assert.equal(tw.status, 204, JSON.stringify(tw));
  await waitFor('the Twilio inbound in the CRM', async () => (await messagesFor(two)).length === 2);
  // Written last to bridge@2 again, so the reply goes via source to that session.
  await writes(bridge2, two, 'still here', 3);
  await writes(bridge, one, 'hi number one', 1);
  services('stop', 'bridge@2');
  try {
    await waitFor('the router sees the second session DOWN', async () =>
      (await metric(routerUrl, `wa_router_channel_up{channel="baileys:${B2}"}`)) === 0 &&
      (await metric(routerUrl, `wa_router_channel_up{channel="baileys:${B1}"}`)) === 1,
    { timeoutMs: 30000, logs: ['sender-baileys', 'router'] });
    const f = await waitMessage(await reply(two, 'while number two is away'), 'sent', done,
      { logs: ['router', 'sender-twilio'] });
    assert.equal(f.status, 'sent', JSON.stringify(f));
    assert.equal(f.provider, 'twilio');
    assert.equal(f.failover, true);
    assert.equal(f.channel, `twilio:${T2}`);
    const calls = await simCalls(`whatsapp:${two}`);
    assert.equal(calls.length, 1);
    assert.equal(calls[0].params.From, `whatsapp:${T2}`);
    const o = await waitMessage(await reply(one, 'number one is fine'), 'sent', done);
    assert.equal(o.provider, 'baileys');
    assert.equal(o.channel, `baileys:${B1}`);
  } finally {
    services('start', 'bridge@2');
  }
  await waitFor('the second session UP again', async () =>
    (await metric(routerUrl, `wa_router_channel_up{channel="baileys:${B2}"}`)) === 1,
  { timeoutMs: 30000, logs: ['sender-baileys', 'router'] });
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
