// outbound.test.mjs - the send API, routing (docs/architecture.md §3), both senders, failover,
// no duplicates, backoff and delivery statuses, on the real stack with the simulators.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import {
  api, send, message, waitMessage, sim, simCalls, bridge, bridgeSent, twilioContact, bothContact,
  baileysContact, key, produce, q, waitFor, sleep, services, topicRecords, uniquePhone, metric,
  env, postBridge, counterFrom, senderTwilioUrl, metricSum, baileysUp, ageContact, restartWith, routerUrl,
  produceByContact, newPhones,
} from './lib.mjs';

const TEMPLATE = 'HX0123456789abcdef0123456789abcdef';
const senderBaileys = `http://${env.SENDER_BAILEYS_LISTEN}`;

async function sendOk(body) {
  const r = await send(body);
  assert.equal(r.status, 202, r.text);
  assert.equal(r.json.status, 'accepted');
  return r.json.id;
}


test('send API: token, validation and lookup errors are clear and counted', async () => {
  const body = { to: uniquePhone(), type: 'text', text: 'hi', idempotencyKey: key() };
  const none = await send(body, { token: null });
  assert.equal(none.status, 401);
  assert.equal(none.json.error, 'missing_token');
  const wrong = await send(body, { token: 'not-the-token' });
  assert.equal(wrong.status, 403);

  const cases = [
    [{ to: body.to, type: 'text', text: 'hi' }, /idempotencyKey: required/],
    [{ ...body, to: 'nobody' }, /to: not a phone number/],
    [{ ...body, type: 'fax' }, /type: must be text, media or template/],
    [{ ...body, text: undefined }, /text: required for type text/],
    [{ ...body, colour: 'red' }, /unknown field "colour"/],
    [{ ...body, type: 'template', text: undefined, template: { contentSid: 'HX1' } },
      /template.contentSid: must be HX/],
    [{ ...body, type: 'media', text: undefined, media: { url: 'ftp://x/y.jpg' } }, /media.url/],
    [{ ...body, provider: 'carrier-pigeon' }, /provider: must be twilio or baileys/],
    [{ ...body, text: 'x'.repeat(4097) }, /longer than 4096 characters/],
  ];
  for (const [b, re] of cases) {
    const r = await send(b);
    assert.equal(r.status, 400, JSON.stringify(b).slice(0, 80));
    assert.match(r.json.message, re);
  }
  assert.equal((await send('{"to":', {})).status, 400);
  assert.equal((await send(body, { contentType: 'text/plain' })).status, 415);
  assert.equal((await message('not-a-uuid')).status, 400);
  assert.equal((await message('00000000-0000-4000-8000-000000000000')).status, 404);
  assert.equal((await api('GET', '/api/whatsapp/messages/00000000-0000-4000-8000-000000000000',
    undefined, { token: null })).status, 401);
  // Nothing of the refused requests reached the CRM.
  assert.equal((await q('select count(*)::int n from contacts where phone = $1', [body.to]))[0].n, 0);
});

test('acceptance 3: inside the window with Baileys UP, the bridge sends it with the idempotencyKey', async () => {
  await baileysUp();
  const phone = await baileysContact();
  const k = key();
  const id = await sendOk({ to: phone, type: 'text', text: 'hello from the agent', idempotencyKey: k });
  const m = await waitMessage(id, 'status sent', (x) => x.status === 'sent');
  assert.equal(m.provider, 'baileys');
  assert.equal(m.failover, false);
  assert.equal(m.attempts, 1);
  const sent = await bridgeSent(phone);
  assert.equal(sent.length, 1);
  assert.equal(m.providerMessageId, `${phone.slice(1)}@s.whatsapp.net/${sent[0].messageId}`);
  assert.equal(sent[0].content.text, 'hello from the agent');
  // The bridge knows the key: asking it again returns the same WhatsApp id and sends nothing.
  const again = await bridge('/send', { to: phone, type: 'text', text: 'x', idempotencyKey: k });
  assert.equal(again.json.duplicate, true);
  assert.equal(again.json.messageId, sent[0].messageId);
  assert.equal((await bridgeSent(phone)).length, 1);
  assert.equal((await simCalls(phone)).length, 0);
});

test('acceptance 5: reply via source - Twilio contacts via Twilio, Baileys contacts via Baileys', async () => {
  await baileysUp();
  const viaTwilio = await twilioContact();
  const viaBaileys = await baileysContact();
  const a = await sendOk({ to: viaTwilio, type: 'text', text: 'reply A', idempotencyKey: key() });
  const b = await sendOk({ to: viaBaileys, type: 'text', text: 'reply B', idempotencyKey: key() });
  const ma = await waitMessage(a, 'A sent', (x) => ['sent', 'delivered', 'read'].includes(x.status));
  const mb = await waitMessage(b, 'B sent', (x) => x.status === 'sent');
  assert.equal(ma.provider, 'twilio');
  assert.equal(ma.reason, 'reply via source (Twilio)');
  assert.equal(mb.provider, 'baileys');
  assert.equal(mb.reason, 'reply via source (Baileys)');
  const calls = await simCalls(viaTwilio);
  assert.equal(calls.length, 1);
  assert.equal(calls[0].params.Body, 'reply A');
  assert.equal(calls[0].params.To, `whatsapp:${viaTwilio}`);
  // The number the contact wrote to (the simulator's default, the first configured).
  assert.equal(calls[0].params.From, env.TWILIO_WA_FROM.split(',')[0]);
  assert.equal(calls[0].params.StatusCallback,
    `${env.PUBLIC_BASE_URL}/api/whatsapp/twilio/status?id=${a}`);
  assert.equal((await bridgeSent(viaTwilio)).length, 0);
  assert.equal((await bridgeSent(viaBaileys)).length, 1);
  assert.equal((await simCalls(viaBaileys)).length, 0);
});

test('acceptance 7: outside 24h a template goes via Twilio; free text is not sent, with the reason', async () => {
  const phone = await twilioContact();
  await ageContact(phone, 25);
  const tpl = await sendOk({ to: phone, type: 'template', idempotencyKey: key(),
    template: { contentSid: TEMPLATE, variables: { 1: 'Dana', 2: '12/1' } } });
  const free = await sendOk({ to: phone, type: 'text', text: 'are you there?', idempotencyKey: key() });
  const mt = await waitMessage(tpl, 'the template sent', (x) => ['sent', 'delivered', 'read'].includes(x.status));
  assert.equal(mt.provider, 'twilio');
  const mf = await waitMessage(free, 'the free text refused', (x) => x.status === 'failed');
  assert.equal(mf.provider, null);
  assert.equal(mf.errorCode, 'outside_window');
  assert.equal(mf.errorText, 'outside 24h window: template required');
  assert.equal(mf.attempts, 0);
  await sleep(500);
  const calls = await simCalls(phone);
  assert.equal(calls.length, 1, 'only the template reached Twilio');
  assert.equal(calls[0].params.ContentSid, TEMPLATE);
  assert.deepEqual(JSON.parse(calls[0].params.ContentVariables), { 1: 'Dana', 2: '12/1' });
  assert.equal(calls[0].params.Body, undefined);
  assert.equal((await bridgeSent(phone)).length, 0);
  // wa.error has it, with the request; wa.events has the notice for the timeline.
  const errors = (await topicRecords('wa.error')).map((r) => JSON.parse(r.value))
    .filter((e) => e.code === 'outside_window' && e.payload?.includes(free));
  assert.equal(errors.length, 1);
  assert.equal(errors[0].retryable, false);
  const notices = (await topicRecords('wa.events')).map((r) => JSON.parse(r.value))
    .filter((e) => e.type === 'wa.error' && e.message?.id === free);
  assert.equal(notices.length, 1);
  assert.equal(notices[0].text, 'outside 24h window: template required');
  assert.equal(notices[0].contact.phone, phone);
});

test('no duplicates: the same idempotencyKey 10 times at once is one provider call', async () => {
  const phone = await twilioContact();
  const body = { to: phone, type: 'text', text: 'only once', idempotencyKey: key() };
  const routerSeen = await counterFrom(routerUrl, 'wa_router_outbound_total{');
  const senderSeen = await counterFrom(senderTwilioUrl, 'wa_sender_results_total{provider="twilio"');
  const answers = await Promise.all(Array.from({ length: 10 }, () => send(body)));
  const ids = new Set(answers.map((a) => a.json.id));
  assert.equal(ids.size, 1, 'every answer names the same message');
  for (const a of answers) assert.ok([200, 202].includes(a.status), a.text);
  const [id] = ids;
  await waitMessage(id, 'sent', (x) => ['sent', 'delivered', 'read'].includes(x.status));
  // A later repeat is answered from the CRM with the first result.
  const later = await send(body);
  assert.equal(later.status, 200);
  assert.equal(later.json.duplicate, true);
  assert.equal(later.json.id, id);
  // Every copy ingress put on wa.outbound has been through the router, and every command it made
  // through sender-twilio: only then does one call prove that nothing was doubled.
  const copies = (await topicRecords('wa.outbound'))
    .filter((r) => JSON.parse(r.value).idempotencyKey === body.idempotencyKey).length;
  await routerSeen(copies, `the router to handle all ${copies} copies of the request`);
  const commands = (await topicRecords('wa.send.twilio')).filter((r) => JSON.parse(r.value).id === id).length;
  await senderSeen(commands, `sender-twilio to handle all ${commands} commands`);
  assert.equal((await simCalls(phone)).length, 1);
  assert.equal((await q(`select count(*)::int n from messages m join contacts c on c.id = m.contact_id
    where c.phone = $1 and m.direction = 'outbound'`, [phone]))[0].n, 1);
  // The key is bound to its recipient.
  const other = await send({ ...body, to: uniquePhone() });
  assert.equal(other.status, 409);
});

test('no duplicates: a Kafka redelivery of the request and of the command sends nothing more', async () => {
  const phone = await twilioContact();
  const k = key();
  const id = await sendOk({ to: phone, type: 'text', text: 'redelivered', idempotencyKey: k });
  await waitMessage(id, 'sent', (x) => ['sent', 'delivered', 'read'].includes(x.status));
  const cmd = (await topicRecords('wa.send.twilio')).find((r) => JSON.parse(r.value).id === id);
  assert.ok(cmd, 'the command is on wa.send.twilio');
  const req = (await topicRecords('wa.outbound')).find((r) => JSON.parse(r.value).idempotencyKey === k);
  const handled = await counterFrom(senderTwilioUrl, 'wa_sender_results_total{provider="twilio"');
  const repeats = await counterFrom(routerUrl, 'wa_router_outbound_total{result="duplicate"');
  await produce('wa.send.twilio', cmd.key, cmd.value);
  await produce('wa.outbound', req.key, req.value);
  // Produced straight to wa.outbound without an id: the same contract, the same message.
  await produce('wa.outbound', phone.slice(1),
    JSON.stringify({ to: phone, type: 'text', text: 'redelivered', idempotencyKey: k }));
  await handled(1, 'sender-twilio to handle the redelivered command');
  await repeats(2, 'the router to absorb both redelivered requests');
  assert.equal((await simCalls(phone)).length, 1);
  assert.equal((await q(`select count(*)::int n from messages where idempotency_key = $1`, [k]))[0].n, 1);
});

test('no duplicates: kill -9 of sender-twilio mid-send (Twilio made it), then a restart: Twilio\'s list settles it, no second call', async () => {
  const phone = await twilioContact();
  // Twilio takes it, slowly, and sends no callbacks of its own until the test asks.
  await sim('/sim/faults', { to: phone, latencyMs: 3000, count: 1 });
  await sim('/sim/faults', { to: phone, callbacks: [] });
  const id = await sendOk({ to: phone, type: 'text', text: 'in flight', idempotencyKey: key() });
  await waitFor('the sender to claim it', async () =>
    (await q('select status from messages where id = $1', [id]))[0]?.status === 'sending');
  await waitFor('the call to reach the simulator', async () => (await simCalls(phone)).length === 1);
  services('kill9', 'sender-twilio');
  // Twilio has no idempotency key: the restarted sender finds the row mid-send and waits until
  // an attempt begun at that claim must have ended (shorter timeouts make that 15 s here), then
  // asks Twilio's list, which has the message: recorded as sent with Twilio's sid, not resent.
  const restore = restartWith('sender-twilio', { TWILIO_TIMEOUT_MS: '4000', TWILIO_CONNECT_TIMEOUT_MS: '500' });
  try {
    const m = await waitMessage(id, 'sent, from Twilio\'s list', (x) => x.status === 'sent' && x.providerMessageId,
      { timeoutMs: 40000 });
    const calls = await simCalls(phone);
    assert.equal(calls.length, 1);
    assert.equal(m.providerMessageId, calls[0].sid);
    assert.equal((await q(`select count(*)::int n from message_statuses where message_id = $1 and status = 'unknown'`,
      [id]))[0].n, 0);
  } finally {
    restore();
  }
});

test('no loss: sender-twilio killed after its claim, before its call: the restarted sender sends it, once', async () => {
  const phone = await twilioContact();
  services('stop', 'sender-twilio');
  try {
    const id = await sendOk({ to: phone, type: 'text', text: 'claimed, never called', idempotencyKey: key() });
    await waitFor('the router to queue it for Twilio', async () =>
      (await q('select status from messages where id = $1', [id]))[0]?.status === 'queued');
    // What a sender killed between its claim and its call leaves behind, a minute ago.
    await q(`update messages set status = 'sending', attempts = 1, updated_at = now() - interval '1 minute'
             where id = $1`, [id]);
    services('start', 'sender-twilio');
    const m = await waitMessage(id, 'sent', (x) => ['sent', 'delivered', 'read'].includes(x.status), { timeoutMs: 30000 });
    const calls = await simCalls(phone);
    assert.equal(calls.length, 1, 'sent once');
    assert.equal(m.providerMessageId, calls[0].sid);
    assert.equal((await q(`select count(*)::int n from message_statuses where message_id = $1 and status = 'unknown'`,
      [id]))[0].n, 0);
  } finally {
    services('start', 'sender-twilio');
  }
});

test('backoff: 429 three times, then 201; the attempts follow 1 s, 2 s, 4 s within jitter', async () => {
  const phone = await twilioContact();
  await sim('/sim/faults', { to: phone, status: 429, count: 3 });
  const id = await sendOk({ to: phone, type: 'text', text: 'patience', idempotencyKey: key() });
  const m = await waitMessage(id, 'sent after the retries', (x) => ['sent', 'delivered', 'read'].includes(x.status),
    { timeoutMs: 20000 });
  assert.equal(m.attempts, 4);
  const calls = await simCalls(phone);
  assert.deepEqual(calls.map((c) => c.responseStatus), [429, 429, 429, 201]);
  const gaps = calls.slice(1).map((c, i) => c.receivedAtMs - calls[i].receivedAtMs);
  [1000, 2000, 4000].forEach((d, i) => {
    assert.ok(gaps[i] >= d * 0.8 - 20 && gaps[i] <= d * 1.2 + 250,
      `retry ${i + 1}: ${gaps[i].toFixed(0)} ms, expected ${d} ms ±20%`);
  });
});

test('a contact backing off after 429s holds no one else: 24 contacts sent meanwhile go out at once', async () => {
  // With 24 others over the topic's 6 partitions, several share the slow contact's partition.
  const others = await Promise.all(Array.from({ length: 24 }, () => twilioContact()));
  const slow = await twilioContact();
  await sim('/sim/faults', { to: slow, status: 429, count: 3 });
  const slowId = await sendOk({ to: slow, type: 'text', text: 'backing off', idempotencyKey: key() });
  await waitFor('the slow contact\'s first 429', async () => (await simCalls(slow)).length >= 1);
  const t0 = Date.now();
  await Promise.all(others.map((to) => sendOk({ to, type: 'text', text: 'meanwhile', idempotencyKey: key() })));
  const firsts = await waitFor('every other contact\'s call', async () => {
    const calls = await Promise.all(others.map((to) => simCalls(to)));
    return calls.every((c) => c.length === 1) && calls.map((c) => c[0].receivedAtMs);
  }, { timeoutMs: 20000, logs: ['sender-twilio'] });
  const lag = Math.max(...firsts) - t0;
  const slowCalls = await simCalls(slow);
  // Its retries wait 1 s, 2 s and 4 s: the others went out while it still waited.
  assert.ok(lag < 2000, `the last of the others went out ${lag} ms after they were sent`);
  assert.ok(slowCalls.length < 4, `the slow contact was done first (${slowCalls.length} calls)`);
  const m = await waitMessage(slowId, 'sent after its retries', (x) => ['sent', 'delivered', 'read'].includes(x.status),
    { timeoutMs: 20000 });
  assert.equal(m.attempts, 4);
});

// The lanes' claims commit in groups (wa_pg_group_exec): a claim that fails for good fails alone,
// and the others of its group run again without it. Its lane must hear of it too: before, it
// waited forever, and that contact's commands with it.
test('claims made together: a row the CRM refuses and commands for no message are each reported once, the others sent once', async (t) => {
  const first = await twilioContact();
  const firstId = await sendOk({ to: first, type: 'text', text: 'a command to copy', idempotencyKey: key() });
  await waitMessage(firstId, 'sent', (x) => ['sent', 'delivered', 'read'].includes(x.status));
  const model = (await topicRecords('wa.send.twilio')).find((r) => JSON.parse(r.value).id === firstId);
  assert.ok(model, 'the command is on wa.send.twilio');
  // What an operator's constraint could do: a row whose every update fails for good.
  await q(`create or replace function e2e_refuse_update() returns trigger language plpgsql as $$
    begin
      if new.idempotency_key like '%-refused' then
        raise exception 'refused by the test' using errcode = 'check_violation';
      end if;
      return new;
    end $$;
    create or replace trigger e2e_refuse_update before update on messages
      for each row execute function e2e_refuse_update()`);
  services('stop', 'sender-twilio');
  t.after(async () => {
    services('start', 'sender-twilio');
    await q(`drop trigger if exists e2e_refuse_update on messages; drop function if exists e2e_refuse_update();
      update messages set status = 'failed' where idempotency_key like '%-refused' and status = 'queued'`);
  });
  // Commands for messages the CRM never had, first on their partitions: the lanes start on
  // these and the real ones together.
  const unknown = (await newPhones(12)).map((phone) => ({ phone, key: key() }));
  for (const u of unknown) {
    const { id, ...cmd } = JSON.parse(model.value);
    await produce('wa.send.twilio', u.phone.slice(1), JSON.stringify({ ...cmd, to: u.phone, idempotencyKey: u.key }));
  }
  const phones = await Promise.all(Array.from({ length: 24 }, () => twilioContact()));
  const keys = phones.map((_, i) => (i % 6 === 0 ? `${key()}-refused` : key()));
  const ids = await Promise.all(phones.map((to, i) => sendOk({ to, type: 'text', text: 'claimed together', idempotencyKey: keys[i] })));
  await waitFor('the router\'s commands', async () =>
    (await topicRecords('wa.send.twilio')).filter((r) => ids.includes(JSON.parse(r.value).id)).length === ids.length);
  const log = path.join(env.WA_STATE, 'log', 'sender-twilio.log');
  const from = readFileSync(log, 'utf8').length;
  const t0 = Date.now();
  services('start', 'sender-twilio');
  const refused = keys.filter((k) => k.endsWith('-refused'));
  for (const [i, id] of ids.entries()) {
    if (refused.includes(keys[i])) continue;
    const m = await waitMessage(id, 'sent', (x) => ['sent', 'delivered', 'read'].includes(x.status), { timeoutMs: 30000 });
    assert.equal(m.attempts, 1);
    assert.equal((await simCalls(phones[i])).length, 1, `calls to ${phones[i]}`);
  }
  const errors = await waitFor('an error for each command not claimed', async () => {
    const e = (await topicRecords('wa.error', { fromMs: t0 - 1000 })).map((r) => JSON.parse(r.value))
      .filter((x) => x.stage === 'sender-twilio');
    return e.length >= unknown.length + refused.length && e;
  }, { logs: ['sender-twilio'] });
  for (const u of unknown) {
    assert.deepEqual(errors.filter((e) => e.payload?.includes(u.key)).map((e) => e.code), ['unknown_message'], u.key);
  }
  for (const k of refused) {
    assert.deepEqual(errors.filter((e) => e.payload?.includes(k)).map((e) => e.code), ['rejected_by_crm'], k);
  }
  assert.equal(errors.length, unknown.length + refused.length);
  for (const [i, k] of keys.entries()) {
    if (refused.includes(k)) assert.equal((await simCalls(phones[i])).length, 0, `calls to ${phones[i]}`);
  }
  // One line each, naming the statement once.
  const refusals = readFileSync(log, 'utf8').slice(from).split('\n').filter((l) => l.includes('refused by the test'));
  assert.equal(refusals.length, refused.length, refusals.join('\n'));
  for (const l of refusals) assert.match(l, /warn: postgres send_claim: ERROR: +refused by the test CONTEXT: /);
});

// Lanes wait on the provider most of the time: they share a few connections instead of holding
// one each, so 128 lanes (more than the 64 the connection per lane allowed) fit in Postgres's
// default 100 connections, with room for the other services and instances.
test('128 lanes share the 4 Postgres connections SENDER_PG_CONNECTIONS gives them, and send every message', async (t) => {
  const app = `e2e_lanes_${process.pid}`;
  const url = env.DATABASE_URL;
  t.after(restartWith('sender-twilio', { SENDER_WORKERS: '128', SENDER_PG_CONNECTIONS: '4',
    DATABASE_URL: `${url}${url.includes('?') ? '&' : '?'}application_name=${app}` }));
  const phones = await Promise.all(Array.from({ length: 40 }, () => twilioContact()));
  const ids = await Promise.all(phones.map((to) => sendOk({ to, type: 'text', text: 'many lanes', idempotencyKey: key() })));
  for (const id of ids) {
    await waitMessage(id, 'sent', (x) => ['sent', 'delivered', 'read'].includes(x.status), { timeoutMs: 30000 });
  }
  const [{ n }] = await q('select count(*)::int n from pg_stat_activity where application_name = $1', [app]);
  // The lanes' 4, and the template catalogue's own one.
  assert.ok(n >= 4 && n <= 5, `sender-twilio holds ${n} Postgres connections`);
});

test('no duplicates: a 502 from Twilio\'s edge after it made the message is reconciled, not resent', async () => {
  const phone = await twilioContact();
  await sim('/sim/faults', { to: phone, status: 502, created: true });
  // No status callbacks either, so nothing but the sender's own reconciling can tell it was made.
  await sim('/sim/faults', { to: phone, callbacks: [] });
  const id = await sendOk({ to: phone, type: 'text', text: 'made, answer lost', idempotencyKey: key() });
  const m = await waitMessage(id, 'sent', (x) => ['sent', 'delivered', 'read'].includes(x.status),
    { timeoutMs: 20000, logs: ['sender-twilio'] });
  const calls = await simCalls(phone);
  assert.deepEqual(calls.map((c) => c.responseStatus), [502], 'one message made, none sent again');
  assert.equal(m.providerMessageId, calls[0].sid);
  assert.equal(m.attempts, 1);
});

test('a 502 for a message Twilio did not make: its list shows nothing, so it is sent again, once', async () => {
  const phone = await twilioContact();
  await sim('/sim/faults', { to: phone, status: 502 });
  const id = await sendOk({ to: phone, type: 'text', text: 'lost at the edge', idempotencyKey: key() });
  const m = await waitMessage(id, 'sent', (x) => ['sent', 'delivered', 'read'].includes(x.status),
    { timeoutMs: 20000, logs: ['sender-twilio'] });
  const calls = await simCalls(phone);
  assert.deepEqual(calls.map((c) => c.responseStatus), [502, 201]);
  assert.equal(m.providerMessageId, calls[1].sid);
});

test('a permanent Twilio refusal fails at once with Twilio\'s code, and raises wa.error', async () => {
  const phone = await twilioContact();
  // WhatsApp allows 4096 characters; Twilio's Body takes 1600 (error 21617).
  const id = await sendOk({ to: phone, type: 'text', text: 'long '.repeat(400), idempotencyKey: key() });
  const m = await waitMessage(id, 'failed', (x) => x.status === 'failed');
  assert.equal(m.provider, 'twilio');
  assert.equal(m.attempts, 1);
  assert.equal(m.errorCode, '21617');
  assert.match(m.errorText, /HTTP 400/);
  const calls = await simCalls(phone);
  assert.deepEqual(calls.map((c) => c.responseStatus), [400]);
  const errors = (await topicRecords('wa.error')).map((r) => JSON.parse(r.value))
    .filter((e) => e.stage === 'sender-twilio' && e.payload?.includes(id));
  assert.equal(errors.length, 1);
  assert.equal(errors[0].code, '21617');
});

test('media by URL: MediaUrl with the caption as Body', async () => {
  const phone = await twilioContact();
  await sendOk({ to: phone, type: 'media', idempotencyKey: key(),
    media: { url: 'https://example.com/a.jpg', caption: 'look' } });
  const [call] = await waitFor('the Twilio call', async () => {
    const c = await simCalls(phone);
    return c.length ? c : false;
  });
  assert.deepEqual(call.params.MediaUrl, ['https://example.com/a.jpg'].length === 1 &&
    Array.isArray(call.params.MediaUrl) ? ['https://example.com/a.jpg'] : 'https://example.com/a.jpg');
  assert.equal(call.params.Body, 'look');
});

test('statuses: callbacks move the CRM to delivered then read; a late delivered does not undo read', async () => {
  const phone = await twilioContact();
  await sim('/sim/faults', { to: phone, callbacks: ['sent', 'read', 'delivered'] });
  const id = await sendOk({ to: phone, type: 'text', text: 'tick tick', idempotencyKey: key() });
  await waitFor('three callbacks applied', async () =>
    (await q('select count(*)::int n from message_statuses where message_id = $1', [id]))[0].n >= 4);
  await sleep(300);
  const m = (await message(id)).json;
  assert.equal(m.status, 'read');
  assert.deepEqual(m.statuses.map((s) => s.status), ['queued', 'sent', 'read', 'delivered']);

  // Baileys receipts, out of order too.
  await baileysUp();
  const bphone = await baileysContact();
  const bid = await sendOk({ to: bphone, type: 'text', text: 'seen?', idempotencyKey: key() });
  await waitMessage(bid, 'sent', (x) => x.status === 'sent');
  const [sent] = await bridgeSent(bphone);
  await bridge('/dev/receipt', { messageId: sent.messageId, to: bphone, status: 'read' });
  await waitMessage(bid, 'read', (x) => x.status === 'read');
  // The bridge itself only forwards receipts that move forward; a late one can still reach
  // ingress (a retry of its outbox), so post it the way the bridge does.
  const late = await postBridge({ event: 'status', remoteJid: `${bphone.slice(1)}@s.whatsapp.net`,
    messageId: sent.messageId, status: 'delivered', timestamp: Math.floor(Date.now() / 1000), phone: bphone });
  assert.equal(late.status, 204, late.body);
  await waitFor('the late receipt recorded', async () =>
    (await q(`select count(*)::int n from message_statuses where message_id = $1 and status = 'delivered'`,
      [bid]))[0].n === 1);
  assert.equal((await message(bid)).json.status, 'read');
});

test('a Baileys receipt that overtakes the sender\'s record of WhatsApp\'s id still lands on its message', async () => {
  await baileysUp();
  const phone = await baileysContact();
  const skippedBefore = await metricSum(senderBaileys,
    'wa_sender_results_total{provider="baileys",result="already_handled"');
  // With sender-baileys frozen the message stays queued and no WhatsApp id is recorded: the
  // state a receipt finds when it outruns the sender's commit. Frozen, not stopped: a stopped
  // instance says goodbye on wa.provider, and the router would route around Baileys.
  const pid = Number(readFileSync(path.join(env.WA_STATE, 'run', 'sender-baileys.pid'), 'utf8'));
  process.kill(pid, 'SIGSTOP');
  let id;
  const k = key();
  try {
    id = await sendOk({ to: phone, type: 'text', text: 'quick reader', idempotencyKey: k });
    await waitMessage(id, 'routed to Baileys', (x) => x.provider === 'baileys');
    const jid = `${phone.slice(1)}@s.whatsapp.net`;
    const r = await postBridge({ event: 'status', remoteJid: jid, messageId: '3EB0EARLY0000001',
      status: 'delivered', timestamp: Math.floor(Date.now() / 1000), phone, idempotencyKey: k });
    assert.equal(r.status, 204, r.body);
    const m = await waitMessage(id, 'delivered', (x) => x.status === 'delivered');
    assert.equal(m.providerMessageId, `${jid}/3EB0EARLY0000001`);
  } finally {
    process.kill(pid, 'SIGCONT');
  }
  // The receipt proves WhatsApp has it: the queued command must not send it again. Once the
  // thawed sender has a result for it (already handled), the queued one was seen.
  await waitFor('sender-baileys to handle the queued command', async () =>
    (await metricSum(senderBaileys, 'wa_sender_results_total{provider="baileys",result="already_handled"')) >= skippedBefore + 1,
  { timeoutMs: 30000, logs: ['sender-baileys'] });
  assert.deepEqual(await bridgeSent(phone), [], 'nothing sent a second time');
  assert.equal((await message(id)).json.status, 'delivered');
});

test('acceptance 6: failover - the bridge dies, the message goes out via Twilio, flagged', async (t) => {
  await baileysUp();
  // The contact wrote to the Twilio number too: Twilio's window is open for it.
  const phone = await bothContact();
  services('kill9', 'bridge');
  try {
    const t0 = Date.now();
    const id = await sendOk({ to: phone, type: 'text', text: 'are you still there?', idempotencyKey: key() });
    const [call] = await waitFor('the Twilio call', async () => {
      const c = await simCalls(phone);
      return c.length ? c : false;
    });
    const ms = call.receivedAtMs - t0;
    t.diagnostic(`send request -> simulator received the Twilio call: ${ms.toFixed(0)} ms`);
    assert.ok(ms < 1000, `failover took ${ms} ms`);
    const m = await waitMessage(id, 'sent via Twilio', (x) => ['sent', 'delivered', 'read'].includes(x.status));
    assert.equal(m.provider, 'twilio');
    assert.equal(m.failover, true);
    assert.match(m.reason, /failover|down/i);
    // Twilio's own budget: its first call is attempt 1, whatever Baileys' calls were.
    assert.equal(m.attempts, 1);
    const events = (await topicRecords('wa.events')).map((r) => JSON.parse(r.value))
      .filter((e) => e.type === 'failover' && (e.message_id === id || e.message?.id === id));
    assert.equal(events.length, 1);
    assert.equal(events[0].provider, 'twilio');
    // Baileys is DOWN now: the next message is routed to Twilio directly.
    const id2 = await sendOk({ to: phone, type: 'text', text: 'second', idempotencyKey: key() });
    const m2 = await waitMessage(id2, 'sent', (x) => ['sent', 'delivered', 'read'].includes(x.status));
    assert.equal(m2.provider, 'twilio');
    assert.equal(m2.failover, true);
  } finally {
    services('start', 'bridge');
  }
  await baileysUp();
});

test('a backlog of statuses in one batch: each message ends at its furthest status, each status recorded and announced once', async () => {
  await sim('/sim/config', { callbacks: false }); // only the statuses below move these messages
  try {
    const [a, b, c] = [await twilioContact(), await twilioContact(), await twilioContact()];
    const msgs = {};
    for (const to of [a, b, c]) {
      const r = await send({ to, type: 'text', text: `status batch ${to}`, idempotencyKey: key() });
      msgs[to] = await waitMessage(r.json.id, 'sent', (x) => x.status === 'sent' && x.providerMessageId);
    }
    const t0 = Date.now();
    // A names both ids, B Twilio's only, C ours only: the router finds each message either way.
    const ids = { [a]: { message_id: msgs[a].id, provider_message_id: msgs[a].providerMessageId },
      [b]: { provider_message_id: msgs[b].providerMessageId }, [c]: { message_id: msgs[c].id } };
    const st = (phone, status, k) => ({ v: 1, provider: 'twilio', ...ids[phone], status, source: 'callback',
      timestamp_ms: t0 + k, received_ms: t0 + k, failover: false, contact: { phone } });
    // The router applies statuses of different contacts in one statement, a set, and a contact's
    // next status in the next one.
    const records = [st(a, 'delivered', 1), st(b, 'delivered', 2), st(c, 'read', 3), st(a, 'read', 4),
      st(b, 'read', 5), st(a, 'delivered', 6), st(c, 'delivered', 7), st(b, 'sent', 8)];
    const fromMs = Date.now();
    services('stop', 'router');
    try {
      await produceByContact('wa.status', records);
    } finally {
      services('start', 'router');
    }
    // The router started afresh, so its counters are this backlog's alone: five applied, c's late
    // `delivered` stale, a's second `delivered` and b's `sent` (the sender's, already) repeats.
    const counts = async () => Promise.all(['applied', 'stale', 'duplicate']
      .map((r) => metric(routerUrl, `wa_router_status_total{result="${r}"}`)));
    await waitFor('every status handled', async () => (await counts()).reduce((x, y) => x + y, 0) >= records.length);
    assert.deepEqual(await counts(), [5, 1, 2]);
    for (const phone of [a, b, c]) {
      const m = (await message(msgs[phone].id)).json;
      assert.equal(m.status, 'read', `${phone}: at its furthest status, never back`);
      const hist = await q('select status from message_statuses where message_id = $1 order by status', [m.id]);
      assert.deepEqual(hist.map((h) => h.status), ['delivered', 'queued', 'read', 'sent'], `${phone}: each status once`);
    }
    const events = await waitFor('the status events', async () => {
      // Applied after the router's restart: the sender's own `sent` came before.
      const e = (await topicRecords('wa.events', { fromMs })).map((r) => JSON.parse(r.value))
        .filter((x) => x.type === 'wa.status' && Object.values(msgs).some((m) => m.id === x.message_id) && x.at_ms >= fromMs);
      return e.length >= 6 ? e : null;
    });
    const seen = events.map((x) => `${x.message_id === msgs[a].id ? 'a' : x.message_id === msgs[b].id ? 'b' : 'c'} ${x.status} ${x.current}`);
    assert.deepEqual(seen.sort(), ['a delivered true', 'a read true', 'b delivered true', 'b read true',
      'c delivered false', 'c read true'], 'a new status once each; a late one is not current');
    assert.equal(await metric(routerUrl, 'wa_router_batches_split_total'), 0, 'no statement of the batch was refused');
  } finally {
    await sim('/sim/config', { callbacks: true });
  }
});

test('the router reads the outbox and contacts by their indexes, however many dead rows the outbox holds', async () => {
  await sim('/sim/config', { callbacks: false }); // only the statuses below move these messages
  try {
    const phones = [await twilioContact(), await twilioContact(), await twilioContact()];
    const msgs = [];
    for (const to of phones) {
      const r = await send({ to, type: 'text', text: `plan ${to}`, idempotencyKey: key() });
      msgs.push(await waitMessage(r.json.id, 'sent', (x) => x.status === 'sent'));
    }
    const scans = async () => Object.fromEntries((await q(
      "select relname, seq_scan::int, idx_scan::int from pg_stat_user_tables where relname in ('outbox', 'contacts')"))
      .map((r) => [r.relname, r]));
    // Postgres counts scans per table, not per client: the other services that read contacts
    // (the API's lookups, the dashboard, media jobs being retried) stay stopped until the count.
    const others = ['ingress', 'dashboard', 'media-worker'];
    services('stop', 'router', ...others);
    try {
      // What a busy hour leaves between two vacuums: published rows deleted but still on their
      // pages, and statistics taken then (a few live rows on many pages). The router plans its
      // statements afresh after its start.
      await q(`begin; insert into outbox (topic, key, payload)
          select 'dead', 'dead', '{}'::jsonb from generate_series(1, 20000);
        delete from outbox where topic = 'dead'
          and id not in (select id from outbox where topic = 'dead' order by id desc limit 3);
        analyze outbox;
        delete from outbox where topic = 'dead'; commit`);
      // And a CRM of some size: in a table of a few pages (the tests' own contacts, when few
      // tests ran before this one) reading it all is the cheaper plan, and the right one.
      await q(`insert into contacts (phone) select '+1999' || lpad(g::text, 7, '0')
        from generate_series(1, 20000) g on conflict do nothing; analyze contacts`);
      // Statuses of three contacts, one set: the set's events name each contact's phone.
      const records = msgs.map((m, k) => ({ v: 1, provider: 'twilio', message_id: m.id, status: 'delivered',
        source: 'callback', timestamp_ms: Date.now() + k, received_ms: Date.now(), failover: false,
        contact: { phone: phones[k] } }));
      await produceByContact('wa.status', records);
      // This test's own reads (the contacts it drew) are counted within a second of them too.
      await sleep(1500);
      const before = await scans();
      services('start', 'router');
      // Counted by the router (started afresh), whose scans are the only ones from here.
      await waitFor('the statuses applied', async () =>
        (await metric(routerUrl, 'wa_router_status_total{result="applied"}')) >= msgs.length);
      // Postgres counts a backend's scans once it is idle, within a second: the router's are in
      // once the outbox shows the page of the statuses' events read, then a second more.
      const read = (x) => x.outbox.seq_scan + x.outbox.idx_scan;
      await waitFor('the router\'s scans counted', async () => read(await scans()) > read(before));
      await sleep(1500);
      const after = await scans();
      assert.equal(after.outbox.seq_scan - before.outbox.seq_scan, 0, 'the outbox was read in full');
      assert.equal(after.contacts.seq_scan - before.contacts.seq_scan, 0, 'the contacts were read in full');
    } finally {
      await q(`delete from contacts where phone like '+1999%' and length(phone) = 12
        and not exists (select 1 from messages where contact_id = contacts.id); analyze contacts`);
      services('start', 'router', ...others);
    }
    for (const m of msgs) assert.equal((await message(m.id)).json.status, 'delivered');
  } finally {
    await sim('/sim/config', { callbacks: true });
  }
});
