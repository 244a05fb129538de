// twilio_health.test.mjs - a Twilio channel's health comes from sender-twilio's send results
// (docs/architecture.md §3.3): sends that fail in a row make the router record the channel DOWN,
// a send that passes makes it UP again, the dashboard's API shows health per channel, and a
// sender that stops is forgotten (UNKNOWN: no send recently).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  env, db, q, send, waitMessage, sim, twilioContact, key, waitFor, services, topicRecords, metric, routerUrl,
  senderTwilioUrl,
} from './lib.mjs';

test.after(() => db.end());

// The first number takes a contact's message when the simulator is not told another.
const NUMBER = env.TWILIO_WA_FROM.split(',')[0].trim().replace(/^whatsapp:/, '');
const CHANNEL = `twilio:${NUMBER}`;
const routerUp = () => metric(routerUrl, `wa_router_channel_up{channel="${CHANNEL}"}`);
const instances = () => metric(routerUrl, `wa_router_channel_instances{channel="${CHANNEL}"}`);
const LOGS = { logs: ['router', 'sender-twilio'] };

// The dashboard's health lines. A 503 (the CRM away: a pooled connection that an earlier test's
// Postgres restart broke fails once) is asked again.
async function dashboardHealth() {
  const stats = await waitFor('the dashboard\'s stats', async () => {
    const res = await fetch(`http://${env.DASHBOARD_LISTEN}/api/stats?minutes=5`,
      { headers: { Authorization: `Bearer ${env.DASHBOARD_TOKEN}` } });
    if (res.status === 503) return false;
    assert.equal(res.status, 200);
    return res.json();
  }, { timeoutMs: 10000, logs: ['dashboard'] });
  return stats.health;
}

// The provider.health changes of the channel on wa.events since t0, each once.
async function healthEvents(t0) {
  return (await topicRecords('wa.events')).filter((r) => r.value).map((r) => JSON.parse(r.value))
    .filter((e) => e.type === 'provider.health' && e.channel === CHANNEL && e.at_ms >= t0)
    .filter((e, i, all) => all.findIndex((x) => x.id === e.id) === i); // a republished event repeats its id
}

async function sendText(phone, text) {
  const r = await send({ to: phone, type: 'text', text, idempotencyKey: key() });
  assert.equal(r.status, 202, r.text);
  return r.json.id;
}

test('Twilio sends that fail in a row make the channel DOWN; one that passes, UP again; the dashboard shows it per channel', async () => {
  const phone = await twilioContact();
  // A send that passes: the channel is UP before the faults, whatever ran before.
  const first = await sendText(phone, 'before the faults');
  await waitMessage(first, 'the first send', (m) => ['sent', 'delivered', 'read'].includes(m.status));
  await waitFor(`the router to see ${CHANNEL} UP`, async () => (await routerUp()) === 1, LOGS);
  assert.equal(await metric(senderTwilioUrl, `wa_sender_twilio_up{channel="${CHANNEL}"}`), 1);
  const t0 = Date.now();

  // Twilio answers 500 to every call for this contact until told otherwise: the sender retries
  // (1 s, 2 s, 4 s, ...), and three failures in a row make the channel DOWN.
  await sim('/sim/faults', { to: phone, status: 500, count: -1 });
  let id;
  try {
    id = await sendText(phone, 'while Twilio fails');
    await waitFor(`the router to see ${CHANNEL} DOWN`, async () => (await routerUp()) === 0,
      { timeoutMs: 20000, ...LOGS });
    // What sender-twilio published: its own key on the channel, from its send results.
    const reports = (await topicRecords('wa.provider')).filter((r) => r.key.startsWith(`${CHANNEL}/`) && r.value)
      .map((r) => ({ key: r.key, ...JSON.parse(r.value) }));
    const down = reports.filter((v) => v.state === 'DOWN' && v.checked_ms >= t0).at(-1);
    assert.ok(down, JSON.stringify(reports.slice(-3)));
    assert.equal(down.key, `${CHANNEL}/${down.instance}`);
    assert.equal(down.provider, 'twilio');
    assert.equal(down.channel, CHANNEL);
    assert.equal(down.source, 'send');
    assert.match(down.reason, /^3 sends failed in a row: HTTP 500/);
    assert.ok(down.since_ms >= t0 && down.since_ms <= down.checked_ms, JSON.stringify(down));

    const [row] = await q(`select state, reason, provider from provider_health where channel = $1
      and since >= to_timestamp($2 / 1000.0) order by since desc limit 1`, [CHANNEL, t0]);
    assert.equal(row?.state, 'DOWN', JSON.stringify(row));
    assert.equal(row.provider, 'twilio');
    assert.match(row.reason, /3 sends failed in a row: HTTP 500.*\[instance [^\]]+\]/);

    // The dashboard's API answers per channel: this number's line is DOWN, with the reason.
    const lines = (await dashboardHealth()).filter((e) => e.channel === CHANNEL);
    assert.equal(lines.at(-1)?.state, 'DOWN', JSON.stringify(lines));
    assert.equal(lines.at(-1).provider, 'twilio');
    assert.equal(lines.at(-1).number, NUMBER);
    assert.match(lines.at(-1).reason, /sends failed in a row: HTTP 500/);
  } finally {
    await sim('/sim/faults', undefined, 'DELETE');
  }

  // The next retry passes: the channel is UP again.
  await waitMessage(id, 'the retried send', (m) => ['sent', 'delivered', 'read'].includes(m.status),
    { timeoutMs: 40000, ...LOGS });
  await waitFor(`the router to see ${CHANNEL} UP again`, async () => (await routerUp()) === 1, LOGS);
  const changes = await waitFor('the UP change on wa.events', async () => {
    const evs = await healthEvents(t0);
    return evs.some((e) => e.state === 'UP') ? evs : false;
  });
  assert.deepEqual(changes.map((e) => e.state), ['DOWN', 'UP']);
  assert.ok(changes.every((e) => e.provider === 'twilio'));
  const rows = await q(`select state from provider_health where channel = $1 and since >= to_timestamp($2 / 1000.0)
    order by since`, [CHANNEL, t0]);
  assert.deepEqual(rows.map((r) => r.state), ['DOWN', 'UP']);
  const lines = (await dashboardHealth()).filter((e) => e.channel === CHANNEL);
  assert.equal(lines.at(-1)?.state, 'UP', JSON.stringify(lines));
  // Every line of the answer names its channel.
  for (const e of await dashboardHealth()) assert.ok(e.channel && e.provider, JSON.stringify(e));
});

test('a sender-twilio that stops says so per channel: the router forgets it, and the channel is UNKNOWN', async () => {
  const phone = await twilioContact();
  const id = await sendText(phone, 'before the stop');
  await waitMessage(id, 'sent', (m) => ['sent', 'delivered', 'read'].includes(m.status));
  await waitFor(`the router to see ${CHANNEL} UP`, async () => (await routerUp()) === 1, LOGS);
  const before = (await topicRecords('wa.provider')).filter((r) => r.key.startsWith(`${CHANNEL}/`) && r.value).at(-1);
  assert.ok(before, 'sender-twilio reported on the channel');
  // Instances the router counts (one, unless an earlier test crashed one and its last report
  // is still fresh).
  const n = await instances();
  const t0 = Date.now();
  services('stop', 'sender-twilio');
  try {
    // The tombstone makes the router forget the instance at once, not after the stale time.
    await waitFor('the router to forget the stopped instance', async () => (await instances()) === n - 1,
      { timeoutMs: 10000, ...LOGS });
    const after = (await topicRecords('wa.provider')).filter((r) => r.key === before.key);
    assert.equal(after.at(-1).value, '', 'the last record of the instance is its tombstone');
    if (n === 1) {
      assert.equal(await routerUp(), 0);
      const evs = await waitFor('the UNKNOWN change on wa.events', async () => {
        const e = await healthEvents(t0);
        return e.length ? e : false;
      });
      assert.deepEqual(evs.map((e) => e.state), ['UNKNOWN']);
    }
  } finally {
    services('start', 'sender-twilio');
  }
});
