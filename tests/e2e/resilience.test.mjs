// resilience.test.mjs - outages and crashes: Kafka down means 503 (never 204), a killed router loses nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  sendInbound, uniquePhone, waitFor, messagesFor, q, services, stack, inboundParams, ingressUrl, db,
  twilioContact, send, simCalls, waitMessage, key, sleep, inboundBarrier, counterFrom, senderTwilioUrl,
  topicRecords, sim, baileysUp, baileysContact, bothContact, restartWith, bridge, bridgeSent, bridgeUrl, message,
  senderBaileysUrl, env,
} from './lib.mjs';
import { readFileSync } from 'node:fs';
import path from 'node:path';

// The contact's rows other than the barrier's.
async function rowsBefore(phone, barrierSid) {
  return (await messagesFor(phone)).filter((m) => m.provider_message_id !== barrierSid);
}

test.after(() => db.end());

test('with Kafka stopped ingress answers 503, and the retried webhook lands once after Kafka is back', async () => {
  const phone = uniquePhone();
  const params = inboundParams({ from: phone, body: 'sent while Kafka was down' });
  stack('kafka-stop');
  try {
    const started = Date.now();
    const res = await sendInbound({ params });
    assert.equal(res.status, 503, `expected 503, got ${res.status} ${res.body}`);
    assert.equal(JSON.parse(res.body).error, 'unavailable');
    // The configured deadline bounds the wait (INGRESS_KAFKA_DEADLINE_MS, 3 s in the tests).
    assert.ok(Date.now() - started < Number(process.env.INGRESS_KAFKA_DEADLINE_MS) + 2000);
    const ready = await fetch(ingressUrl + '/readyz');
    assert.equal(ready.status, 503, '/readyz reports Kafka unreachable');
  } finally {
    stack('kafka-start');
  }
  // Twilio retries; the retry is accepted once Kafka takes records again. A
  // keep-alive socket idle through the restart may be closed under the client
  // (stack() blocks this event loop): that retry simply failed, like a reset
  // connection Twilio would retry.
  const retried = await waitFor('a 204 after Kafka restarted', async () => {
    try {
      const r = await sendInbound({ params });
      return r.status === 204 ? r : null;
    } catch {
      return null;
    }
  }, { timeoutMs: 60000, everyMs: 500, logs: ['ingress'] });
  assert.equal(retried.status, 204);
  // The router's group rejoins a restarted broker: its old membership must
  // expire first (session timeout), so this takes seconds, not milliseconds.
  await waitFor('the CRM row', async () => (await messagesFor(phone)).length === 1,
    { timeoutMs: 60000, logs: ['router'] });
  const barrier = await inboundBarrier(phone);
  assert.equal((await rowsBefore(phone, barrier)).length, 1);
});

test('with Postgres stopped, webhooks and a send request are accepted; when it is back each lands once', async () => {
  const contact = await twilioContact(); // a Twilio thread, so the reply goes out without a template
  const phone = uniquePhone();
  const N = 20;
  const sids = [];
  const k = key();
  let id;
  const senderSeen = await counterFrom(senderTwilioUrl, 'wa_sender_results_total{provider="twilio"');
  stack('pg-stop');
  try {
    // Ingress needs Kafka, not the CRM, to accept.
    for (let i = 0; i < N; i++) {
      const p = inboundParams({ from: phone, body: `while the CRM was down ${i}` });
      sids.push(p.MessageSid);
      const r = await sendInbound({ params: p });
      assert.equal(r.status, 204, r.body);
    }
    const s = await send({ to: contact, type: 'text', text: 'sent while the CRM was down', idempotencyKey: k });
    assert.equal(s.status, 202, s.text);
    id = s.json.id;
    await sleep(2000);
    assert.equal((await simCalls(contact)).length, 0, 'nothing is sent before it is stored');
  } finally {
    stack('pg-start');
  }
  await waitFor(`all ${N} webhooks in the CRM`, async () => (await messagesFor(phone)).length >= N,
    { timeoutMs: 60000, logs: ['router'] });
  await waitMessage(id, 'the reply sent', (m) => ['sent', 'delivered', 'read'].includes(m.status),
    { timeoutMs: 60000 });
  const barrier = await inboundBarrier(phone);
  const commands = (await topicRecords('wa.send.twilio')).filter((r) => JSON.parse(r.value).id === id).length;
  await senderSeen(commands, `sender-twilio to handle all ${commands} commands`);
  const rows = await rowsBefore(phone, barrier);
  assert.equal(rows.length, N, 'no duplicates');
  assert.deepEqual(new Set(rows.map((r) => r.provider_message_id)), new Set(sids), 'no loss');
  assert.equal((await simCalls(contact)).length, 1, 'one provider call');
});

test('kill -9 of the router mid-stream, then a restart: nothing lost, nothing doubled', async () => {
  const phone = uniquePhone();
  const N = 2000;
  const sids = [];
  let posted = 0;
  const posting = (async () => {
    for (let i = 0; i < N; i++) {
      const p = inboundParams({ from: phone, body: `message ${i}` });
      sids.push(p.MessageSid);
      const r = await sendInbound({ params: p });
      assert.equal(r.status, 204);
      posted++;
    }
  })();
  let during;
  try {
    // Kill it once some, but not all, of the stream is stored.
    await waitFor('the stream to start', async () => (await messagesFor(phone)).length >= 50,
      { everyMs: 10, timeoutMs: 30000, logs: ['router', 'ingress'] });
    services('kill9', 'router');
    const postedAtKill = posted;
    await posting;
    during = (await messagesFor(phone)).length;
    assert.ok(postedAtKill < N, `the router died mid-stream (${postedAtKill}/${N} posted at the kill)`);
    assert.ok(during < N, `nothing is stored while the router is dead (${during}/${N})`);
  } finally {
    services('start', 'router');
  }
  await waitFor(`all ${N} messages`, async () => (await messagesFor(phone)).length >= N,
    { timeoutMs: 60000, logs: ['router'] });
  const barrier = await inboundBarrier(phone);
  const rows = await rowsBefore(phone, barrier);
  assert.equal(rows.length, N, 'no duplicates');
  assert.deepEqual(new Set(rows.map((r) => r.provider_message_id)), new Set(sids), 'no loss');
  const [contact] = await q('select count(*)::int as n from contacts where phone = $1', [phone]);
  assert.equal(contact.n, 1);
});

test('SIGTERM while sender-twilio backs off after a 503: the message is sent after the restart, once', async () => {
  const phone = await twilioContact();
  await sim('/sim/faults', { to: phone, status: 503, count: 2 });
  const s = await send({ to: phone, type: 'text', text: 'interrupted by a stop', idempotencyKey: key() });
  assert.equal(s.status, 202, s.text);
  await waitFor('the first 503', async () => (await simCalls(phone)).length === 1,
    { logs: ['sender-twilio'] });
  // The sender now waits about a second before trying again: stop it right there.
  services('stop', 'sender-twilio');
  services('start', 'sender-twilio');
  const m = await waitMessage(s.json.id, 'sent after the restart',
    (x) => ['sent', 'delivered', 'read'].includes(x.status), { timeoutMs: 30000, logs: ['sender-twilio'] });
  assert.equal(m.provider, 'twilio');
  const calls = await simCalls(phone);
  assert.deepEqual(calls.map((c) => c.responseStatus), [503, 503, 201], 'one message accepted by Twilio');
});

test('a Baileys send in flight when the sender and the bridge crash is never failed over to Twilio', async () => {
  await baileysUp();
  // Twilio's window is open too: a failover would be allowed if the message were provably unsent.
  const phone = await bothContact();
  const restore = restartWith('sender-baileys', { BAILEYS_SEND_TIMEOUT_MS: '1500' });
  try {
    // The old instance's tombstone left Baileys UNKNOWN until the new one's first probe: a send
    // before that would be routed to Twilio (the window is open there too).
    await baileysUp();
    // The message reaches "WhatsApp", but no answer comes back: the sender's call times out.
    assert.equal((await bridge('/dev/send-stall', { ms: 600000, count: 1 })).status, 200);
    const timedOut = await counterFrom(senderBaileysUrl, 'wa_sender_retries_total{provider="baileys"}');
    const s = await send({ to: phone, type: 'text', text: 'in flight at the crash', idempotencyKey: key() });
    assert.equal(s.status, 202, s.text);
    await timedOut(1, 'the first /send to time out', { logs: ['sender-baileys'] });
    const [first] = await bridgeSent(phone);
    assert.ok(first, 'the first attempt reached WhatsApp');
    // Both crash; the bridge comes back while WhatsApp is still reconnecting.
    services('kill9', 'sender-baileys');
    services('kill9', 'bridge');
    services('start', 'bridge');
    await waitFor('the restarted bridge connected', async () => (await fetch(`${bridgeUrl}/health`)).status === 200);
    await bridge('/dev/disconnect', {});
    assert.equal((await fetch(`${bridgeUrl}/health`)).status, 503, 'WhatsApp is reconnecting');
    const asked = await counterFrom(bridgeUrl, 'bridge_send_errors_total{reason="not_connected_after_attempt"}');
    services('start', 'sender-baileys');
    await asked(1, 'the restarted sender to ask the bridge again', { logs: ['sender-baileys'] });
    let m = (await message(s.json.id)).json;
    assert.equal(m.provider, 'baileys');
    assert.equal(m.failover, false);
    assert.equal((await simCalls(phone)).length, 0, 'nothing went to Twilio');
    // Connected again: the same key goes out with the same WhatsApp id, once.
    await bridge('/dev/connect', {});
    m = await waitMessage(s.json.id, 'sent through Baileys', (x) => x.status === 'sent', { timeoutMs: 60000,
      logs: ['sender-baileys'] });
    assert.equal(m.provider, 'baileys');
    assert.equal(m.providerMessageId, `${phone.slice(1)}@s.whatsapp.net/${first.messageId}`);
    assert.deepEqual((await bridgeSent(phone)).map((x) => x.messageId), [first.messageId]);
    assert.equal((await simCalls(phone)).length, 0, 'nothing went to Twilio');
  } finally {
    await bridge('/dev/connect', {}).catch(() => {});
    restore();
  }
});

test('a stalled database never stalls webhooks: the send API waits for the CRM, Twilio\'s webhooks do not', async () => {
  const contact = await twilioContact();
  const phone = uniquePhone();
  const sent = await send({ to: contact, type: 'text', text: 'before the stall', idempotencyKey: key() });
  assert.equal(sent.status, 202, sent.text);
  // Lookups on every HTTP thread first, so each has its CRM connection open when it stalls.
  await Promise.all(Array.from({ length: 8 }, () => message(sent.json.id)));
  stack('pg-freeze');
  let lookups;
  try {
    // More API requests that need the CRM than ingress has HTTP threads; each waits on it.
    lookups = Array.from({ length: 4 }, () => message(sent.json.id));
    await sleep(300);
    const within = (p, ms, what) => Promise.race([p, new Promise((_, reject) =>
      setTimeout(() => reject(new Error(`${what}: no answer in ${ms} ms`)), ms))]);
    for (let i = 0; i < 10; i++) {
      const t0 = Date.now();
      const r = await within(sendInbound({ from: phone, body: `during the stall ${i}` }), 3000, `webhook ${i}`);
      assert.equal(r.status, 204, r.body);
      assert.ok(Date.now() - t0 < 1000, `webhook ${i} answered in ${Date.now() - t0} ms`);
    }
    // The API answers within its own deadline, saying why.
    for (const r of await within(Promise.all(lookups), 10000, 'the API lookups')) {
      assert.ok([503, 200].includes(r.status), `${r.status} ${r.text}`);
    }
  } finally {
    stack('pg-thaw');
  }
  await waitFor('the webhooks in the CRM', async () => (await messagesFor(phone)).length === 10,
    { timeoutMs: 60000, logs: ['router'] });
  // After a stall the CRM is asked again a few seconds later.
  await waitFor('the send API to read the CRM again', async () => (await message(sent.json.id)).status === 200,
    { timeoutMs: 15000 });
});

test('after a Postgres restart, the senders replace their idle connections at once: no send waits on a dead one', async () => {
  const contacts = [];
  for (let i = 0; i < 8; i++) contacts.push(await twilioContact());
  // Every lane of sender-twilio has been connected; a restart closes all those connections.
  const log = path.join(env.WA_STATE, 'log', 'sender-twilio.log');
  stack('pg-stop');
  stack('pg-start');
  const from = readFileSync(log, 'utf8').length;
  const ids = [];
  for (const [i, to] of contacts.entries()) {
    const r = await send({ to, type: 'text', text: `after the restart ${i}`, idempotencyKey: key() });
    assert.equal(r.status, 202, r.text);
    ids.push(r.json.id);
  }
  for (const id of ids) {
    await waitMessage(id, 'sent after the restart', (m) => ['sent', 'delivered', 'read'].includes(m.status),
      { timeoutMs: 30000 });
  }
  // A statement on a connection Postgres had closed is tried again on a new one, not failed:
  // before, each lane's first statement failed ("terminating connection due to administrator
  // command") and its command waited for the loop's retry pause.
  const since = readFileSync(log, 'utf8').slice(from);
  assert.doesNotMatch(since, /terminating connection due to administrator command/, since.split('\n')
    .filter((l) => /FATAL/.test(l)).slice(0, 3).join('\n'));
});
