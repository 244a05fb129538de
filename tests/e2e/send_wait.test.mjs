// send_wait.test.mjs - "Prefer: wait=N" on the send API: the caller learns what the router
// decided in the same request (routed, or not sent and why), or gets the usual 202 when no
// decision came in time; without the header nothing changes (ingress/README.md).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ingressUrl, sendToken, send, waitMessage, twilioContact, baileysContact, baileysUp, uniquePhone,
  key, services, restartWith, metric, simCalls, waitFor,
} from './lib.mjs';

const DECIDED = 'wa_ingress_send_waits_total{result="decided"}';
const TIMED_OUT = 'wa_ingress_send_waits_total{result="timed_out"}';
const UNAVAILABLE = 'wa_ingress_send_waits_total{result="unavailable"}';

// POST /api/whatsapp/send with a Prefer header (null: none); the answer, its Preference-Applied
// header and how long it took.
async function sendWait(body, prefer) {
  const headers = { Authorization: `Bearer ${sendToken}`, 'Content-Type': 'application/json' };
  if (prefer !== null) headers.Prefer = prefer;
  const t0 = Date.now();
  const res = await fetch(`${ingressUrl}/api/whatsapp/send`, { method: 'POST', headers,
    body: JSON.stringify(body) });
  const text = await res.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  return { status: res.status, json, text, applied: res.headers.get('preference-applied'),
    ms: Date.now() - t0 };
}

// After a restart of ingress: a kept-alive connection to the old process fails once, so this asks
// until the new one answers.
async function ingressBack() {
  await waitFor('ingress to answer again', async () => {
    try {
      return (await fetch(`${ingressUrl}/healthz`)).ok;
    } catch {
      return false;
    }
  }, { logs: ['ingress'] });
}

const routed = (s) => ['queued', 'sending', 'sent', 'delivered', 'read'].includes(s);

test('wait=3: a contact inside the window gets 200 with the provider and channel it was routed to', async () => {
  const decidedBefore = await metric(ingressUrl, DECIDED);
  const phone = await twilioContact();
  const r = await sendWait({ to: phone, type: 'text', text: 'routed, and I know it', idempotencyKey: key() },
    'wait=3');
  assert.equal(r.status, 200, r.text);
  assert.equal(r.applied, 'wait=3');
  assert.equal(r.json.decided, true);
  assert.ok(routed(r.json.status), r.text);
  assert.equal(r.json.provider, 'twilio');
  assert.match(r.json.channel, /^twilio:\+\d+$/);
  assert.equal(r.json.failover, false);
  assert.equal(r.json.reason, 'reply via source (Twilio)');
  assert.equal(r.json.to, phone);
  assert.equal(r.json.errorCode, null);
  assert.ok(r.ms < 2500, `answered after ${r.ms} ms: the row comes within milliseconds`);
  // The same JSON as the lookup, for the same message.
  const m = await waitMessage(r.json.id, 'sent', (x) => ['sent', 'delivered', 'read'].includes(x.status));
  assert.equal(m.provider, r.json.provider);
  assert.equal(m.channel, r.json.channel);
  assert.equal((await simCalls(phone)).length, 1);

  // Through Baileys too.
  await baileysUp();
  const bphone = await baileysContact();
  const b = await sendWait({ to: bphone, type: 'text', text: 'via the bridge', idempotencyKey: key() },
    'respond-async, wait=3');
  assert.equal(b.status, 200, b.text);
  assert.equal(b.json.decided, true);
  assert.equal(b.json.provider, 'baileys');
  assert.match(b.json.channel, /^baileys/);
  assert.ok(routed(b.json.status), b.text);
  assert.ok((await metric(ingressUrl, DECIDED)) >= decidedBefore + 2);
});

test('wait=3: twenty sends waiting together are each answered with their own decision', async () => {
  const phone = await twilioContact();
  const stranger = uniquePhone();
  const answers = await Promise.all(Array.from({ length: 20 }, (_, i) =>
    sendWait({ to: i % 2 ? stranger : phone, type: 'text', text: `one of many ${i}`, idempotencyKey: key() },
      'wait=3')));
  for (const [i, r] of answers.entries()) {
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.decided, true);
    assert.equal(r.json.to, i % 2 ? stranger : phone);
    if (i % 2) assert.equal(r.json.errorCode, 'outside_window');
    else assert.equal(r.json.provider, 'twilio');
  }
  assert.equal(new Set(answers.map((r) => r.json.id)).size, 20);
});

test('wait=3: free text to a contact who never wrote is answered 200 failed, outside_window, with the reason', async () => {
  const phone = uniquePhone();
  const r = await sendWait({ to: phone, type: 'text', text: 'hello stranger', idempotencyKey: key() },
    'wait=3');
  assert.equal(r.status, 200, r.text);
  assert.equal(r.applied, 'wait=3');
  assert.equal(r.json.decided, true);
  assert.equal(r.json.status, 'failed');
  assert.equal(r.json.provider, null);
  assert.equal(r.json.errorCode, 'outside_window');
  assert.equal(r.json.errorText, 'outside 24h window: template required');
  assert.equal(r.json.reason, 'outside 24h window: template required');
  assert.equal(r.json.attempts, 0);
  assert.equal((await simCalls(phone)).length, 0);
});

test('without Prefer (or with a wait that cannot be read) the answer is the 202 of old; a repeat with wait answers the stored row at once', async () => {
  const phone = await twilioContact();
  const body = { to: phone, type: 'text', text: 'fire and forget', idempotencyKey: key() };
  const plain = await sendWait(body, null);
  assert.equal(plain.status, 202, plain.text);
  assert.deepEqual(plain.json, { id: plain.json.id, status: 'accepted', to: phone });
  assert.equal(plain.applied, null);
  // Preferences ingress cannot honour are ignored, never refused (RFC 7240).
  for (const prefer of ['wait=abc', 'wait=0', 'wait=-1', 'return=minimal', 'wait']) {
    const r = await sendWait({ ...body, idempotencyKey: key() }, prefer);
    assert.equal(r.status, 202, `${prefer}: ${r.text}`);
    assert.equal(r.json.status, 'accepted');
    assert.equal(r.json.decided, undefined);
    assert.equal(r.applied, null);
  }
  await waitMessage(plain.json.id, 'stored', (x) => routed(x.status));
  // A repeat: the stored row, at once; a wait over the limit is cut to 10 s, and says so.
  const again = await sendWait(body, 'wait=60');
  assert.equal(again.status, 200, again.text);
  assert.equal(again.json.id, plain.json.id);
  assert.equal(again.json.duplicate, true);
  assert.equal(again.json.decided, true);
  assert.equal(again.json.provider, 'twilio');
  assert.equal(again.applied, 'wait=10');
  assert.ok(again.ms < 1000, `a repeat took ${again.ms} ms`);
  // Without the header a repeat is answered as before.
  const old = await sendWait(body, null);
  assert.equal(old.status, 200);
  assert.equal(old.json.duplicate, true);
  assert.equal(old.json.decided, undefined);
});

test('router stopped: wait=1 answers 202 decided:false after about 1 s; the message is routed once it is back', async () => {
  const phone = await twilioContact();
  const timedOutBefore = await metric(ingressUrl, TIMED_OUT);
  services('stop', 'router');
  let r;
  try {
    r = await sendWait({ to: phone, type: 'text', text: 'the router is away', idempotencyKey: key() },
      'wait=1');
  } finally {
    services('start', 'router');
  }
  assert.equal(r.status, 202, r.text);
  assert.deepEqual(r.json, { id: r.json.id, status: 'accepted', to: phone, decided: false });
  assert.equal(r.applied, 'wait=1');
  assert.ok(r.ms >= 950 && r.ms < 2000, `answered after ${r.ms} ms`);
  assert.equal(await metric(ingressUrl, TIMED_OUT), timedOutBefore + 1);
  const m = await waitMessage(r.json.id, 'routed after the restart', (x) => routed(x.status),
    { timeoutMs: 60000, logs: ['router'] });
  assert.equal(m.provider, 'twilio');
});

test('CRM unreachable: a waiting send is still accepted, 202 decided:false, at once and without Preference-Applied', async () => {
  const restore = restartWith('ingress', { DATABASE_URL: 'postgresql://wa:wa@127.0.0.1:1/wa' });
  try {
    await ingressBack();
    const before = await metric(ingressUrl, UNAVAILABLE);
    const phone = uniquePhone();
    const r = await sendWait({ to: phone, type: 'text', text: 'no CRM to ask', idempotencyKey: key() },
      'wait=5');
    assert.equal(r.status, 202, r.text);
    assert.equal(r.json.status, 'accepted');
    assert.equal(r.json.decided, false);
    assert.equal(r.applied, null, 'the wait was cut short');
    assert.ok(r.ms < 4000, `answered after ${r.ms} ms`);
    assert.equal(await metric(ingressUrl, UNAVAILABLE), before + 1);
  } finally {
    restore();
    await ingressBack();
  }
});
