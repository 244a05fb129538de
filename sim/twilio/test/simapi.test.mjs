// simapi.test.mjs - the /sim control surface: config, reset, error handling.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { basic, messagesUrl, newUser, send, simJson, startSim, textMessage } from './helpers.mjs';

let sim;
before(async () => { sim = await startSim({ enforceWindow: false, callbacks: false }); });
after(() => sim.close());

test('config: read, merge, reject unknown keys and bad values', async () => {
  const got = await simJson(sim, 'GET', '/sim/config');
  assert.equal(got.body.config.enforceWindow, false);
  const set = await simJson(sim, 'POST', '/sim/config', { callbackDelayMs: 7 });
  assert.equal(set.body.config.callbackDelayMs, 7);
  assert.equal((await simJson(sim, 'POST', '/sim/config', { nope: 1 })).status, 400);
  assert.equal((await simJson(sim, 'POST', '/sim/config', { enforceWindow: 'yes' })).status, 400);
});

test('createLatencyMs: every Messages create answers after that long', async () => {
  await simJson(sim, 'POST', '/sim/config', { createLatencyMs: 150 });
  try {
    const t0 = performance.now();
    const r = await send(sim, textMessage(newUser()));
    assert.equal(r.status, 201);
    assert.ok(performance.now() - t0 >= 150, `answered after ${performance.now() - t0} ms`);
    assert.equal((await simJson(sim, 'POST', '/sim/config', { createLatencyMs: -1 })).status, 400);
  } finally {
    await simJson(sim, 'POST', '/sim/config', { createLatencyMs: 0 });
  }
});

test('reset forgets calls, faults, windows and config changes', async () => {
  const to = newUser();
  await send(sim, textMessage(to));
  await simJson(sim, 'POST', '/sim/faults', { status: 500, count: -1 });
  await simJson(sim, 'POST', '/sim/window', { user: to, lastInboundAtMs: Date.now() });
  await simJson(sim, 'POST', '/sim/config', { callbackDelayMs: 999 });
  await simJson(sim, 'POST', '/sim/reset');
  assert.deepEqual((await simJson(sim, 'GET', '/sim/calls')).body.calls, []);
  assert.deepEqual((await simJson(sim, 'GET', '/sim/faults')).body.faults, []);
  assert.deepEqual((await simJson(sim, 'GET', '/sim/window')).body.windows, []);
  assert.equal((await simJson(sim, 'GET', '/sim/config')).body.config.callbackDelayMs, 5);
  assert.equal((await send(sim, textMessage(to))).status, 201);
});

test('/sim/callback: unknown sid 404, no StatusCallback 409', async () => {
  assert.equal((await simJson(sim, 'POST', '/sim/callback', { sid: 'SM' + '0'.repeat(32), status: 'read' })).status, 404);
  const r = await send(sim, textMessage(newUser()));
  assert.equal((await simJson(sim, 'POST', '/sim/callback', { sid: r.body.sid, status: 'read' })).status, 409);
});

test('bad JSON and unknown /sim routes answer 400/404 with {error}', async () => {
  const res = await fetch(`${sim.url}/sim/faults`, { method: 'POST', body: '{' });
  assert.equal(res.status, 400);
  assert.ok((await res.json()).error);
  assert.equal((await simJson(sim, 'GET', '/sim/nothing')).status, 404);
});

test('other methods on Messages.json -> 405 in Twilio shape', async () => {
  const res = await fetch(messagesUrl(sim), { method: 'DELETE', headers: { Authorization: basic() } });
  assert.equal(res.status, 405);
  assert.equal((await res.json()).code, 20004);
});
