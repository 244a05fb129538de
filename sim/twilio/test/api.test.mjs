// api.test.mjs - the Twilio REST surface: auth, spec validation and error codes, the 201 body.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ACCOUNT, basic, messagesUrl, newUser, send, simJson, startSim, textMessage, SENDER } from './helpers.mjs';

let sim;
before(async () => { sim = await startSim({ enforceWindow: false, callbacks: false }); });
after(() => sim.close());

describe('authentication', () => {
  test('no credentials -> 401 with the legacy body', async () => {
    const r = await send(sim, textMessage(newUser()), { auth: null });
    assert.equal(r.status, 401);
    assert.deepEqual(r.body, { code: 20003, message: 'Authenticate',
      more_info: 'https://www.twilio.com/docs/errors/20003', status: 401 });
  });

  test('wrong token -> 401, and the call is recorded as not authenticated', async () => {
    const to = newUser();
    const r = await send(sim, textMessage(to), { auth: basic(ACCOUNT, 'wrong') });
    assert.equal(r.status, 401);
    const { body } = await simJson(sim, 'GET', `/sim/calls?to=${encodeURIComponent(to)}`);
    assert.equal(body.calls.length, 1);
    assert.equal(body.calls[0].authOk, false);
    assert.equal(body.calls[0].responseStatus, 401);
  });

  test('path AccountSid other than the authenticated one -> 404 20404', async () => {
    const other = 'AC' + 'f'.repeat(32);
    const r = await send(sim, textMessage(newUser()), { account: other });
    assert.equal(r.status, 404);
    assert.equal(r.body.code, 20404);
  });
});

describe('spec validation', () => {
  const cases = [
    ['missing To', { From: SENDER, Body: 'x' }, 21604, /'To'/],
    ['empty To', { To: '', From: SENDER, Body: 'x' }, 21604, /'To'/],
    ['To not a WhatsApp address', { To: '+15551230000', From: 'whatsapp:+14155238886', Body: 'x' }, 21910, /To/],
    ['To with letters', { To: 'whatsapp:+1555abc', From: SENDER, Body: 'x' }, 21211, /'To'/],
    ['To plain SMS number from an SMS sender', { To: '+15551230000', From: '+14155238886', Body: 'x' }, 21211, /'To'/],
    ['no From nor MessagingServiceSid', { To: 'whatsapp:+15551230000', Body: 'x' }, 21603, /'From'/],
    ['From not WhatsApp', { To: 'whatsapp:+15551230000', From: '+14155238886', Body: 'x' }, 21910, /From/],
    ['bad MessagingServiceSid pattern', { To: 'whatsapp:+15551230000', MessagingServiceSid: 'MG123', Body: 'x' }, 21705, /MessagingServiceSid/],
    ['no Body, MediaUrl or ContentSid', { To: 'whatsapp:+15551230000', From: SENDER }, 21602, /Body/],
    ['Body over 1600 characters', { To: 'whatsapp:+15551230000', From: SENDER, Body: 'x'.repeat(1601) }, 21617, /Body/],
    ['wrong type: Attempt not an integer', { ...textMessage('+15551230000'), Attempt: 'twice' }, 20001, /Attempt/],
    ['wrong type: ProvideFeedback not a boolean', { ...textMessage('+15551230000'), ProvideFeedback: 'maybe' }, 20001, /ProvideFeedback/],
    ['enum: RiskCheck', { ...textMessage('+15551230000'), RiskCheck: 'sometimes' }, 20001, /RiskCheck/],
    ['SendAt not a date-time', { ...textMessage('+15551230000'), SendAt: 'tomorrow' }, 20001, /SendAt/],
    ['StatusCallback not a URI', { ...textMessage('+15551230000'), StatusCallback: 'not a url' }, 21609, /StatusCallback/],
    ['StatusCallback with an underscore in the host', { ...textMessage('+15551230000'), StatusCallback: 'https://my_host.example.com/cb' }, 21609, /StatusCallback/],
    ['StatusCallback not http(s)', { ...textMessage('+15551230000'), StatusCallback: 'ftp://example.com/cb' }, 21609, /StatusCallback/],
    ['MediaUrl not http(s)', { ...textMessage('+15551230000'), MediaUrl: ['https://example.com/a.jpg', 'file:///etc/passwd'] }, 21620, /MediaUrl/],
    ['11 MediaUrl', { ...textMessage('+15551230000'), MediaUrl: Array.from({ length: 11 }, (_, i) => `https://example.com/${i}.jpg`) }, 21623, /MediaUrl/],
    ['ContentSid pattern', { To: 'whatsapp:+15551230000', From: SENDER, ContentSid: 'HXnothex' }, 21655, /ContentSid/],
    ['ContentVariables not JSON', { To: 'whatsapp:+15551230000', From: SENDER, ContentSid: 'HX' + 'a'.repeat(32), ContentVariables: '{1:' }, 21656, /ContentVariables/],
    ['ContentVariables a JSON array', { To: 'whatsapp:+15551230000', From: SENDER, ContentSid: 'HX' + 'a'.repeat(32), ContentVariables: '["a"]' }, 21656, /ContentVariables/],
    ['ContentVariables without ContentSid', { ...textMessage('+15551230000'), ContentVariables: '{"1":"a"}' }, 21654, /ContentVariables|ContentSid/],
  ];
  for (const [name, params, code, field] of cases) {
    test(`${name} -> 400 ${code}`, async () => {
      const r = await send(sim, params);
      assert.equal(r.status, 400, JSON.stringify(r.body));
      assert.equal(r.body.code, code, r.body.message);
      assert.equal(r.body.status, 400);
      assert.equal(r.body.more_info, `https://www.twilio.com/docs/errors/${code}`);
      assert.match(r.body.message, field);
    });
  }

  test('a JSON body is not read (Twilio takes forms only) -> 21604', async () => {
    const res = await fetch(messagesUrl(sim), { method: 'POST',
      headers: { Authorization: basic(), 'Content-Type': 'application/json' },
      body: JSON.stringify(textMessage('+15551230000')) });
    assert.equal(res.status, 400);
    assert.equal((await res.json()).code, 21604);
  });

  test('unknown parameters are ignored, as the spec allows (no additionalProperties)', async () => {
    const r = await send(sim, { ...textMessage(newUser()), Tags: '{"campaign":"x"}', Whatever: '1' });
    assert.equal(r.status, 201, JSON.stringify(r.body));
  });

  test('form strings are coerced per schema (integer, boolean, number)', async () => {
    const r = await send(sim, { ...textMessage(newUser()), Attempt: '2', ProvideFeedback: 'true',
      MaxPrice: '0.5', ValidityPeriod: '600', RiskCheck: 'disable' });
    assert.equal(r.status, 201, JSON.stringify(r.body));
  });

  test('a template (ContentSid + ContentVariables, no Body) is accepted', async () => {
    const r = await send(sim, { To: `whatsapp:${newUser()}`, From: SENDER,
      ContentSid: 'HX' + '0123456789abcdef'.repeat(2), ContentVariables: '{"1":"12/1","2":"3pm"}' });
    assert.equal(r.status, 201, JSON.stringify(r.body));
  });

  test('MessagingServiceSid instead of From -> 201 with from null', async () => {
    const mg = 'MG' + 'b'.repeat(32);
    const r = await send(sim, { To: `whatsapp:${newUser()}`, MessagingServiceSid: mg, Body: 'hi' });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    assert.equal(r.body.from, null);
    assert.equal(r.body.messaging_service_sid, mg);
    assert.deepEqual(sim.spec.validateMessageResource(r.body).errors, []);
  });
});

describe('201 body', () => {
  test('has every field of api.v2010.account.message and validates against the spec', async () => {
    const to = newUser();
    const r = await send(sim, textMessage(to, { Body: 'Hello! 👍' }));
    assert.equal(r.status, 201);
    const v = sim.spec.validateMessageResource(r.body);
    assert.deepEqual(v.errors, [], JSON.stringify(v.errors));
    // Every property the spec lists is present (the schema itself has no `required`).
    assert.ok(sim.spec.messageProperties.length >= 20);
    assert.deepEqual(Object.keys(r.body).sort(), [...sim.spec.messageProperties].sort());
    assert.match(r.body.sid, /^SM[0-9a-f]{32}$/);
    assert.equal(r.body.status, 'queued');
    assert.equal(r.body.direction, 'outbound-api');
    assert.equal(r.body.to, `whatsapp:${to}`);
    assert.equal(r.body.from, SENDER);
    assert.equal(r.body.body, 'Hello! 👍');
    assert.equal(r.body.num_media, '0');
    assert.equal(r.body.num_segments, '1');
    assert.equal(r.body.account_sid, ACCOUNT);
    assert.match(r.body.date_created, /^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} \+0000$/);
    assert.equal(r.body.uri, `/2010-04-01/Accounts/${ACCOUNT}/Messages/${r.body.sid}.json`);
    assert.equal(r.body.subresource_uris.media, `/2010-04-01/Accounts/${ACCOUNT}/Messages/${r.body.sid}/Media.json`);
  });

  test('the response validator is not vacuous: it rejects wrong types', () => {
    const bad = { sid: 'XX1', num_media: 0, status: 'sleeping', date_created: '2023-08-24T05:01:45Z' };
    const v = sim.spec.validateMessageResource(bad);
    assert.equal(v.ok, false);
    const paths = v.errors.map((e) => e.instancePath).sort();
    assert.deepEqual(paths, ['/date_created', '/num_media', '/sid', '/sid', '/status']);
  });

  test('repeated MediaUrl keys become an array; num_media counts them', async () => {
    const to = newUser();
    const urls = ['https://example.com/a.jpg', 'https://example.com/b.jpg'];
    await simJson(sim, 'POST', '/sim/config', { fetchMedia: false });
    try {
      const r = await send(sim, textMessage(to, { MediaUrl: urls }));
      assert.equal(r.status, 201, JSON.stringify(r.body));
      assert.equal(r.body.num_media, '2');
      const { body } = await simJson(sim, 'GET', `/sim/calls?to=${encodeURIComponent(to)}`);
      assert.deepEqual(body.calls[0].params.MediaUrl, urls);
      // One MediaUrl stays a plain string in the record (it is what was sent) ...
      const one = await send(sim, textMessage(to, { MediaUrl: urls[0] }));
      assert.equal(one.body.num_media, '1');
      const again = await simJson(sim, 'GET', `/sim/calls?to=${encodeURIComponent(to)}`);
      assert.equal(again.body.calls[1].params.MediaUrl, urls[0]);
    } finally {
      await simJson(sim, 'POST', '/sim/config', { fetchMedia: true });
    }
  });

  test('GET .../Messages/{Sid}.json returns the stored message; auth enforced; unknown -> 404', async () => {
    const r = await send(sim, textMessage(newUser()));
    const url = `${sim.url}/2010-04-01/Accounts/${ACCOUNT}/Messages/${r.body.sid}.json`;
    const got = await fetch(url, { headers: { Authorization: basic() } });
    assert.equal(got.status, 200);
    assert.equal((await got.json()).sid, r.body.sid);
    assert.equal((await fetch(url)).status, 401);
    const missing = await fetch(url.replace(r.body.sid, 'SM' + '0'.repeat(32)), { headers: { Authorization: basic() } });
    assert.equal(missing.status, 404);
    assert.equal((await missing.json()).code, 20404);
  });

  test('GET .../Messages.json?To= lists the messages to that address', async () => {
    const to = newUser();
    await send(sim, textMessage(to));
    await send(sim, textMessage(to));
    await send(sim, textMessage(newUser()));
    const res = await fetch(`${messagesUrl(sim)}?To=${encodeURIComponent(`whatsapp:${to}`)}`,
      { headers: { Authorization: basic() } });
    const body = await res.json();
    assert.equal(res.status, 200);
    assert.equal(body.messages.length, 2);
    for (const m of body.messages) assert.equal(m.to, `whatsapp:${to}`);
  });
});

describe('/sim/calls', () => {
  test('records every request with timing, params, status and sid; filters by to', async () => {
    const a = newUser();
    const b = newUser();
    const before = Date.now();
    const r1 = await send(sim, textMessage(a));
    await send(sim, { To: `whatsapp:${a}`, From: SENDER }); // 400: no body
    await send(sim, textMessage(b));
    for (const filter of [a, `whatsapp:${a}`, a.slice(1)]) {
      const { body } = await simJson(sim, 'GET', `/sim/calls?to=${encodeURIComponent(filter)}`);
      assert.equal(body.calls.length, 2, `filter ${filter}`);
    }
    // A '+' left unencoded in the query arrives as a space; the sim still understands it.
    const raw = await simJson(sim, 'GET', `/sim/calls?to=${a}`);
    assert.equal(raw.body.calls.length, 2);
    const [c1, c2] = raw.body.calls;
    assert.ok(c1.seq < c2.seq);
    assert.ok(c1.receivedAtMs >= before - 1 && c1.receivedAtMs <= Date.now());
    assert.equal(c1.method, 'POST');
    assert.equal(c1.authOk, true);
    assert.equal(c1.responseStatus, 201);
    assert.equal(c1.sid, r1.body.sid);
    assert.deepEqual(c1.params, textMessage(a));
    assert.equal(c2.responseStatus, 400);
    assert.equal(c2.code, 21602);
    assert.equal(c2.sid, null);
    const all = await simJson(sim, 'GET', '/sim/calls');
    assert.ok(all.body.calls.length >= 3);
  });

  test('DELETE /sim/calls clears', async () => {
    await send(sim, textMessage(newUser()));
    const d = await simJson(sim, 'DELETE', '/sim/calls');
    assert.ok(d.body.cleared >= 1);
    const { body } = await simJson(sim, 'GET', '/sim/calls');
    assert.deepEqual(body.calls, []);
  });
});
