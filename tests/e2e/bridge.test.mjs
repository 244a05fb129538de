// bridge.test.mjs - acceptance 1 and 2 through the real bridge over its loopback WhatsApp.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  bridge, bridgeUrl, uniquePhone, waitFor, messagesFor, services, sleep, db,
} from './lib.mjs';

test.after(() => db.end());

async function until(what, fn, timeoutMs = 30000) {
  return waitFor(what, fn, { timeoutMs, everyMs: 200 });
}

// Evidence instead of a pause: the bridge posts one chat's messages in order and the router
// handles one contact's records in order, so once a later message of the chat is in the CRM,
// any repeat of the earlier ones has been handled too. Returns the rows before the barrier.
async function afterBarrier(phone) {
  const r = await bridge('/dev/inbound', { from: phone, text: 'barrier' });
  assert.ok(r.status < 300, r.text);
  await until('the barrier message in the CRM', async () =>
    (await messagesFor(phone)).some((m) => m.body === 'barrier'), 60000);
  return (await messagesFor(phone)).filter((m) => m.body !== 'barrier');
}

test('acceptance 1: the bridge reports itself connected (loopback WhatsApp)', async () => {
  const res = await fetch(`${bridgeUrl}/health`);
  assert.equal(res.status, 200);
  const body = await res.json();
  assert.equal(body.status, 'ok');
  assert.equal(body.connected, true);
  assert.ok(body.device, 'names the device');
});

test('acceptance 2: a WhatsApp message reaches the CRM once, as provider baileys', async () => {
  const phone = uniquePhone();
  const r = await bridge('/dev/inbound', { from: phone, text: 'hi from the loopback phone 👋', pushName: 'Lior' });
  assert.ok(r.status < 300, r.text);
  const rows = await until('the CRM row', async () => {
    const m = await messagesFor(phone);
    return m.length ? m : null;
  });
  assert.equal((await afterBarrier(phone)).length, 1);
  assert.equal(rows[0].provider, 'baileys');
  assert.equal(rows[0].body, 'hi from the loopback phone 👋');
  assert.equal(rows[0].profile_name, 'Lior');
  assert.equal(rows[0].last_inbound_provider, 'baileys');
  assert.match(rows[0].provider_message_id, new RegExp(`^${phone.slice(1)}@s\\.whatsapp\\.net/`));
});

test('acceptance 2: with ingress down for a while, the message waits in the bridge and lands once', async () => {
  const phone = uniquePhone();
  services('stop', 'ingress');
  try {
    const r = await bridge('/dev/inbound', { from: phone, text: 'sent while ingress was down' });
    assert.ok(r.status < 300, r.text);
    await sleep(2500);
    assert.equal((await messagesFor(phone)).length, 0, 'nothing can arrive while ingress is down');
  } finally {
    services('start', 'ingress');
  }
  await until('the CRM row after ingress is back', async () => (await messagesFor(phone)).length === 1, 60000);
  assert.equal((await afterBarrier(phone)).length, 1);
});

test('acceptance 2: kill -9 of the bridge between receiving and posting loses nothing', async () => {
  const phone = uniquePhone();
  // With ingress down the bridge can only write the message to its outbox.
  services('stop', 'ingress');
  try {
    const r = await bridge('/dev/inbound', { from: phone, text: 'received just before the crash' });
    assert.ok(r.status < 300, r.text);
    await sleep(300);
    services('kill9', 'bridge');
  } finally {
    services('start', 'ingress');
  }
  services('start', 'bridge');
  await until('the CRM row after the bridge restarted', async () => (await messagesFor(phone)).length === 1, 60000);
  assert.equal((await afterBarrier(phone)).length, 1);
  const health = await fetch(`${bridgeUrl}/health`);
  assert.equal(health.status, 200, 'the restarted bridge is connected again');
});
