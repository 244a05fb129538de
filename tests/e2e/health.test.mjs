// health.test.mjs - Baileys' health from several sender-baileys instances (docs/architecture.md
// §3.3): one instance that sees the bridge DOWN is not overwritten by another one's UP, and an
// instance that stops is forgotten.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  env, db, send, waitMessage, sim, baileysContact, bothContact, baileysUp, key, waitFor, sleep, services,
  topicRecords, metric, routerUrl,
} from './lib.mjs';

test.after(() => db.end());

const SECOND = 'sender-baileys@2';

// Every record of a topic as JSON; a tombstone (an instance that left) has no value.
async function records(topic) {
  return (await topicRecords(topic)).filter((r) => r.value).map((r) => JSON.parse(r.value));
}

async function routeOf(phone, text) {
  const r = await send({ to: phone, type: 'text', text, idempotencyKey: key() });
  assert.equal(r.status, 202, r.text);
  return waitMessage(r.json.id, `"${text}" sent`, (m) => ['sent', 'delivered', 'read'].includes(m.status),
    { timeoutMs: 30000, logs: ['router', 'sender-baileys', SECOND] });
}

const routerUp = () => metric(routerUrl, 'wa_router_channel_up{channel="baileys"}');

test('two sender-baileys instances: a DOWN from one is not overwritten by the other\'s UP; a stopped one is forgotten', async () => {
  await baileysUp();
  const t0 = Date.now();
  // Instances this router counts before (one, unless an earlier run left fresh reports behind).
  const instances = () => metric(routerUrl, 'wa_router_channel_instances{channel="baileys"}');
  const before = await instances();
  // The second instance probes a port nobody listens on, and then only once a minute: with the
  // last record winning, the first instance's next UP would make Baileys UP for that minute.
  const saved = { BAILEYS_HEALTH_URL: env.BAILEYS_HEALTH_URL,
    BAILEYS_HEALTH_DOWN_INTERVAL_S: env.BAILEYS_HEALTH_DOWN_INTERVAL_S };
  Object.assign(env, { BAILEYS_HEALTH_URL: 'http://127.0.0.1:9/health', BAILEYS_HEALTH_DOWN_INTERVAL_S: '60' });
  try {
    services('start', SECOND);
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete env[k];
      else env[k] = v;
    }
  }
  try {
    await waitFor('the router to see Baileys DOWN', async () => (await routerUp()) === 0,
      { timeoutMs: 15000, logs: ['router', SECOND] });

    // The first instance restarts: its first probe passes and its UP is published at once,
    // after the second instance's DOWN.
    const t1 = Date.now();
    services('stop', 'sender-baileys');
    services('start', 'sender-baileys');
    await waitFor('a fresh UP on wa.provider', async () =>
      (await records('wa.provider')).some((v) => v.state === 'UP' && v.checked_ms >= t1),
    { timeoutMs: 15000, logs: ['sender-baileys'] });
    // The router reads wa.provider about every 100 ms: ample time to flip, if it would.
    await sleep(1500);
    assert.equal(await routerUp(), 0, 'one instance\'s fresh UP hid another one\'s DOWN');
    assert.equal(await instances(), before + 1, 'both instances count (the restarted one once)');

    // So a Baileys contact is answered through Twilio, flagged.
    const phone = await bothContact();
    const m = await routeOf(phone, 'while one instance sees the bridge down');
    assert.equal(m.provider, 'twilio');
    assert.equal(m.failover, true);

    // The second instance stops cleanly: its tombstone makes the router forget it at once, not
    // after BAILEYS_HEALTH_STALE_S.
    services('stop', SECOND);
    await waitFor('the router to see Baileys UP again', async () => (await routerUp()) === 1,
      { timeoutMs: 10000, logs: ['router', SECOND] });
    assert.equal(await instances(), before);
    const m2 = await routeOf(phone, 'with the instance that saw it down gone');
    assert.equal(m2.provider, 'baileys');
    assert.equal(m2.failover, false);

    // The merged state changed twice, and each change was recorded once: DOWN (naming the
    // instance that saw it), then UP.
    const changes = await waitFor('the UP change on wa.events', async () => {
      // Baileys' channel only: the Twilio sends of this test report on their own channel.
      const evs = (await records('wa.events'))
        .filter((e) => e.type === 'provider.health' && e.channel === 'baileys' && e.at_ms >= t0)
        .filter((e, i, all) => all.findIndex((x) => x.id === e.id) === i); // a republished event repeats its id
      return evs.some((e) => e.state === 'UP') ? evs : false;
    });
    assert.deepEqual(changes.map((e) => e.state), ['DOWN', 'UP']);
    assert.match(changes[0].reason, /\[instance [^\]]+\]/);
    assert.ok(changes[1].since_ms > changes[0].since_ms);
  } finally {
    services('stop', SECOND);
  }
  await baileysUp();
});
