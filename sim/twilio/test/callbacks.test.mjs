// callbacks.test.mjs - status callbacks (signed, ordered, overridable), the 24-hour window,
// inbound webhooks and media fetching.
import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { validate, sign } from '../webhook.mjs';
import { ACCOUNT, TOKEN, SENDER, newUser, openWindow, send, simJson, sleep, startReceiver, startSim,
  textMessage } from './helpers.mjs';

let sim;
let rx;
before(async () => {
  rx = await startReceiver();
  sim = await startSim({ ingressUrl: rx.base });
});
after(async () => { await sim.close(); await rx.close(); });
afterEach(() => simJson(sim, 'POST', '/sim/config', { enforceWindow: true, callbacks: true, callbackDelayMs: 5 }));

const forSid = (sid) => rx.requests.filter((r) => r.params.MessageSid === sid);
const statusesOf = (sid) => forSid(sid).map((r) => r.params.MessageStatus);
const waitStatuses = (sid, n) => rx.waitFor(() => forSid(sid).length >= n).then(() => statusesOf(sid));

describe('status callbacks', () => {
  test('sent, delivered, read: signed over the exact URL (query string included)', async () => {
    const to = newUser();
    await openWindow(sim, to);
    const cbUrl = `${rx.base}/api/whatsapp/twilio/status?tenant=a%20b&x=1`;
    const r = await send(sim, textMessage(to, { StatusCallback: cbUrl }));
    assert.equal(r.status, 201);
    const sid = r.body.sid;
    assert.deepEqual(await waitStatuses(sid, 3), ['sent', 'delivered', 'read']);
    for (const cb of forSid(sid)) {
      assert.equal(cb.method, 'POST');
      assert.equal(cb.url, '/api/whatsapp/twilio/status?tenant=a%20b&x=1');
      assert.match(cb.headers['content-type'], /^application\/x-www-form-urlencoded/);
      const sig = cb.headers['x-twilio-signature'];
      assert.ok(validate(TOKEN, sig, cbUrl, cb.params), 'signature must verify');
      assert.ok(!validate('other-token', sig, cbUrl, cb.params));
      assert.ok(!validate(TOKEN, sig, `${rx.base}/api/whatsapp/twilio/status`, cb.params));
      assert.deepEqual(Object.keys(cb.params).sort(), ['AccountSid', 'ApiVersion', 'ChannelPrefix',
        'From', 'MessageSid', 'MessageStatus', 'SmsSid', 'SmsStatus', 'To'].sort());
      assert.equal(cb.params.AccountSid, ACCOUNT);
      assert.equal(cb.params.SmsSid, sid);
      assert.equal(cb.params.SmsStatus, cb.params.MessageStatus);
      assert.equal(cb.params.From, SENDER);
      assert.equal(cb.params.To, `whatsapp:${to}`);
      assert.equal(cb.params.ApiVersion, '2010-04-01');
      assert.equal(cb.params.ChannelPrefix, 'whatsapp');
      assert.match(cb.headers['i-twilio-idempotency-token'], /^[0-9a-f-]{36}$/);
    }
    const recorded = await simJson(sim, 'GET', `/sim/callbacks?sid=${sid}`);
    assert.deepEqual(recorded.body.callbacks.map((c) => [c.status, c.httpStatus]),
      [['sent', 204], ['delivered', 204], ['read', 204]]);
    // The stored message followed the lifecycle.
    const msg = sim.sim.messages.get(sid).resource;
    assert.equal(msg.status, 'read');
    assert.notEqual(msg.date_sent, null);
  });

  test('spacing follows callbackDelayMs', async () => {
    await simJson(sim, 'POST', '/sim/config', { callbackDelayMs: 80 });
    const to = newUser();
    await openWindow(sim, to);
    const r = await send(sim, textMessage(to, { StatusCallback: `${rx.base}/cb` }));
    await waitStatuses(r.body.sid, 3);
    const times = (await simJson(sim, 'GET', `/sim/callbacks?sid=${r.body.sid}`)).body.callbacks.map((c) => c.sentAtMs);
    for (let i = 1; i < times.length; i += 1) assert.ok(times[i] - times[i - 1] >= 75, `gap ${times[i] - times[i - 1]}`);
  });

  test('override order per recipient; a late delivered after read on demand', async () => {
    const to = newUser();
    await openWindow(sim, to);
    await simJson(sim, 'POST', '/sim/faults', { to, callbacks: ['sent', 'read'] });
    const r = await send(sim, textMessage(to, { StatusCallback: `${rx.base}/cb` }));
    const sid = r.body.sid;
    assert.deepEqual(await waitStatuses(sid, 2), ['sent', 'read']);
    const late = await simJson(sim, 'POST', '/sim/callback', { sid, status: 'delivered' });
    assert.equal(late.status, 200);
    assert.equal(late.body.httpStatus, 204);
    assert.deepEqual(statusesOf(sid), ['sent', 'read', 'delivered']);
    assert.equal(sim.sim.messages.get(sid).resource.status, 'read', 'stored status never moves back');
    // The override was consumed: the next message gets the default sequence.
    const r2 = await send(sim, textMessage(to, { StatusCallback: `${rx.base}/cb` }));
    assert.deepEqual(await waitStatuses(r2.body.sid, 3), ['sent', 'delivered', 'read']);
  });

  test('override with an error code sends ErrorCode/ErrorMessage', async () => {
    const to = newUser();
    await openWindow(sim, to);
    await simJson(sim, 'POST', '/sim/faults', { to, callbacks: ['sent', { status: 'undelivered', errorCode: 63024 }] });
    const r = await send(sim, textMessage(to, { StatusCallback: `${rx.base}/cb` }));
    await waitStatuses(r.body.sid, 2);
    const last = forSid(r.body.sid)[1].params;
    assert.equal(last.MessageStatus, 'undelivered');
    assert.equal(last.ErrorCode, '63024');
    assert.ok(last.ErrorMessage);
  });

  test('callbacks:false sends none but the message still advances', async () => {
    await simJson(sim, 'POST', '/sim/config', { callbacks: false });
    const to = newUser();
    await openWindow(sim, to);
    const r = await send(sim, textMessage(to, { StatusCallback: `${rx.base}/cb` }));
    await sleep(100);
    assert.deepEqual(statusesOf(r.body.sid), []);
    assert.equal(sim.sim.messages.get(r.body.sid).resource.status, 'read');
  });

  test('a refused callback is recorded with its HTTP result; no retry on 5xx by default', async () => {
    const bad = await startReceiver({ status: 500 });
    try {
      const to = newUser();
      await openWindow(sim, to);
      await simJson(sim, 'POST', '/sim/faults', { to, callbacks: ['sent'] });
      const r = await send(sim, textMessage(to, { StatusCallback: `${bad.base}/cb` }));
      await bad.waitFor((reqs) => reqs.length >= 1);
      await sleep(50);
      const recs = (await simJson(sim, 'GET', `/sim/callbacks?sid=${r.body.sid}`)).body.callbacks;
      assert.deepEqual(recs.map((c) => [c.attempt, c.httpStatus]), [[1, 500]]);
    } finally { await bad.close(); }
  });

  test('connection failure is retried once (Twilio default), fragment overrides honoured', async () => {
    const to = newUser();
    await openWindow(sim, to);
    await simJson(sim, 'POST', '/sim/faults', { to, callbacks: ['sent'], count: 2 });
    const dead = 'http://127.0.0.1:9/cb'; // discard port: nothing listens
    const r = await send(sim, textMessage(to, { StatusCallback: dead }));
    const r2 = await send(sim, textMessage(to, { StatusCallback: `${dead}#rc=3&rp=all` }));
    await sleep(300);
    const a = (await simJson(sim, 'GET', `/sim/callbacks?sid=${r.body.sid}`)).body.callbacks;
    assert.equal(a.length, 2);
    assert.ok(a.every((c) => c.httpStatus === null && c.error));
    assert.equal(a[0].idempotencyToken, a[1].idempotencyToken);
    const b = (await simJson(sim, 'GET', `/sim/callbacks?sid=${r2.body.sid}`)).body.callbacks;
    assert.equal(b.length, 4);
    assert.equal(b[0].url, dead, 'fragment is neither sent nor signed');
  });
});

describe('24-hour window', () => {
  test('no inbound -> 201 queued, then failed 63016 with Twilio\'s text', async () => {
    const to = newUser();
    const r = await send(sim, textMessage(to, { StatusCallback: `${rx.base}/cb` }));
    assert.equal(r.status, 201);
    assert.equal(r.body.status, 'queued');
    assert.deepEqual(await waitStatuses(r.body.sid, 1), ['failed']);
    await sleep(40);
    assert.equal(forSid(r.body.sid).length, 1, 'nothing after failed');
    const p = forSid(r.body.sid)[0].params;
    assert.equal(p.ErrorCode, '63016');
    assert.equal(p.ErrorMessage, 'Failed to send freeform message because you are outside the allowed window. If you are using WhatsApp, please use a Message Template.');
    const stored = sim.sim.messages.get(r.body.sid).resource;
    assert.equal(stored.status, 'failed');
    assert.equal(stored.error_code, 63016);
  });

  test('an inbound older than 24 h does not open it; a recent one does', async () => {
    const to = newUser();
    await simJson(sim, 'POST', '/sim/window', { user: to, sender: SENDER, lastInboundAtMs: Date.now() - 24 * 3600e3 - 1000 });
    const old = await send(sim, textMessage(to, { StatusCallback: `${rx.base}/cb` }));
    assert.deepEqual(await waitStatuses(old.body.sid, 1), ['failed']);
    await simJson(sim, 'POST', '/sim/window', { user: to, sender: SENDER, lastInboundAtMs: Date.now() - 23 * 3600e3 });
    const fresh = await send(sim, textMessage(to, { StatusCallback: `${rx.base}/cb` }));
    assert.deepEqual(await waitStatuses(fresh.body.sid, 3), ['sent', 'delivered', 'read']);
  });

  test('the window is per (user, sender)', async () => {
    const to = newUser();
    await simJson(sim, 'POST', '/sim/window', { user: to, sender: '+14155550000', lastInboundAtMs: Date.now() });
    const r = await send(sim, textMessage(to, { StatusCallback: `${rx.base}/cb` }));
    assert.deepEqual(await waitStatuses(r.body.sid, 1), ['failed']);
  });

  test('a template (ContentSid) is allowed outside the window', async () => {
    const to = newUser();
    const r = await send(sim, { To: `whatsapp:${to}`, From: SENDER, ContentSid: 'HX' + 'c'.repeat(32),
      StatusCallback: `${rx.base}/cb` });
    assert.deepEqual(await waitStatuses(r.body.sid, 3), ['sent', 'delivered', 'read']);
  });

  test('enforceWindow:false lets free-form through', async () => {
    await simJson(sim, 'POST', '/sim/config', { enforceWindow: false });
    const r = await send(sim, textMessage(newUser(), { StatusCallback: `${rx.base}/cb` }));
    assert.deepEqual(await waitStatuses(r.body.sid, 3), ['sent', 'delivered', 'read']);
  });

  test('POST /sim/inbound posts a signed webhook to ingress and opens the window', async () => {
    const user = newUser();
    const res = await simJson(sim, 'POST', '/sim/inbound', { from: user, to: '+14155238886', body: 'hi there' });
    assert.equal(res.status, 200);
    assert.equal(res.body.status, 204);
    assert.match(res.body.messageSid, /^SM[0-9a-f]{32}$/);
    const hook = rx.requests.find((q) => q.params.MessageSid === res.body.messageSid);
    assert.equal(hook.url, '/api/whatsapp/twilio');
    assert.equal(hook.params.From, `whatsapp:${user}`);
    assert.equal(hook.params.Body, 'hi there');
    assert.equal(hook.params.AccountSid, ACCOUNT);
    assert.ok(validate(TOKEN, hook.headers['x-twilio-signature'], `${rx.base}/api/whatsapp/twilio`, hook.params));
    const r = await send(sim, textMessage(user, { StatusCallback: `${rx.base}/cb` }));
    assert.deepEqual(await waitStatuses(r.body.sid, 3), ['sent', 'delivered', 'read']);
  });

  test('PUBLIC_BASE_URL (publicBaseUrl) is what the inbound signature covers', async () => {
    await simJson(sim, 'POST', '/sim/config', { publicBaseUrl: 'https://wa.example.com' });
    try {
      const res = await simJson(sim, 'POST', '/sim/inbound', { from: newUser(), body: 'x' });
      const hook = rx.requests.find((q) => q.params.MessageSid === res.body.messageSid);
      assert.equal(hook.headers['x-twilio-signature'], sign(TOKEN, 'https://wa.example.com/api/whatsapp/twilio', hook.params));
    } finally {
      await simJson(sim, 'POST', '/sim/config', { publicBaseUrl: null });
    }
  });

  test('callbackVia: a callback under publicBaseUrl is posted there instead, signed for its own URL', async () => {
    await simJson(sim, 'POST', '/sim/config', { publicBaseUrl: 'https://wa.example.com', callbackVia: rx.base });
    try {
      const to = newUser();
      await openWindow(sim, to);
      const cbUrl = 'https://wa.example.com/api/whatsapp/twilio/status?id=7';
      const r = await send(sim, textMessage(to, { StatusCallback: cbUrl }));
      assert.equal(r.status, 201);
      assert.deepEqual(await waitStatuses(r.body.sid, 3), ['sent', 'delivered', 'read']);
      for (const cb of forSid(r.body.sid)) {
        assert.equal(cb.url, '/api/whatsapp/twilio/status?id=7');
        assert.ok(validate(TOKEN, cb.headers['x-twilio-signature'], cbUrl, cb.params), 'signed for the public URL');
      }
      const recorded = await simJson(sim, 'GET', `/sim/callbacks?sid=${r.body.sid}`);
      assert.ok(recorded.body.callbacks.every((c) => c.url === cbUrl
        && c.postedTo === `${rx.base}/api/whatsapp/twilio/status?id=7`), JSON.stringify(recorded.body.callbacks));
    } finally {
      await simJson(sim, 'POST', '/sim/config', { publicBaseUrl: null, callbackVia: null });
    }
  });
});

describe('media', () => {
  test('each MediaUrl is fetched before the 201 and recorded', async () => {
    const to = newUser();
    await openWindow(sim, to);
    const urls = [`${rx.base}/media/cat.jpg`, `${rx.base}/media/doc.pdf`];
    const r = await send(sim, textMessage(to, { MediaUrl: urls, StatusCallback: `${rx.base}/cb` }));
    assert.equal(r.status, 201);
    const call = (await simJson(sim, 'GET', `/sim/calls?to=${encodeURIComponent(to)}`)).body.calls[0];
    assert.deepEqual(call.media.map((m) => [m.url, m.status, m.contentType, m.bytes]), [
      [urls[0], 200, 'image/jpeg', rx.media.get('/media/cat.jpg').body.length],
      [urls[1], 200, 'application/pdf', rx.media.get('/media/doc.pdf').body.length],
    ]);
    assert.match(call.media[0].sha256, /^[0-9a-f]{64}$/);
    assert.deepEqual(await waitStatuses(r.body.sid, 3), ['sent', 'delivered', 'read']);
  });

  test('a failed fetch keeps the 201 and fails the message with 63019', async () => {
    for (const path of ['/media/missing.jpg', '/media/note.txt']) {
      const to = newUser();
      await openWindow(sim, to);
      const r = await send(sim, textMessage(to, { MediaUrl: `${rx.base}${path}`, StatusCallback: `${rx.base}/cb` }));
      assert.equal(r.status, 201);
      assert.deepEqual(await waitStatuses(r.body.sid, 1), ['failed'], path);
      assert.equal(forSid(r.body.sid)[0].params.ErrorCode, '63019');
    }
  });

  test('POST /sim/fetch reports status, size and sha256', async () => {
    const ok = await simJson(sim, 'POST', '/sim/fetch', { url: `${rx.base}/media/doc.pdf` });
    assert.equal(ok.body.status, 200);
    assert.equal(ok.body.bytes, rx.media.get('/media/doc.pdf').body.length);
    const crypto = await import('node:crypto');
    assert.equal(ok.body.sha256, crypto.createHash('sha256').update(rx.media.get('/media/doc.pdf').body).digest('hex'));
    const missing = await simJson(sim, 'POST', '/sim/fetch', { url: `${rx.base}/media/nope` });
    assert.equal(missing.body.status, 404);
    const dead = await simJson(sim, 'POST', '/sim/fetch', { url: 'http://127.0.0.1:9/x' });
    assert.equal(dead.body.status, 0);
    assert.ok(dead.body.error);
  });
});
