// channels.test.mjs - a channel is one business number on one provider, and WhatsApp keeps the
// 24-hour window per (contact, number): so do the CRM and the routing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  env, db, q, send, waitMessage, sim, simCalls, bridge, baileysContact, bothContact, key, waitFor,
  services, topicRecords, uniquePhone, messagesFor, baileysUp,
} from './lib.mjs';

test.after(() => db.end());

// The tests run with two Twilio numbers (scripts/e2e.sh); the first takes over from Baileys.
const [FIRST, SECOND] = env.TWILIO_WA_FROM.split(',').map((n) => n.trim().replace(/^whatsapp:/, ''));

async function twilioInbound(phone, to) {
  const r = await sim('/sim/inbound', { from: phone, to, body: `hello ${to}` });
  assert.equal(r.status, 204, JSON.stringify(r));
  return r.messageSid;
}

const windows = async (phone) => (await q(`select w.channel from contact_channels w join contacts c
  on c.id = w.contact_id where c.phone = $1 order by w.channel`, [phone])).map((r) => r.channel);

test('each inbound records its channel; a contact writing to two numbers has two windows', async () => {
  assert.ok(SECOND, 'the tests configure two Twilio numbers');
  const phone = uniquePhone();
  const a = await twilioInbound(phone, FIRST);
  await waitFor('the first message', async () => (await messagesFor(phone)).length === 1);
  const b = await twilioInbound(phone, SECOND);
  await waitFor('the second message', async () => (await messagesFor(phone)).length === 2);
  const rows = await q('select provider_message_id, channel from messages where provider_message_id = any($1)', [[a, b]]);
  const channelOf = Object.fromEntries(rows.map((r) => [r.provider_message_id, r.channel]));
  assert.equal(channelOf[a], `twilio:${FIRST}`);
  assert.equal(channelOf[b], `twilio:${SECOND}`);
  assert.deepEqual(await windows(phone), [`twilio:${FIRST}`, `twilio:${SECOND}`].sort());
});

test('reply via source: a contact who wrote to the second Twilio number is answered from it', async () => {
  const phone = uniquePhone();
  await twilioInbound(phone, FIRST);
  await waitFor('the first message', async () => (await messagesFor(phone)).length === 1);
  await twilioInbound(phone, SECOND); // the last one: the thread is on the second number now
  await waitFor('the second message', async () => (await messagesFor(phone)).length === 2);
  const r = await send({ to: phone, type: 'text', text: 'from the number you wrote to', idempotencyKey: key() });
  assert.equal(r.status, 202, r.text);
  const m = await waitMessage(r.json.id, 'sent', (x) => ['sent', 'delivered', 'read'].includes(x.status));
  assert.equal(m.provider, 'twilio');
  const [call] = await simCalls(phone);
  assert.equal(call.params.From, `whatsapp:${SECOND}`);
  const [row] = await q('select channel from messages where id = $1', [r.json.id]);
  assert.equal(row.channel, `twilio:${SECOND}`);
});

test('Baileys down and the contact never wrote to the Twilio number: nothing is sent there to fail with 63016; the reason is clear', async () => {
  await baileysUp();
  const phone = await baileysContact(); // wrote to the Baileys number only
  services('kill9', 'bridge');
  try {
    // The first send finds the bridge gone; the router decides the second knowing it.
    const ids = [];
    for (const text of ['first while down', 'second while down']) {
      const r = await send({ to: phone, type: 'text', text, idempotencyKey: key() });
      assert.equal(r.status, 202, r.text);
      ids.push(r.json.id);
      const m = await waitMessage(r.json.id, 'failed', (x) => x.status === 'failed', { timeoutMs: 30000,
        logs: ['sender-baileys', 'router'] });
      assert.equal(m.errorCode, 'outside_window');
      assert.match(m.errorText, /window/);
    }
    assert.equal((await simCalls(phone)).length, 0, 'nothing went to Twilio');
    const errors = (await topicRecords('wa.error')).map((x) => JSON.parse(x.value))
      .filter((e) => e.code === 'outside_window' && ids.some((id) => e.payload?.includes(id)));
    assert.equal(errors.length, 2, 'each raised wa.error');
  } finally {
    services('start', 'bridge');
  }
});

test('Baileys down and the contact wrote to the Twilio number too: the failover goes out there at once', async () => {
  await baileysUp();
  const phone = await bothContact();
  services('kill9', 'bridge');
  try {
    const r = await send({ to: phone, type: 'text', text: 'through the other number', idempotencyKey: key() });
    assert.equal(r.status, 202, r.text);
    const m = await waitMessage(r.json.id, 'sent via Twilio', (x) => ['sent', 'delivered', 'read'].includes(x.status),
      { logs: ['sender-baileys', 'sender-twilio'] });
    assert.equal(m.provider, 'twilio');
    assert.equal(m.failover, true);
    const [call] = await simCalls(phone);
    assert.equal(call.params.From, `whatsapp:${FIRST}`);
    const [row] = await q('select channel from messages where id = $1', [r.json.id]);
    assert.equal(row.channel, `twilio:${FIRST}`);
  } finally {
    services('start', 'bridge');
  }
});
