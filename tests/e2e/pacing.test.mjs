// pacing.test.mjs - Twilio takes so many messages a second per sender number (80 by default):
// each number's pace is kept whatever the number of sender-twilio instances, and two numbers go
// out at twice one's rate. The figures at the real rate are the benchmark's (bench/pacing.sh);
// these check the rule at 10 a second.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import {
  env, db, q, send, sim, simCalls, key, waitFor, services, uniquePhone, messagesFor, metric,
} from './lib.mjs';

test.after(() => db.end());

const [FIRST, SECOND] = env.TWILIO_WA_FROM.split(',').map((n) => n.trim().replace(/^whatsapp:/, ''));
const RATE = 10;
const INSTANCES = ['sender-twilio', 'sender-twilio@2'];
const listenOf = (name) => {
  const [host, port] = env.SENDER_TWILIO_LISTEN.split(':');
  return `http://${host}:${Number(port) + (name.endsWith('@2') ? 100 : 0)}`;
};

// Contacts who wrote to `to` (the window that lets free text go out from it).
async function contactsOf(to, n) {
  const phones = Array.from({ length: n }, () => uniquePhone());
  for (const phone of phones) {
    const r = await sim('/sim/inbound', { from: phone, to, body: 'hello' });
    assert.equal(r.status, 204, JSON.stringify(r));
  }
  await waitFor('the contacts in the CRM', async () =>
    (await Promise.all(phones.map(messagesFor))).every((m) => m.length === 1));
  return phones;
}

const logOf = (name) => {
  try {
    return readFileSync(path.join(env.WA_STATE, 'log', `${name}.log`), 'utf8');
  } catch {
    return '';
  }
};

// Both instances at RATE a second per number, each with its partitions (a rebalance while the
// burst drains would drop the slots reserved for the commands it moves).
async function withSenders(fn) {
  const saved = env.TWILIO_RATE_PER_SECOND;
  services('stop', ...INSTANCES);
  try {
    env.TWILIO_RATE_PER_SECOND = String(RATE);
    const from = INSTANCES.map((n) => logOf(n).length);
    services('start', ...INSTANCES);
    await waitFor('both instances with partitions of their own', async () => INSTANCES.every((n, i) => {
      const counts = [...logOf(n).slice(from[i]).matchAll(/kafka assigned partitions=(\d+)/g)].map((m) => Number(m[1]));
      return counts.length > 0 && counts.at(-1) > 0;
    }) && INSTANCES.every((n, i) => !/kafka revoked/.test(logOf(n).slice(from[i]).split(/kafka assigned partitions=[1-9]/).at(-1))),
    { timeoutMs: 60000 });
    return await fn();
  } finally {
    services('stop', ...INSTANCES);
    if (saved === undefined) delete env.TWILIO_RATE_PER_SECOND;
    else env.TWILIO_RATE_PER_SECOND = saved;
    services('start', 'sender-twilio');
  }
}

// The Messages API calls the simulator took for phones, sorted by when, with their From.
async function callsTo(phones, n) {
  let calls = [];
  await waitFor(`${n} calls at the simulator`, async () => {
    calls = (await Promise.all(phones.map(simCalls))).flat().filter((c) => c.responseStatus === 201);
    return calls.length >= n;
  }, { timeoutMs: 60000 });
  return calls.sort((a, b) => a.receivedAtMs - b.receivedAtMs);
}

// Sends a second over the whole burst, and the most in any one second.
function pace(calls) {
  const t = calls.map((c) => c.receivedAtMs);
  let most = 0;
  for (let i = 0, j = 0; i < t.length; i++) {
    while (t[i] - t[j] >= 1000) j++;
    most = Math.max(most, i - j + 1);
  }
  return { rate: (t.length - 1) / ((t.at(-1) - t[0]) / 1000), most };
}

async function burst(phones, channelOf) {
  const ids = [];
  for (const [i, phone] of phones.entries()) {
    const r = await send({ to: phone, type: 'text', text: `paced ${i}`, idempotencyKey: key(),
      ...(channelOf ? { channel: channelOf(i) } : {}) });
    assert.equal(r.status, 202, r.text);
    ids.push(r.json.id);
  }
  return ids;
}

test('one number, two sender-twilio instances: the number\'s pace is shared, not doubled', async () => {
  const phones = await contactsOf(FIRST, 60);
  await withSenders(async () => {
    await burst(phones);
    const calls = await callsTo(phones, phones.length);
    const sent = await Promise.all(INSTANCES.map((n) =>
      metric(listenOf(n), 'wa_sender_results_total{provider="twilio",result="sent"}')));
    assert.ok(sent.every((x) => x > 0), `both instances sent (${sent.join(', ')})`);
    assert.ok(calls.every((c) => c.params.From === `whatsapp:${FIRST}`));
    const { rate, most } = pace(calls);
    console.log(`one number, two instances: ${rate.toFixed(2)}/s, at most ${most} in a second`);
    // Two instances pacing on their own would go at twice the rate. The calls follow their slots
    // within the scheduling jitter of a loaded machine, so one second may hold a few more.
    assert.ok(rate <= RATE * 1.1, `${rate.toFixed(2)}/s from a number that takes ${RATE}/s`);
    assert.ok(most <= RATE * 1.5, `${most} calls within one second; the number takes ${RATE}`);
    assert.ok(rate >= RATE * 0.8, `${rate.toFixed(2)}/s: the pace is ${RATE}/s`);
  });
});

test('two numbers go out at twice one number\'s rate, each at its own', async () => {
  assert.ok(SECOND, 'the tests configure two Twilio numbers');
  const a = await contactsOf(FIRST, 20);
  const b = await contactsOf(SECOND, 20);
  const phones = a.flatMap((p, i) => [p, b[i]]);
  await withSenders(async () => {
    await burst(phones, (i) => `twilio:${i % 2 ? SECOND : FIRST}`);
    const calls = await callsTo(phones, phones.length);
    const all = pace(calls);
    const each = [FIRST, SECOND].map((n) => pace(calls.filter((c) => c.params.From === `whatsapp:${n}`)));
    console.log(`two numbers: ${all.rate.toFixed(2)}/s in all; ${each.map((x) => x.rate.toFixed(2)).join(' and ')}/s each`);
    for (const x of each) {
      assert.ok(x.rate <= RATE * 1.1, `${x.rate.toFixed(2)}/s from a number that takes ${RATE}/s`);
      assert.ok(x.most <= RATE * 1.5, `${x.most} calls within one second from one number`);
    }
    assert.ok(all.rate >= 2 * RATE * 0.8, `${all.rate.toFixed(2)}/s in all, not twice ${RATE}/s`);
  });
});
