// baileys_inbound.test.mjs - the bridge's webhook: secret, validation, exactly-once, one contact across providers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  postBridge, bridgeMessage, uniquePhone, waitFor, messagesFor, topicRecords, metric, ingressUrl,
  sendInbound, q, db, counterFrom, routerUrl, env,
} from './lib.mjs';

test.after(() => db.end());

test('a bridge message answers 204 and lands once, even when the bridge posts it 3 times', async () => {
  const phone = uniquePhone();
  const msg = bridgeMessage(phone, { text: 'שלום מהגשר 👋', pushName: 'Noa' });
  const repeats = await counterFrom(routerUrl, 'wa_router_inbound_total{result="duplicate"}');
  for (let i = 0; i < 3; i++) {
    const r = await postBridge(msg);
    assert.equal(r.status, 204, r.body);
  }
  await waitFor('the CRM row', async () => (await messagesFor(phone)).length > 0);
  await repeats(2, 'the router to handle the two repeats');
  const rows = await messagesFor(phone);
  assert.equal(rows.length, 1);
  const m = rows[0];
  assert.equal(m.provider, 'baileys');
  assert.equal(m.provider_message_id, `${msg.remoteJid}/${msg.messageId}`);
  assert.equal(m.body, 'שלום מהגשר 👋');
  assert.equal(m.profile_name, 'Noa');
  assert.equal(m.last_inbound_provider, 'baileys');
  const sent = new Date(m.provider_ts).getTime();
  assert.ok(sent >= msg.timestamp * 1000 && sent <= msg.timestamp * 1000 + 999, 'WhatsApp\'s own send second is kept');
});

test('the same message id in another chat is another message', async () => {
  const a = uniquePhone();
  const b = uniquePhone();
  const id = '3EB0SAMEIDINTWOCHATS';
  assert.equal((await postBridge(bridgeMessage(a, { messageId: id }))).status, 204);
  assert.equal((await postBridge(bridgeMessage(b, { messageId: id }))).status, 204);
  await waitFor('both rows', async () => (await messagesFor(a)).length === 1 && (await messagesFor(b)).length === 1);
});

test('a missing secret gets 401, a wrong one 403, counted, and nothing reaches Kafka', async () => {
  const before401 = await metric(ingressUrl, 'wa_ingress_webhooks_total{provider="baileys",result="missing_auth"}');
  const before403 = await metric(ingressUrl, 'wa_ingress_webhooks_total{provider="baileys",result="bad_auth"}');
  const phone = uniquePhone();
  const none = await postBridge(bridgeMessage(phone), { secret: null });
  assert.equal(none.status, 401);
  assert.equal(JSON.parse(none.body).error, 'missing_secret');
  const wrong = await postBridge(bridgeMessage(phone), { secret: 'guess' });
  assert.equal(wrong.status, 403);
  assert.equal(JSON.parse(wrong.body).error, 'bad_secret');
  const good = await postBridge(bridgeMessage(uniquePhone()));
  assert.equal(good.status, 204);
  const records = await topicRecords('wa.inbound');
  assert.equal(records.filter((r) => r.key === phone.slice(1)).length, 0);
  assert.equal(await metric(ingressUrl, 'wa_ingress_webhooks_total{provider="baileys",result="missing_auth"}'), before401 + 1);
  assert.equal(await metric(ingressUrl, 'wa_ingress_webhooks_total{provider="baileys",result="bad_auth"}'), before403 + 1);
});

test('a bad body gets a 400 that says why', async () => {
  const cases = [
    [{ raw: '{"remoteJid":' }, /invalid JSON/],
    [bridgeMessage(uniquePhone(), { messageId: '' }), /messageId is required/],
    [bridgeMessage(uniquePhone(), { type: 'fax' }), /type must be one of/],
    [{ ...bridgeMessage(uniquePhone()), remoteJid: '123456@lid', phone: null }, /LID needs its phone mapping/],
  ];
  for (const [body, reason] of cases) {
    const r = body.raw ? await postBridge(null, { raw: body.raw }) : await postBridge(body);
    assert.equal(r.status, 400, JSON.stringify(body));
    assert.match(JSON.parse(r.body).message, reason);
  }
});

test('the same person via Twilio, then via Baileys, is one contact with two messages; last provider Baileys', async () => {
  const phone = uniquePhone();
  const tw = await sendInbound({ from: phone, body: 'first, via Twilio', profileName: 'Maya' });
  assert.equal(tw.status, 204);
  await waitFor('the Twilio row', async () => (await messagesFor(phone)).length === 1);
  // The next message comes within the same second, as WhatsApp stamps it: still the newer one.
  const r = await postBridge(bridgeMessage(phone, { text: 'then via WhatsApp Web' }));
  assert.equal(r.status, 204);
  await waitFor('both rows', async () => (await messagesFor(phone)).length === 2);
  const contacts = await q('select * from contacts where phone = $1', [phone]);
  assert.equal(contacts.length, 1);
  assert.equal(contacts[0].last_inbound_provider, 'baileys');
  assert.equal(contacts[0].profile_name, 'Bridge User', 'the newest name wins');
  const providers = (await messagesFor(phone)).map((m) => m.provider).sort();
  assert.deepEqual(providers, ['baileys', 'twilio']);
});

test('a late, older message does not take the contact\'s last provider back', async () => {
  const phone = uniquePhone();
  const now = Math.floor(Date.now() / 1000);
  assert.equal((await postBridge(bridgeMessage(phone, { timestamp: now }))).status, 204);
  await waitFor('the first row', async () => (await messagesFor(phone)).length === 1);
  // A Twilio message stamped now arrives; then a Baileys message from an hour ago, delivered late.
  assert.equal((await sendInbound({ from: phone, body: 'newest' })).status, 204);
  await waitFor('two rows', async () => (await messagesFor(phone)).length === 2);
  assert.equal((await postBridge(bridgeMessage(phone, { timestamp: now - 3600, text: 'old, delivered late' }))).status, 204);
  await waitFor('three rows', async () => (await messagesFor(phone)).length === 3);
  const [c] = await q('select last_inbound_provider from contacts where phone = $1', [phone]);
  assert.equal(c.last_inbound_provider, 'twilio');
});

test('a receipt becomes a wa.status event', async () => {
  const phone = uniquePhone();
  const r = await postBridge({ event: 'status', remoteJid: `${phone.slice(1)}@s.whatsapp.net`,
    messageId: 'OUTGOING1', status: 'played', timestamp: Math.floor(Date.now() / 1000) });
  assert.equal(r.status, 204, r.body);
  const ev = await waitFor('the status event', async () => {
    const e = (await topicRecords('wa.status')).filter((x) => x.key === phone.slice(1)).map((x) => JSON.parse(x.value));
    return e.length ? e[0] : null;
  });
  assert.equal(ev.provider, 'baileys');
  assert.equal(ev.status, 'read');
  assert.equal(ev.provider_status, 'played');
  assert.equal(ev.provider_message_id, `${phone.slice(1)}@s.whatsapp.net/OUTGOING1`);
});

// ---- what the bridge forwards must reach the CRM whatever its media or its length ----------------

async function dashboardMessages(phone) {
  const base = `http://${env.DASHBOARD_LISTEN}`;
  const headers = { Authorization: `Bearer ${env.DASHBOARD_TOKEN}` };
  const leads = await (await fetch(`${base}/api/leads?q=${encodeURIComponent(phone)}`, { headers })).json();
  const lead = leads.leads.find((l) => l.phone === phone);
  return (await (await fetch(`${base}/api/leads/${lead.id}/messages`, { headers })).json()).messages;
}

test('media the bridge could not download: the message lands with its caption, the media marked unavailable', async () => {
  const phone = uniquePhone();
  const why = 'download_failed: 410 Gone after 5 tries';
  const r = await postBridge(bridgeMessage(phone, { type: 'image', text: 'the flat, photo 3',
    media: { url: null, mimetype: 'image/jpeg', size: null, unavailable: why } }));
  assert.equal(r.status, 204, r.body);
  const [m] = await waitFor('the CRM row', async () => {
    const rows = await messagesFor(phone);
    return rows.length ? rows : false;
  });
  assert.equal(m.type, 'image');
  assert.equal(m.body, 'the flat, photo 3');
  const media = await waitFor('the media row', async () => {
    const rows = await q('select * from media where message_id = $1', [m.id]);
    return rows.length ? rows : false;
  });
  assert.equal(media.length, 1);
  assert.equal(media[0].unavailable, why);
  assert.equal(media[0].stored_at, null);
  assert.equal(media[0].mime_declared, 'image/jpeg');
  // No job was made for it, and the operator sees why.
  const jobs = (await topicRecords('wa.media')).map((x) => JSON.parse(x.value))
    .filter((e) => e.type === 'job' && e.message_id === m.id);
  assert.equal(jobs.length, 0);
  const [shown] = await dashboardMessages(phone);
  assert.equal(shown.media[0].unavailable, why);
  assert.equal(shown.media[0].url ?? null, null);
});

test('the seed\'s literal type "media", with no size or mimetype, is accepted', async () => {
  const phone = uniquePhone();
  const r = await postBridge(bridgeMessage(phone, { type: 'media', text: '',
    media: { url: `http://${env.BRIDGE_LISTEN}/media/nothing-here` } }));
  assert.equal(r.status, 204, r.body);
  const [m] = await waitFor('the CRM row', async () => {
    const rows = await messagesFor(phone);
    return rows.length ? rows : false;
  });
  assert.equal(m.type, 'document', 'no declared type: a document');
});

test('the longest text WhatsApp carries (65,536 characters of Hebrew) lands whole through both edges', async () => {
  const text = 'שלום עולם '.repeat(6554).slice(0, 65536);
  assert.equal(text.length, 65536);
  const viaBridge = uniquePhone();
  const r = await postBridge(bridgeMessage(viaBridge, { text }));
  assert.equal(r.status, 204, r.body.slice(0, 200));
  const viaTwilio = uniquePhone();
  const t = await sendInbound({ from: viaTwilio, body: text });
  assert.equal(t.status, 204, t.body?.slice(0, 200));
  for (const phone of [viaBridge, viaTwilio]) {
    const [m] = await waitFor('the CRM row', async () => {
      const rows = await messagesFor(phone);
      return rows.length ? rows : false;
    });
    assert.equal(m.body, text);
  }
});
