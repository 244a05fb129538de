// faults.test.mjs - scripted faults: error statuses, dropped connections, latency, scoping.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { ACCOUNT, basic, newUser, send, simJson, startSim, textMessage } from './helpers.mjs';

let sim;
before(async () => { sim = await startSim({ enforceWindow: false, callbacks: false }); });
after(() => sim.close());

test('429 x3 then 201', async () => {
  const to = newUser();
  const f = await simJson(sim, 'POST', '/sim/faults', { to, status: 429, count: 3 });
  assert.equal(f.status, 201);
  for (let i = 0; i < 3; i += 1) {
    const r = await send(sim, textMessage(to));
    assert.equal(r.status, 429);
    assert.deepEqual(r.body, { code: 20429, message: 'Too Many Requests',
      more_info: 'https://www.twilio.com/docs/errors/20429', status: 429 });
  }
  const ok = await send(sim, textMessage(to));
  assert.equal(ok.status, 201);
  const { body } = await simJson(sim, 'GET', `/sim/calls?to=${encodeURIComponent(to)}`);
  assert.deepEqual(body.calls.map((c) => c.responseStatus), [429, 429, 429, 201]);
});

test('500 and 503 carry 20500 / 20503; a fault may name its own code', async () => {
  const to = newUser();
  await simJson(sim, 'POST', '/sim/faults', [
    { to, status: 500 }, { to, status: 503 }, { to, status: 400, code: 21610, message: 'Attempt to send to unsubscribed recipient' },
  ]);
  assert.equal((await send(sim, textMessage(to))).body.code, 20500);
  assert.equal((await send(sim, textMessage(to))).body.code, 20503);
  const custom = await send(sim, textMessage(to));
  assert.equal(custom.status, 400);
  assert.equal(custom.body.code, 21610);
  assert.equal((await send(sim, textMessage(to))).status, 201);
});

test('scoped faults do not touch other recipients; unscoped ones hit anyone', async () => {
  const mine = newUser();
  const other = newUser();
  await simJson(sim, 'POST', '/sim/faults', { to: `whatsapp:${mine}`, status: 503, count: 2 });
  assert.equal((await send(sim, textMessage(other))).status, 201);
  assert.equal((await send(sim, textMessage(mine))).status, 503);
  const listed = await simJson(sim, 'GET', '/sim/faults');
  const left = listed.body.faults.find((f) => f.to === mine);
  assert.equal(left.remaining, 1);
  await simJson(sim, 'DELETE', '/sim/faults');
  assert.equal((await send(sim, textMessage(mine))).status, 201);
  assert.deepEqual((await simJson(sim, 'GET', '/sim/faults')).body.faults, []);
});

test('drop: the request is read, then the socket is closed without an answer', async () => {
  const to = newUser();
  await simJson(sim, 'POST', '/sim/faults', { to, drop: true });
  await assert.rejects(send(sim, textMessage(to)), (e) => e instanceof TypeError);
  const { body } = await simJson(sim, 'GET', `/sim/calls?to=${encodeURIComponent(to)}`);
  assert.equal(body.calls.length, 1);
  assert.equal(body.calls[0].dropped, true);
  assert.equal(body.calls[0].responseStatus, null);
  assert.deepEqual(body.calls[0].params, textMessage(to)); // the body was read in full
  assert.equal((await send(sim, textMessage(to))).status, 201);
});

test('latency delays the answer, count times', async () => {
  const to = newUser();
  await simJson(sim, 'POST', '/sim/faults', { to, latencyMs: 300, count: 2 });
  for (let i = 0; i < 2; i += 1) {
    const t0 = performance.now();
    const r = await send(sim, textMessage(to));
    const dt = performance.now() - t0;
    assert.equal(r.status, 201);
    assert.ok(dt >= 295, `answered after ${dt} ms`);
  }
  const t0 = performance.now();
  await send(sim, textMessage(to));
  assert.ok(performance.now() - t0 < 250);
});

test('latency combined with a status; count -1 lasts until cleared', async () => {
  const to = newUser();
  await simJson(sim, 'POST', '/sim/faults', { to, latencyMs: 100, status: 500, count: -1 });
  for (let i = 0; i < 3; i += 1) {
    const t0 = performance.now();
    const r = await send(sim, textMessage(to));
    assert.equal(r.status, 500);
    assert.ok(performance.now() - t0 >= 95);
  }
  assert.equal((await simJson(sim, 'GET', '/sim/faults')).body.faults[0].remaining, -1);
  await simJson(sim, 'DELETE', '/sim/faults');
  assert.equal((await send(sim, textMessage(to))).status, 201);
});

test('malformed faults are refused', async () => {
  for (const bad of [{ status: 200 }, { count: 2 }, { latencyMs: -1 }, { status: 500, count: 0 },
    { callbacks: ['sent', 'teleported'] }, { status: 500, callbacks: ['sent'] }]) {
    const r = await simJson(sim, 'POST', '/sim/faults', bad);
    assert.equal(r.status, 400, JSON.stringify(bad));
  }
});

test('created: Twilio makes the message, then the answer is a 502 or is lost; the list shows it', async () => {
  const to = newUser();
  await simJson(sim, 'POST', '/sim/faults', [{ to, status: 502, created: true }, { to, drop: true, created: true }]);
  const r = await send(sim, textMessage(to));
  assert.equal(r.status, 502);
  await assert.rejects(send(sim, textMessage(to)), (e) => e instanceof TypeError);
  const list = await fetch(`${sim.url}/2010-04-01/Accounts/${ACCOUNT}/Messages.json?To=${encodeURIComponent(`whatsapp:${to}`)}`,
    { headers: { Authorization: basic() } });
  assert.equal(list.status, 200);
  assert.equal((await list.json()).messages.length, 2, 'both were created');
  const { body } = await simJson(sim, 'GET', `/sim/calls?to=${encodeURIComponent(to)}`);
  const posts = body.calls.filter((c) => c.method === 'POST');
  assert.deepEqual(posts.map((c) => c.createdDespiteFault), [true, true]);
  assert.ok(posts.every((c) => /^SM/.test(c.sid)));
  assert.equal((await simJson(sim, 'POST', '/sim/faults', { to, created: true })).status, 400);
});
