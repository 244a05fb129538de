// optout.test.mjs - consent per (contact, number) (docs/architecture.md §3.5): a stop keyword,
// exactly, opts the contact out of the number it wrote to, and later sends there are refused
// before anything is sent; START opts back in; Twilio's 63033 opts out too, and a marketing
// template Twilio reports refused (63049) is not sent again there.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  env, db, q, ingressUrl, sendToken, send, waitMessage, sim, simCalls, bridge, bridgeSent,
  baileysUp, twilioContact, uniquePhone, messagesFor, key, waitFor, topicRecords, restartWith,
  inboundBarrier, ageContact, sleep,
} from './lib.mjs';

test.after(() => db.end());

// The tests run with two Twilio numbers (scripts/e2e.sh); the first is the default.
const [FIRST, SECOND] = env.TWILIO_WA_FROM.split(',').map((n) => n.trim().replace(/^whatsapp:/, ''));
const SENT = ['sent', 'delivered', 'read'];
const TEMPLATE = `HX${'c0'.repeat(16)}`;
const OTHER_TEMPLATE = `HX${'d1'.repeat(16)}`;

// POST /api/whatsapp/send with "Prefer: wait=3": the router's decision in the same answer.
async function sendWait(body) {
  const t0 = Date.now();
  const res = await fetch(`${ingressUrl}/api/whatsapp/send`, { method: 'POST',
    headers: { Authorization: `Bearer ${sendToken}`, 'Content-Type': 'application/json', Prefer: 'wait=3' },
    body: JSON.stringify({ idempotencyKey: key(), ...body }) });
  const text = await res.text();
  return { status: res.status, json: JSON.parse(text), text, ms: Date.now() - t0 };
}

// The contact's consent changes, oldest first.
const changes = (phone) => q(`select x.channel, x.opted_out, x.source, x.detail, x.message_id
  from consent_changes x join contacts c on c.id = x.contact_id where c.phone = $1 order by x.id`, [phone]);

async function waitChanges(phone, n, what) {
  return waitFor(what, async () => {
    const rows = await changes(phone);
    return rows.length >= n ? rows : false;
  }, { logs: ['router'] });
}

// This contact's events of a type on wa.events.
async function events(phone, type) {
  return (await topicRecords('wa.events')).map((r) => JSON.parse(r.value))
    .filter((e) => e.type === type && e.contact?.phone === phone);
}

// This contact's events of a type, once there are at least n.
async function waitEvents(phone, type, n = 1) {
  return waitFor(`${n} ${type} event(s)`, async () => {
    const e = await events(phone, type);
    return e.length >= n ? e : false;
  });
}

async function twilioSays(phone, body, to = FIRST, messageSid = undefined) {
  const r = await sim('/sim/inbound', { from: phone, to, body, messageSid });
  assert.equal(r.status, 204, JSON.stringify(r));
  return r.messageSid;
}

// A refusal for consent, as the caller of the send API learns it with Prefer: wait.
async function assertRefused(phone, code, body = { type: 'text', text: 'are you still there?' }) {
  const r = await sendWait({ to: phone, ...body });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.decided, true, r.text);
  assert.equal(r.json.status, 'failed', r.text);
  assert.equal(r.json.errorCode, code, r.text);
  assert.ok(r.ms < 2500, `answered after ${r.ms} ms: a refusal is decided at once`);
  return r.json;
}

test('STOP through Twilio opts the contact out of that number: a reply is refused at once, with wa.error and the notice; START opts back in and the next reply goes out', async () => {
  const phone = await twilioContact();
  const stop = await twilioSays(phone, '  Stop \n');
  const [row] = await waitChanges(phone, 1, 'the opt-out');
  assert.equal(row.channel, `twilio:${FIRST}`);
  assert.equal(row.opted_out, true);
  assert.equal(row.source, 'keyword');
  assert.equal(row.detail, 'STOP');
  const [stopRow] = await q('select id from messages where provider_message_id = $1', [stop]);
  assert.equal(row.message_id, stopRow.id, 'the change names the message that made it');

  const refused = await assertRefused(phone, 'opted_out');
  assert.match(refused.errorText, /opted out/);
  assert.equal(refused.channel, `twilio:${FIRST}`, 'the refusal names the number');
  assert.equal((await simCalls(phone)).length, 0, 'nothing reached Twilio');
  const errors = (await topicRecords('wa.error')).map((x) => JSON.parse(x.value))
    .filter((e) => e.code === 'opted_out' && e.payload?.includes(refused.id));
  assert.equal(errors.length, 1, 'one wa.error record');
  assert.equal(errors[0].stage, 'router.route');
  const notices = (await waitEvents(phone, 'wa.error')).filter((e) => e.message?.id === refused.id);
  assert.equal(notices.length, 1, 'the timeline notice');
  assert.equal(notices[0].code, 'opted_out');
  const [optout] = await waitEvents(phone, 'contact.optout');
  assert.equal(optout.channel, `twilio:${FIRST}`);
  assert.equal(optout.source, 'keyword');
  assert.equal(optout.keyword, 'STOP');
  assert.equal(optout.provider, 'twilio');
  assert.equal(optout.message_id, stopRow.id);
  assert.ok(Number.isInteger(optout.at_ms) && Number.isInteger(optout.id));

  await twilioSays(phone, 'start');
  const rows = await waitChanges(phone, 2, 'the opt-in');
  assert.equal(rows[1].opted_out, false);
  assert.equal(rows[1].detail, 'START');
  const [optin] = await waitEvents(phone, 'contact.optin');
  assert.equal(optin.channel, `twilio:${FIRST}`);
  assert.equal(optin.keyword, 'START');
  const r = await send({ to: phone, type: 'text', text: 'welcome back', idempotencyKey: key() });
  assert.equal(r.status, 202, r.text);
  const m = await waitMessage(r.json.id, 'sent', (x) => SENT.includes(x.status), { logs: ['router', 'sender-twilio'] });
  assert.equal(m.channel, `twilio:${FIRST}`);
  const calls = await simCalls(phone);
  assert.equal(calls.length, 1);
  assert.equal(calls[0].params.Body, 'welcome back');
});

test('Hebrew keywords through the Baileys bridge, with whitespace, direction marks and case variants; a sentence that contains one does not opt out', async () => {
  await baileysUp();
  const phone = uniquePhone();
  const say = async (text) => {
    const r = await bridge('/dev/inbound', { from: phone, text });
    assert.equal(r.status, 200, r.text);
  };
  await say('הסר אותי מהרשימה בבקשה'); // contains הסר: not a keyword
  await waitFor('the first message', async () => (await messagesFor(phone)).length === 1);
  await say('\u200fהסרה\n  '); // a keyword, with an RLM before and whitespace after
  const [out] = await waitChanges(phone, 1, 'the Hebrew opt-out');
  assert.match(out.channel, /^baileys/);
  assert.equal(out.opted_out, true);
  assert.equal(out.detail, 'הסרה');
  await assertRefused(phone, 'opted_out');
  assert.equal((await bridgeSent(phone)).length, 0, 'nothing reached WhatsApp');

  await say(' Start');
  await waitChanges(phone, 2, 'the opt-in');
  await say('ביטול');
  await say('UnSubscribe'); // already out: no second change
  await say('cancel\t');
  const rows = await waitChanges(phone, 3, 'the second opt-out');
  await inboundBarrier(phone); // every earlier record of the contact is handled
  await sleep(300);
  assert.deepEqual((await changes(phone)).map((x) => [x.opted_out, x.detail]),
    [[true, 'הסרה'], [false, 'START'], [true, 'ביטול']]);
  assert.equal(rows.length, 3);
  assert.equal((await waitEvents(phone, 'contact.optout', 2)).length, 2);
  assert.equal((await waitEvents(phone, 'contact.optin')).length, 1);
});

test('"stop by tomorrow?" and other sentences are not a stop keyword: nothing is opted out, and the reply goes out', async () => {
  const phone = await twilioContact();
  for (const text of ['stop by tomorrow?', 'STOP!', 'please cancel my 6pm visit', 'ביטולים']) await twilioSays(phone, text);
  await inboundBarrier(phone);
  assert.deepEqual(await changes(phone), []);
  const r = await send({ to: phone, type: 'text', text: 'see you tomorrow', idempotencyKey: key() });
  assert.equal(r.status, 202, r.text);
  await waitMessage(r.json.id, 'sent', (x) => SENT.includes(x.status));
});

test('Twilio 63033 on a send opts the contact out of that number (source twilio_error); the next send is refused', async () => {
  const phone = await twilioContact();
  await sim('/sim/faults', { to: phone, callbacks: [{ status: 'failed', errorCode: 63033 }] });
  const r = await send({ to: phone, type: 'text', text: 'our new offers', idempotencyKey: key() });
  assert.equal(r.status, 202, r.text);
  const failed = await waitMessage(r.json.id, 'failed 63033', (x) => x.status === 'failed', { logs: ['router'] });
  assert.equal(failed.errorCode, '63033');
  const [row] = await waitChanges(phone, 1, 'the opt-out from Twilio');
  assert.equal(row.channel, `twilio:${FIRST}`);
  assert.equal(row.source, 'twilio_error');
  assert.equal(row.detail, '63033');
  assert.equal(row.message_id, r.json.id);
  const [ev] = await waitEvents(phone, 'contact.optout');
  assert.equal(ev.source, 'twilio_error');
  assert.equal(ev.error_code, '63033');
  assert.equal(ev.channel, `twilio:${FIRST}`);
  assert.equal(ev.message_id, r.json.id);
  await assertRefused(phone, 'opted_out');
  assert.equal((await simCalls(phone)).length, 1, 'only the first send reached Twilio');
});

test('Twilio 63049 on a marketing template: that template is not sent to the contact on that number again; free text and another template are', async () => {
  const phone = await twilioContact();
  await sim('/sim/faults', { to: phone, callbacks: [{ status: 'failed', errorCode: 63049 }] });
  const tmpl = { type: 'template', template: { contentSid: TEMPLATE } };
  const r = await send({ to: phone, ...tmpl, idempotencyKey: key() });
  assert.equal(r.status, 202, r.text);
  const failed = await waitMessage(r.json.id, 'failed 63049', (x) => x.status === 'failed');
  assert.equal(failed.errorCode, '63049');
  await waitFor('the template refusal', async () => (await q(`select 1 from template_refusals t
    join contacts c on c.id = t.contact_id where c.phone = $1 and t.content_sid = $2
      and t.channel = $3`, [phone, TEMPLATE, `twilio:${FIRST}`])).length === 1, { logs: ['router'] });
  const again = await assertRefused(phone, 'marketing_refused', tmpl);
  assert.match(again.errorText, /63049/);
  assert.deepEqual(await changes(phone), [], '63049 is no opt-out');
  const other = await send({ to: phone, type: 'template', template: { contentSid: OTHER_TEMPLATE }, idempotencyKey: key() });
  const text = await send({ to: phone, type: 'text', text: 'a plain answer', idempotencyKey: key() });
  for (const x of [other, text]) await waitMessage(x.json.id, 'sent', (m) => SENT.includes(m.status));
  // From the second number the same template is not refused.
  const second = await sendWait({ to: phone, ...tmpl, channel: `twilio:${SECOND}` });
  assert.equal(second.json.errorCode, null, second.text);
  assert.equal(second.json.channel, `twilio:${SECOND}`);
  await waitMessage(second.json.id, 'sent', (m) => SENT.includes(m.status));
  assert.equal((await simCalls(phone)).length, 4);
});

test('per number: opted out of one Twilio number, the contact is still written to from the other when the request names it', async () => {
  assert.ok(SECOND, 'the tests configure two Twilio numbers');
  const phone = uniquePhone();
  await twilioSays(phone, 'hello second', SECOND);
  await twilioSays(phone, 'STOP', FIRST);
  await waitChanges(phone, 1, 'the opt-out of the first number');
  // Without a channel the router answers where the contact last wrote: the number it stopped.
  const refused = await assertRefused(phone, 'opted_out');
  assert.equal(refused.channel, `twilio:${FIRST}`);
  const r = await sendWait({ to: phone, type: 'text', text: 'from the other number', channel: `twilio:${SECOND}` });
  assert.equal(r.json.errorCode, null, r.text);
  await waitMessage(r.json.id, 'sent', (x) => SENT.includes(x.status));
  const calls = await simCalls(phone);
  assert.equal(calls.length, 1);
  assert.equal(calls[0].params.From, `whatsapp:${SECOND}`);
});

test('OPTOUT_CONFIRMATION: one confirmation through the number the contact stopped, never twice; messages held for that number fail', async () => {
  const text = 'You will get no more messages from this number. Send START to resume.';
  const restore = restartWith('router', { OPTOUT_CONFIRMATION: text, REENGAGE_CONTENT_SID: TEMPLATE });
  try {
    // A contact whose window closed: free text is held behind a re-engagement template.
    const phone = await twilioContact();
    await ageContact(phone, 25);
    const held = await send({ to: phone, type: 'text', text: 'still interested?', idempotencyKey: key() });
    await waitMessage(held.json.id, 'held', (x) => x.status === 'held', { logs: ['router'] });
    await waitFor('the re-engagement template', async () => (await simCalls(phone)).length === 1);

    const stopSid = `SM${phone.slice(1).padEnd(32, 'a')}`; // this contact's own
    await twilioSays(phone, 'STOP', FIRST, stopSid);
    await waitChanges(phone, 1, 'the opt-out');
    const m = await waitMessage(held.json.id, 'the held message failed', (x) => x.status === 'failed');
    assert.equal(m.errorCode, 'opted_out');
    const confirm = await waitFor('the confirmation sent', async () => {
      const rows = await q(`select m.id, m.status, m.body, m.channel, m.idempotency_key from messages m
        join contacts c on c.id = m.contact_id where c.phone = $1 and m.idempotency_key like 'optout-confirmation:%'`, [phone]);
      return rows.length === 1 && SENT.includes(rows[0].status) ? rows[0] : false;
    }, { logs: ['router', 'sender-twilio'] });
    assert.equal(confirm.body, text);
    assert.equal(confirm.channel, `twilio:${FIRST}`);
    // Twilio repeats the webhook; the contact says STOP again: no second confirmation.
    await twilioSays(phone, 'STOP', FIRST, stopSid);
    await twilioSays(phone, 'stop');
    await inboundBarrier(phone);
    await sleep(500);
    await assertRefused(phone, 'opted_out');
    const calls = await simCalls(phone);
    assert.deepEqual(calls.map((c) => c.params.Body ?? c.params.ContentSid), [TEMPLATE, text]);
    assert.equal(calls[1].params.From, `whatsapp:${FIRST}`);
    assert.equal((await changes(phone)).length, 1);
  } finally {
    restore();
  }
});
