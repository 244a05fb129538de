// holds.test.mjs - re-engagement: free text no open window can carry is held, an approved template
// invites the contact to write, and the contact's reply on that number releases the held messages
// in order, once; a hold not released in time fails with its reason.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  env, db, q, send, message, waitMessage, sim, simCalls, baileysContact, baileysUp, key, waitFor,
  services, topicRecords, uniquePhone, restartWith, sleep,
} from './lib.mjs';

test.after(() => db.end());

const TEMPLATE = `HX${'ab'.repeat(16)}`;
const FIRST = env.TWILIO_WA_FROM.split(',')[0].trim().replace(/^whatsapp:/, '');
const SENT = ['sent', 'delivered', 'read'];

async function sendText(phone, text) {
  const r = await send({ to: phone, type: 'text', text, idempotencyKey: key() });
  assert.equal(r.status, 202, r.text);
  return r.json.id;
}

test('the README failover demo ends delivered: bridge down, the contact never wrote to Twilio; the template goes out, the replies wait, the contact answers on Twilio, the held replies go out once, in order', async () => {
  const restore = restartWith('router', { REENGAGE_CONTENT_SID: TEMPLATE, REENGAGE_VARIABLES: '{"1":"{name}"}' });
  try {
    await baileysUp();
    const phone = await baileysContact(); // wrote to the Baileys number only
    services('kill9', 'bridge');
    try {
      // sender-baileys probes the bridge as it starts: the router knows Baileys is down before
      // the replies are routed (a send that itself finds the bridge gone fails outside_window:
      // only the router holds messages).
      services('stop', 'sender-baileys');
      services('start', 'sender-baileys');
      await waitFor('the router to see Baileys down', async () => {
        const r = await fetch(`http://${env.ROUTER_LISTEN}/metrics`);
        return (await r.text()).includes('wa_router_channel_up{channel="baileys"} 0');
      }, { timeoutMs: 30000 });
      const a = await sendText(phone, 'Yes, it is free. Come at 6?');
      const b = await sendText(phone, 'The address is 12 Herzl St.');
      for (const id of [a, b]) {
        const m = await waitMessage(id, 'held', (x) => x.status === 'held', { logs: ['router'] });
        assert.equal(m.provider, 'twilio');
        assert.equal(m.channel, `twilio:${FIRST}`);
        assert.match(m.reason, /held until the contact replies/);
      }
      // One template for the contact on that number, whatever the number of held messages.
      const calls = await waitFor('the re-engagement template', async () => {
        const c = await simCalls(phone);
        return c.length >= 1 ? c : false;
      });
      await sleep(500);
      assert.equal((await simCalls(phone)).length, 1, 'one template, not one per held message');
      assert.equal(calls[0].params.ContentSid, TEMPLATE);
      assert.equal(calls[0].params.From, `whatsapp:${FIRST}`);
      const [{ name }] = await q('select profile_name as name from contacts where phone = $1', [phone]);
      assert.deepEqual(JSON.parse(calls[0].params.ContentVariables), { 1: name ?? '' });
      assert.equal((await message(a)).json.status, 'held');

      // The contact answers on Twilio: the held replies go out through that number, in order.
      const reply = await sim('/sim/inbound', { from: phone, to: FIRST, body: 'yes please' });
      assert.equal(reply.status, 204);
      for (const id of [a, b]) await waitMessage(id, 'sent', (x) => SENT.includes(x.status), { logs: ['router', 'sender-twilio'] });
      const bodies = (await simCalls(phone)).map((c) => c.params.Body ?? `template ${c.params.ContentSid}`);
      assert.deepEqual(bodies, [`template ${TEMPLATE}`, 'Yes, it is free. Come at 6?', 'The address is 12 Herzl St.']);

      // The same reply delivered again releases nothing more.
      const again = await sim('/sim/inbound', { from: phone, to: FIRST, body: 'yes please', messageSid: reply.messageSid });
      assert.equal(again.status, 204);
      const barrier = await sim('/sim/inbound', { from: phone, to: FIRST, body: 'see you' });
      assert.equal(barrier.status, 204);
      await waitFor('the barrier message', async () =>
        (await q('select 1 from messages where provider_message_id = $1', [barrier.messageSid])).length === 1);
      await sleep(500);
      assert.equal((await simCalls(phone)).length, 3, 'each held reply went out once');
      const m = await waitMessage(b, 'delivered', (x) => ['delivered', 'read'].includes(x.status));
      assert.equal(m.channel, `twilio:${FIRST}`);
    } finally {
      services('start', 'bridge');
    }
  } finally {
    restore();
  }
});

test('the bridge found gone at send time, no window on the Twilio number: sender-baileys holds it, the router sends the template, the reply releases it once', async () => {
  const restore = restartWith('router', { REENGAGE_CONTENT_SID: TEMPLATE });
  try {
    await baileysUp();
    const phone = await baileysContact();
    services('kill9', 'bridge'); // the router still believes Baileys is up: the sender finds out
    try {
      const id = await sendText(phone, 'found out at send time');
      const m = await waitMessage(id, 'held', (x) => x.status === 'held', { timeoutMs: 30000,
        logs: ['sender-baileys', 'router'] });
      assert.equal(m.provider, 'twilio');
      assert.equal(m.failover, true);
      assert.equal(m.channel, `twilio:${FIRST}`);
      assert.match(m.reason, /held until they do/);
      const [call] = await waitFor('the re-engagement template', async () => {
        const c = await simCalls(phone);
        return c.length ? c : false;
      }, { logs: ['router'] });
      assert.equal(call.params.ContentSid, TEMPLATE);
      const reply = await sim('/sim/inbound', { from: phone, to: FIRST, body: 'here' });
      assert.equal(reply.status, 204);
      await waitMessage(id, 'sent', (x) => SENT.includes(x.status), { logs: ['router', 'sender-twilio'] });
      const bodies = (await simCalls(phone)).map((c) => c.params.Body ?? 'template');
      assert.deepEqual(bodies, ['template', 'found out at send time']);
    } finally {
      services('start', 'bridge');
    }
  } finally {
    restore();
  }
});

test('a held message whose hold expires fails with its reason, and raises wa.error', async () => {
  const restore = restartWith('router', { REENGAGE_CONTENT_SID: TEMPLATE, HOLD_TTL_S: '2' });
  try {
    const phone = uniquePhone(); // never wrote: outside every window
    const id = await sendText(phone, 'are you still looking?');
    await waitMessage(id, 'held', (x) => x.status === 'held', { logs: ['router'] });
    const m = await waitMessage(id, 'failed', (x) => x.status === 'failed', { timeoutMs: 15000, logs: ['router'] });
    assert.equal(m.errorCode, 'hold_expired');
    assert.match(m.errorText, /did not write in time/);
    const errors = (await topicRecords('wa.error')).map((r) => JSON.parse(r.value))
      .filter((e) => e.code === 'hold_expired' && e.payload?.includes(id));
    assert.equal(errors.length, 1);
    // Only the template went out; the held text never did.
    const calls = await simCalls(phone);
    assert.equal(calls.length, 1);
    assert.equal(calls[0].params.ContentSid, TEMPLATE);
  } finally {
    restore();
  }
});
