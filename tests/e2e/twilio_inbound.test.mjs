// twilio_inbound.test.mjs - a Twilio WhatsApp message, signed as Twilio signs it, lands once in the CRM.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import https from 'node:https';
import {
  sendInbound, uniquePhone, waitFor, messagesFor, topicRecords, metric, q, ingressUrl, counterFrom, routerUrl,
  inboundParams, newMessageSid, db, services, newPhones, produceByContact,
} from './lib.mjs';

test.after(() => db.end());

test('a signed webhook answers 204 and exactly one CRM row appears with the right fields', async () => {
  const phone = uniquePhone();
  const res = await sendInbound({ from: phone, body: 'Hi, is the flat still free?', profileName: 'Dana K' });
  assert.equal(res.status, 204, res.body);
  const rows = await waitFor('the CRM row', async () => {
    const r = await messagesFor(phone);
    return r.length ? r : null;
  });
  assert.equal(rows.length, 1);
  const m = rows[0];
  assert.equal(m.direction, 'inbound');
  assert.equal(m.provider, 'twilio');
  assert.equal(m.provider_message_id, res.params.MessageSid);
  assert.equal(m.type, 'text');
  assert.equal(m.body, 'Hi, is the flat still free?');
  assert.equal(m.status, 'received');
  assert.equal(m.phone, phone);
  assert.equal(m.wa_id, phone.slice(1));
  assert.equal(m.profile_name, 'Dana K');
  assert.equal(m.last_inbound_provider, 'twilio');
  assert.ok(Date.now() - new Date(m.last_inbound_at).getTime() < 60_000, 'the 24h window opened now');
  assert.equal(m.payload.raw.ApiVersion, '2010-04-01', 'every Twilio field is kept');
});

test('the same MessageSid posted 5 times gives one row', async () => {
  const phone = uniquePhone();
  const params = inboundParams({ from: phone, body: 'dup?' });
  const repeats = await counterFrom(routerUrl, 'wa_router_inbound_total{result="duplicate"}');
  for (let i = 0; i < 5; i++) {
    const r = await sendInbound({ params });
    assert.equal(r.status, 204);
  }
  await waitFor('the CRM row', async () => (await messagesFor(phone)).length > 0);
  await repeats(4, 'the router to handle the four repeats');
  const rows = await messagesFor(phone);
  assert.equal(rows.length, 1);
  const copies = (await topicRecords('wa.inbound')).filter((r) => r.value.includes(params.MessageSid));
  assert.equal(copies.length, 5, 'ingress accepted all five; the CRM absorbed the repeats');
});

test('a wrong signature gets 403, a missing one 400, and nothing reaches wa.inbound', async () => {
  const base = ingressUrl;
  const before403 = await metric(base, 'wa_ingress_webhooks_total{provider="twilio",result="bad_auth"}');
  const before400 = await metric(base, 'wa_ingress_webhooks_total{provider="twilio",result="missing_auth"}');
  const phone = uniquePhone();
  const bad = await sendInbound({ from: phone, body: 'forged' }, { signature: 'AAAAAAAAAAAAAAAAAAAAAAAAAAA=' });
  assert.equal(bad.status, 403);
  assert.equal(JSON.parse(bad.body).error, 'bad_signature');
  const none = await sendInbound({ from: phone, body: 'unsigned' }, { signature: null });
  assert.equal(none.status, 400);
  assert.equal(JSON.parse(none.body).error, 'missing_signature');
  // Signed for another token: also 403.
  const { postWebhook } = await import('../../sim/twilio/webhook.mjs');
  const other = await postWebhook({ targetUrl: base + '/api/whatsapp/twilio',
    publicUrl: process.env.PUBLIC_BASE_URL + '/api/whatsapp/twilio', authToken: 'another-token',
    params: inboundParams({ from: phone, body: 'other token' }) });
  assert.equal(other.status, 403);
  // A good request after them, so that "nothing on the topic" is not just lag.
  const good = await sendInbound({ from: uniquePhone(), body: 'after' });
  assert.equal(good.status, 204);
  const records = await topicRecords('wa.inbound');
  assert.ok(records.some((r) => r.value.includes(good.params.MessageSid)));
  assert.equal(records.filter((r) => r.key === phone.slice(1)).length, 0);
  assert.equal((await messagesFor(phone)).length, 0);
  assert.equal(await metric(base, 'wa_ingress_webhooks_total{provider="twilio",result="bad_auth"}'), before403 + 2);
  assert.equal(await metric(base, 'wa_ingress_webhooks_total{provider="twilio",result="missing_auth"}'), before400 + 1);
});

test('a Hebrew and emoji body round-trips byte for byte', async () => {
  const phone = uniquePhone();
  const body = 'שלום! האם הדירה עדיין פנויה? 🏠👋 ש"ח 1,200 + מע"מ';
  const res = await sendInbound({ from: phone, body, profileName: 'דנה' });
  assert.equal(res.status, 204);
  const [m] = await waitFor('the CRM row', async () => {
    const r = await messagesFor(phone);
    return r.length ? r : null;
  });
  assert.equal(Buffer.compare(Buffer.from(m.body, 'utf8'), Buffer.from(body, 'utf8')), 0);
  assert.equal(m.profile_name, 'דנה');
  const [raw] = await q('select convert_to(body, \'UTF8\') as b from messages where provider_message_id = $1', [res.params.MessageSid]);
  assert.equal(raw.b.toString('hex'), Buffer.from(body, 'utf8').toString('hex'));
});

test('media, location and button fields are normalized', async () => {
  const phone = uniquePhone();
  const res = await sendInbound({ from: phone, body: '', media: [
    { url: 'https://api.twilio.com/2010-04-01/Accounts/AC0/Messages/MM0/Media/ME0', mime: 'image/jpeg', type: 'image' },
  ] });
  assert.equal(res.status, 204);
  const [m] = await waitFor('the CRM row', async () => {
    const r = await messagesFor(phone);
    return r.length ? r : null;
  });
  assert.equal(m.type, 'image');
  assert.deepEqual(m.payload.media, [{ url: 'https://api.twilio.com/2010-04-01/Accounts/AC0/Messages/MM0/Media/ME0', mime: 'image/jpeg' }]);

  const loc = await sendInbound({ from: phone, extra: { Latitude: '32.0853', Longitude: '34.781768', Address: 'Tel Aviv', MessageType: 'location' } });
  assert.equal(loc.status, 204);
  await waitFor('the location row', async () => (await messagesFor(phone)).length === 2);
  const rows = await messagesFor(phone);
  const l = rows.find((r) => r.provider_message_id === loc.params.MessageSid);
  assert.equal(l.type, 'location');
  assert.deepEqual(l.payload.location, { latitude: '32.0853', longitude: '34.781768', address: 'Tel Aviv' });
});

test('bad input gets a clear 4xx and is counted', async () => {
  const base = ingressUrl;
  // Signed, but no MessageSid: 400 saying so.
  const params = inboundParams({ from: uniquePhone() });
  delete params.MessageSid;
  delete params.SmsMessageSid;
  delete params.SmsSid;
  const r = await sendInbound({ params });
  assert.equal(r.status, 400);
  assert.match(JSON.parse(r.body).message, /MessageSid is missing/);
  // Oversized body: 413 as soon as the announced length is seen, before the signature is looked
  // at or the body read (so the client may not even get to send it: a raw request, not fetch).
  const big = await new Promise((resolve, reject) => {
    // ingress may serve HTTPS (WA_TLS=1): node trusts its CA through NODE_EXTRA_CA_CERTS.
    const req = (base.startsWith('https:') ? https : http).request(base + '/api/whatsapp/twilio', { method: 'POST', headers: {
      'Content-Type': 'application/x-www-form-urlencoded', 'X-Twilio-Signature': 'x',
      'Content-Length': String(600_000) } }, (res) => {
      resolve(res.statusCode);
      req.destroy(); /* the rest of the body is never sent */
    });
    req.on('error', reject);
    req.write('Body=aaaa');
  });
  assert.equal(big, 413);
  // Headers larger than INGRESS_MAX_HEADER (8 KB by default): 431 from the HTTP layer.
  const hdr = await fetch(base + '/api/whatsapp/twilio', { method: 'POST',
    headers: { 'X-Padding': 'a'.repeat(10_000), 'Content-Type': 'application/x-www-form-urlencoded' }, body: 'a=1' });
  assert.equal(hdr.status, 431);
  // A few kilobytes of headers (a proxy's, a long token) still reach the handler: the signature
  // is what answers.
  const mid = await fetch(base + '/api/whatsapp/twilio', { method: 'POST',
    headers: { 'X-Padding': 'a'.repeat(5_000), 'Content-Type': 'application/x-www-form-urlencoded',
      'X-Twilio-Signature': 'AAAAAAAAAAAAAAAAAAAAAAAAAAA=' }, body: 'a=1' });
  assert.equal(mid.status, 403);
  // Unknown path and wrong method.
  assert.equal((await fetch(base + '/api/whatsapp/nope', { method: 'POST' })).status, 404);
  assert.equal((await fetch(base + '/api/whatsapp/twilio')).status, 405);
  // Wrong content type.
  const json = await fetch(base + '/api/whatsapp/twilio', { method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-Twilio-Signature': 'x' }, body: '{}' });
  assert.equal(json.status, 415);
  assert.ok(await metric(base, 'wa_ingress_webhooks_total{provider="twilio",result="too_large"}') >= 1);
  assert.ok(await metric(base, 'wa_ingress_webhooks_total{provider="twilio",result="bad_request"}') >= 2);
});

test('health, readiness and metrics answer', async () => {
  assert.equal((await fetch(ingressUrl + '/healthz')).status, 200);
  await waitFor('readiness', async () => (await fetch(ingressUrl + '/readyz')).status === 200);
  const text = await (await fetch(ingressUrl + '/metrics')).text();
  assert.match(text, /# TYPE wa_ingress_kafka_ack_seconds histogram/);
  const r = await (await fetch(`http://${process.env.ROUTER_LISTEN}/metrics`)).text();
  assert.match(r, /wa_router_inbound_total\{result="stored"\} [1-9]/);
});

test('wa.events carries the inbound message and the lead update, each naming its provider', async () => {
  const phone = uniquePhone();
  const res = await sendInbound({ from: phone, body: 'events please' });
  assert.equal(res.status, 204);
  const events = await waitFor('two events', async () => {
    const e = (await topicRecords('wa.events')).filter((r) => r.key === phone.slice(1)).map((r) => JSON.parse(r.value));
    return e.length >= 2 ? e : null;
  });
  const inbound = events.find((e) => e.type === 'wa.inbound');
  const lead = events.find((e) => e.type === 'lead.update');
  assert.equal(inbound.provider, 'twilio');
  assert.equal(inbound.message.text, 'events please');
  assert.equal(inbound.contact.phone, phone);
  assert.equal(lead.provider, 'twilio');
  assert.equal(lead.contact.last_inbound_provider, 'twilio');
  assert.ok(lead.contact.window_open_until_ms > Date.now() + 23 * 3600 * 1000);
  assert.ok(Number.isInteger(inbound.id) && inbound.id !== lead.id, 'events carry distinct ids');
  assert.equal(events.length, 2, 'one of each, no repeats');
  // An event's id is its outbox row's. Once published, the rows are gone: the outbox holds only
  // what is still to publish (it used to keep every event ever written, and grew without end).
  await waitFor('the published rows deleted from the outbox', async () =>
    (await q('select count(*)::int n from outbox where id = any($1::bigint[])', [[inbound.id, lead.id]]))[0].n === 0);
});

test('a poison record on wa.inbound goes to wa.error and does not block the partition', async () => {
  const { execFileSync } = await import('node:child_process');
  const phone = uniquePhone();
  const key = phone.slice(1);
  const marker = `poison-${Date.now()}`;
  // Same key as a good message that follows, so both land on one partition.
  execFileSync('kcat', ['-b', process.env.KAFKA_BROKERS, '-P', '-t', 'wa.inbound', '-k', key], { input: `{"not":"an event","marker":"${marker}"`, timeout: 30000 });
  const res = await sendInbound({ from: phone, body: 'after the poison' });
  assert.equal(res.status, 204);
  await waitFor('the message behind the poison', async () => (await messagesFor(phone)).length === 1);
  const errs = await waitFor('the parked record', async () => {
    const e = (await topicRecords('wa.error')).map((r) => JSON.parse(r.value)).filter((e) => e.payload?.includes(marker));
    return e.length ? e : null;
  });
  assert.equal(errs[0].stage, 'router.inbound');
  assert.equal(errs[0].code, 'invalid_event');
  assert.equal(errs[0].retryable, false);
  assert.equal(errs[0].topic, 'wa.inbound');
});

test('a record the CRM refuses is parked alone; the records around it are stored', async () => {
  const { execFileSync } = await import('node:child_process');
  const phone = uniquePhone();
  const key = phone.slice(1);
  const marker = `SMrefused${Date.now()}`;
  // Valid JSON and a plausible event, but "+0..." breaks the contacts table's E.164 check.
  const refused = JSON.stringify({ v: 1, provider: 'twilio', provider_message_id: marker, type: 'text',
    contact: { phone: '+0123456789' }, text: 'refused', timestamp_ms: Date.now(), received_ms: Date.now() });
  const good = (id) => JSON.stringify({ v: 1, provider: 'twilio', provider_message_id: `SMok${id}${Date.now()}`,
    type: 'text', contact: { phone }, text: `good ${id}`, timestamp_ms: Date.now(), received_ms: Date.now() });
  // One produce call, one partition: the three arrive together and usually share a batch.
  execFileSync('kcat', ['-b', process.env.KAFKA_BROKERS, '-P', '-t', 'wa.inbound', '-k', key],
    { input: [good(1), refused, good(2)].join('\n') + '\n', timeout: 30000 });
  await waitFor('both good messages', async () => (await messagesFor(phone)).length === 2);
  const errs = await waitFor('the parked record', async () => {
    const e = (await topicRecords('wa.error')).map((r) => JSON.parse(r.value)).filter((e) => e.payload?.includes(marker));
    return e.length ? e : null;
  });
  assert.equal(errs[0].code, 'rejected_by_crm');
  assert.match(errs[0].text, /contacts_phone_check|violates/);
  assert.equal((await q('select count(*)::int as n from messages where provider_message_id = $1', [marker]))[0].n, 0);
});

test('a backlog stored in one batch keeps each contact\'s messages in order, each once', async () => {
  const [a, b, c] = await newPhones(3);
  const t0 = Date.now() - 60000;
  const sid = (tag) => `SMbatch${tag}${t0}`;
  const ev = (phone, tag, k, extra = {}) => ({ v: 1, provider: 'twilio', provider_message_id: sid(tag), type: 'text',
    contact: { phone }, text: `batch ${tag}`, timestamp_ms: t0 + k * 1000, received_ms: t0 + k * 1000, ...extra });
  // The router stores texts of different contacts in one statement, a set, and a contact's next
  // message in the next one; a media message takes a statement of its own in between. A repeat
  // (a1 again) is stored once.
  const records = [
    ev(a, 'a1', 1), ev(b, 'b1', 2), ev(a, 'a2', 3), ev(c, 'c1', 4),
    ev(b, 'b2', 5, { type: 'image', text: undefined, media: [{ mime: 'image/jpeg', unavailable: 'too_large' }] }),
    ev(a, 'a1', 1), ev(a, 'a3', 6), ev(b, 'b3', 7), ev(c, 'c2', 8), ev(a, 'a4', 9),
  ];
  const fromMs = Date.now();
  // With the router stopped, the records wait on their partitions and come back in one poll: one
  // batch.
  services('stop', 'router');
  try {
    await produceByContact('wa.inbound', records);
  } finally {
    services('start', 'router');
  }
  const want = { [a]: ['a1', 'a2', 'a3', 'a4'], [b]: ['b1', 'b2', 'b3'], [c]: ['c1', 'c2'] };
  for (const [phone, tags] of Object.entries(want)) {
    await waitFor(`${phone}'s messages`, async () => (await messagesFor(phone)).length >= tags.length);
    const rows = await q(`select m.provider_message_id from messages m join contacts k on k.id = m.contact_id
                           where k.phone = $1 order by m.provider_ts`, [phone]);
    assert.deepEqual(rows.map((r) => r.provider_message_id), tags.map(sid), `${phone}: each message once`);
    const [k] = await q(`select (extract(epoch from k.last_inbound_at) * 1000)::bigint::text ms,
                                (extract(epoch from w.last_inbound_at) * 1000)::bigint::text w
                           from contacts k join contact_channels w on w.contact_id = k.id where k.phone = $1`, [phone]);
    const last = records.filter((r) => r.contact.phone === phone).reduce((x, r) => Math.max(x, r.timestamp_ms), 0);
    assert.equal(Number(k.ms), last, `${phone}: the window is its last message's`);
    assert.equal(Number(k.w), last, `${phone}: the window on the number is its last message's`);
  }
  const image = (await messagesFor(b)).find((m) => m.provider_message_id === sid('b2'));
  const media = await q('select unavailable from media where message_id = $1', [image.id]);
  assert.deepEqual(media.map((m) => m.unavailable), ['too_large']);
  // The events: each contact's in the order of its messages, and its window only moving forward.
  const events = await waitFor('every event', async () => {
    const e = (await topicRecords('wa.events', { fromMs: fromMs - 5000 })).map((r) => JSON.parse(r.value))
      .filter((x) => Object.keys(want).includes(x.contact?.phone) && (x.type === 'wa.inbound' || x.type === 'lead.update'));
    return e.length >= 18 ? e : null;
  });
  assert.equal(events.length, 18, 'two events a message, none for the repeat');
  for (const [phone, tags] of Object.entries(want)) {
    const mine = events.filter((x) => x.contact.phone === phone);
    assert.deepEqual(mine.filter((x) => x.type === 'wa.inbound').map((x) => x.message.provider_message_id), tags.map(sid));
    const windows = mine.filter((x) => x.type === 'lead.update').map((x) => x.contact.last_inbound_ms);
    assert.deepEqual(windows, [...windows].sort((x, y) => x - y), `${phone}: the window never moves back`);
  }
  // The router started afresh, so its counter is this batch's alone.
  assert.equal(await metric(routerUrl, 'wa_router_batches_split_total'), 0, 'no statement of the batch was refused');
});
