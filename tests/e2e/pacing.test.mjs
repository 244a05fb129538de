// pacing.test.mjs - Twilio takes so many messages a second per sender number (80 by default):
// each number's pace is kept whatever the number of sender-twilio instances, and two numbers go
// out at twice one's rate. The figures at the real rate are the benchmark's (bench/pacing.sh);
// these check the rule at 10 a second.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  env, db, key, services, metric, contactsOf, callsTo, pace, startWithPartitions, sendAll,
} from './lib.mjs';

test.after(() => db.end());

const [FIRST, SECOND] = env.TWILIO_WA_FROM.split(',').map((n) => n.trim().replace(/^whatsapp:/, ''));
const RATE = 10;
const INSTANCES = ['sender-twilio', 'sender-twilio@2'];
const listenOf = (name) => {
  const [host, port] = env.SENDER_TWILIO_LISTEN.split(':');
  return `http://${host}:${Number(port) + (name.endsWith('@2') ? 100 : 0)}`;
};

// Both instances at RATE a second per number, each with its partitions (a rebalance while the
// burst drains would drop the slots reserved for the commands it moves).
async function withSenders(fn) {
  const saved = env.TWILIO_RATE_PER_SECOND;
  services('stop', ...INSTANCES);
  try {
    env.TWILIO_RATE_PER_SECOND = String(RATE);
    await startWithPartitions(INSTANCES);
    return await fn();
  } finally {
    services('stop', ...INSTANCES);
    if (saved === undefined) delete env.TWILIO_RATE_PER_SECOND;
    else env.TWILIO_RATE_PER_SECOND = saved;
    services('start', 'sender-twilio');
  }
}

// Every phone one message, posted as fast as the send API takes them: a backlog for the senders.
const burst = (phones, channelOf) => sendAll(phones.map((phone, i) => ({
  to: phone, type: 'text', text: `paced ${i}`, idempotencyKey: key(), ...(channelOf ? { channel: channelOf(i) } : {}),
})));

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
    // Two instances pacing on their own would go at twice the rate, after a first second of both
    // buckets' bursts. The calls follow their slots, but the simulator stamps them when its event
    // loop gets to them: on a loaded machine one second may hold a stalled second's calls too.
    assert.ok(rate <= RATE * 1.1, `${rate.toFixed(2)}/s from a number that takes ${RATE}/s`);
    assert.ok(most < RATE * 2, `${most} calls within one second; the number takes ${RATE}`);
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
      assert.ok(x.most < RATE * 2, `${x.most} calls within one second from one number`);
    }
    assert.ok(all.rate >= 2 * RATE * 0.8, `${all.rate.toFixed(2)}/s in all, not twice ${RATE}/s`);
  });
});
