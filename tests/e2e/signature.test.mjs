// signature.test.mjs - our C verifier against Twilio's own library (twilio npm), over awkward inputs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { postWebhook, sign, validate } from '../../sim/twilio/webhook.mjs';
import { inboundParams, uniquePhone, ingressUrl, publicBase, token, waitFor, messagesFor, db } from './lib.mjs';

test.after(() => db.end());

const PATH = '/api/whatsapp/twilio';

// Random text mixing ASCII punctuation that form encoding must escape, Hebrew, emoji and spaces.
function awkward(n) {
  const pool = ['a', 'Z', ' ', '+', '&', '=', '%', '#', '?', '/', ':', '\'', '"', 'ש', 'ל', 'ום', '👋', '🏠', 'é', '\n', '~', '*'];
  let s = '';
  for (let i = 0; i < n; i++) s += pool[crypto.randomInt(pool.length)];
  return s;
}

test('200 random webhooks signed by Twilio\'s library are all accepted, and tampered copies all refused', async () => {
  for (let i = 0; i < 200; i++) {
    const phone = uniquePhone();
    const extra = { [`X${awkward(3).replace(/[^A-Za-z]/g, 'k')}Field`]: awkward(8) };
    // Repeated keys, as Twilio's SDKs sign them: distinct values, sorted.
    if (i % 3 === 0) extra.Tag = [awkward(4), awkward(4), 'same', 'same'];
    const params = inboundParams({ from: phone, body: awkward(1 + crypto.randomInt(40)),
      profileName: awkward(6), extra });
    // Half the time Twilio is configured with a query string on the webhook URL.
    const query = i % 2 ? '' : `?tenant=${i}&x=a%20b`;
    const publicUrl = publicBase + PATH + query;
    const sig = sign(token, publicUrl, params);
    assert.ok(validate(token, sig, publicUrl, params), 'twilio-node agrees with itself');
    const ok = await postWebhook({ targetUrl: ingressUrl + PATH + query, publicUrl, authToken: token, params });
    assert.equal(ok.status, 204, `case ${i}: ${ok.body} params=${JSON.stringify(params)}`);
    // The same body with one character of the text changed must fail.
    const tampered = { ...params, Body: params.Body + '.' };
    const bad = await postWebhook({ targetUrl: ingressUrl + PATH + query, publicUrl, authToken: token,
      params: tampered, signature: sig });
    assert.equal(bad.status, 403, `tampered case ${i}`);
  }
});

test('a public URL with the default port signs the same as one without (both variants accepted)', async () => {
  const params = inboundParams({ from: uniquePhone(), body: 'port variants' });
  const u = new URL(publicBase);
  const withPort = `${u.protocol}//${u.hostname}:${u.port || (u.protocol === 'https:' ? 443 : 80)}${PATH}`;
  // Signed for the URL as configured: the base already has an explicit port on loopback, so the
  // port-stripped form is the variant under test.
  const stripped = `${u.protocol}//${u.hostname}${PATH}`;
  for (const url of [withPort, stripped]) {
    const r = await postWebhook({ targetUrl: ingressUrl + PATH, publicUrl: url, authToken: token,
      params: { ...params, MessageSid: params.MessageSid } });
    assert.equal(r.status, 204, `signed for ${url}`);
  }
  await waitFor('the row', async () => (await messagesFor(params.From.replace('whatsapp:', ''))).length === 1);
});
