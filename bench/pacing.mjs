// pacing.mjs - each Twilio number's pace at the real rate (TWILIO_RATE_PER_SECOND, 80 by
// default): a burst of N sends through one number with one sender-twilio instance, then with
// two, then N through two numbers with two instances. Rates come from the simulator's own
// record of when each Messages API call arrived. Run through bench/pacing.sh.
import {
  env, key, services, contactsOf, callsTo, pace, startWithPartitions, sendAll,
} from '../tests/e2e/lib.mjs';
import { readPid, cpuMs } from './proc.mjs';

const N = Number(env.N ?? 1000);
const CONTACTS = Number(env.CONTACTS ?? 100);
const RATE = Number(env.TWILIO_RATE_PER_SECOND ?? 80);
const NUMBERS = env.TWILIO_WA_FROM.split(',').map((n) => n.trim().replace(/^whatsapp:/, ''));
const ALL = ['sender-twilio', 'sender-twilio@2'];
const pidOf = (name) => readPid(`${env.WA_STATE}/run/${name}.pid`);

async function phase(label, instances, numbers) {
  services('stop', ...ALL);
  const per = Math.ceil(CONTACTS / numbers.length);
  const phones = (await Promise.all(numbers.map((n) => contactsOf(n, per))));
  await startWithPartitions(instances);
  const cpu0 = instances.map((n) => cpuMs(pidOf(n)));
  const all = phones.flat();
  const t0 = Date.now();
  // Posted faster than any number's pace, so the senders always have a backlog.
  await sendAll(Array.from({ length: N }, (_, i) => ({
    to: phones[i % numbers.length][Math.floor(i / numbers.length) % per], type: 'text', text: `pace ${t0} ${i}`,
    idempotencyKey: key(), channel: `twilio:${numbers[i % numbers.length]}`,
  })));
  const posted = Date.now();
  const calls = await callsTo(all, N, { timeoutMs: (N / RATE) * 1000 * 3 + 60000 });
  const cpu = instances.map((n, i) => cpuMs(pidOf(n)) - cpu0[i]);
  const whole = pace(calls);
  const goal = RATE * numbers.length;
  const off = (x, g) => `${x >= g ? '+' : ''}${(((x - g) / g) * 100).toFixed(1)} %`;
  console.log(`-- ${label}: ${N} sends, ${instances.length} sender-twilio instance(s), ${numbers.length} number(s) at ${RATE}/s`);
  console.log(`   in all: ${whole.rate.toFixed(2)}/s (${off(whole.rate, goal)} from ${goal}/s), at most ${whole.most} in one second`);
  // While the requests are posted, ingress, the router and Kafka take most of the two cores; once
  // all are in, the senders have the whole backlog and the machine to themselves.
  const rest = calls.filter((c) => c.receivedAtMs >= posted);
  console.log(`   the ${N} requests took ${((posted - t0) / 1000).toFixed(1)} s (${N - rest.length} calls made by then); ` +
    `after that: ${pace(rest).rate.toFixed(2)}/s (${off(pace(rest).rate, goal)}) over ${rest.length} calls`);
  for (const n of numbers) {
    const x = pace(calls.filter((c) => c.params.From === `whatsapp:${n}`));
    console.log(`   ${n}: ${x.rate.toFixed(2)}/s (${off(x.rate, RATE)} from ${RATE}/s), at most ${x.most} in one second`);
  }
  // Calls per second from the first: where a number fell under its pace, and where it bunched.
  const t0c = calls[0].receivedAtMs;
  const perSecond = [];
  for (const c of calls) {
    const i = Math.floor((c.receivedAtMs - t0c) / 1000);
    perSecond[i] = (perSecond[i] ?? 0) + 1;
  }
  console.log(`   calls in each second from the first: ${Array.from(perSecond, (x) => x ?? 0).join(' ')}`);
  console.log(`   sender-twilio CPU per send: ${instances.map((n, i) => `${n} ${(cpu[i] / N).toFixed(3)} ms`).join(', ')}` +
    ` (${(cpu.reduce((a, b) => a + b, 0) / N).toFixed(3)} ms in all)`);
}

await phase('one number, one instance', ['sender-twilio'], NUMBERS.slice(0, 1));
await phase('one number, two instances', ALL, NUMBERS.slice(0, 1));
await phase('two numbers, two instances', ALL, NUMBERS.slice(0, 2));
services('stop', ...ALL);
services('start', 'sender-twilio');
