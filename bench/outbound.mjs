// outbound.mjs - outbound benchmarks on the running stack: the send API to the provider call at a
// steady load, and failover time (the bridge dies -> the next message reaches Twilio).
// Run through bench/outbound.sh (`make bench-outbound`), which starts the stack.
// The Twilio contacts are spread over every number of TWILIO_WA_FROM (each writes to one, and is
// answered from it: reply via source), so with NUMBERS=10 per-number pacing is not the limit.
import { performance } from 'node:perf_hooks';
import {
  send, sim, bridge, baileysContact, bothContact, key, services, metric, waitFor, sleep, env,
  waitMessage, contactsOf, topicRecords,
} from '../tests/e2e/lib.mjs';
import { processes, measure, warmBroker } from './proc.mjs';

const RATES = (env.RATES ?? '10 50').split(/\s+/).map(Number); // send requests per second
const SECS = Number(env.SECS ?? 20);
const WARM_S = Number(env.WARM_S ?? 10);
const RUNS = Number(env.RUNS ?? 20);     // failover runs
const CONTACTS = Number(env.CONTACTS ?? 20);
const now = () => performance.timeOrigin + performance.now();

function stats(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const at = (p) => s[Math.min(s.length - 1, Math.floor(p * s.length))];
  const f = (x) => (x === undefined ? '-' : x === Infinity ? 'late' : x.toFixed(1));
  return `n=${s.length} p50=${f(at(0.5))} p90=${f(at(0.9))} p99=${f(at(0.99))} max=${f(s[s.length - 1])} ms`;
}

async function baileysUp() {
  await waitFor('Baileys UP at sender-baileys and the router', async () =>
    (await metric(`http://${env.SENDER_BAILEYS_LISTEN}`, 'wa_sender_baileys_up{channel="baileys"}')) === 1 &&
    (await metric(`http://${env.ROUTER_LISTEN}`, 'wa_router_channel_up{channel="baileys"}')) === 1, { timeoutMs: 60000, everyMs: 20 });
}

const NUMBERS = env.TWILIO_WA_FROM.split(',').map((n) => n.trim().replace(/^whatsapp:/, ''));

// Status callbacks of the run (#13's target 4): from the simulator's POST of a `delivered` or
// `read` callback (its first attempt) to that status's event on wa.events, whose Kafka timestamp
// is taken when the router publishes it, after the commit that applied it. Callbacks without
// such an event count as later than everything.
async function statusLatency(fromMs) {
  const cbs = (await sim('/sim/callbacks')).callbacks
    .filter((c) => c.attempt === 1 && c.sentAtMs >= fromMs && ['delivered', 'read'].includes(c.status));
  const applied = new Map();
  for (const r of await topicRecords('wa.events', { fromMs })) {
    const e = JSON.parse(r.value);
    if (e.type === 'wa.status' && e.provider === 'twilio' && e.provider_message_id) {
      applied.set(`${e.provider_message_id} ${e.status}`, r.ts);
    }
  }
  const ms = cbs.map((c) => applied.get(`${c.sid} ${c.status}`) - c.sentAtMs).map((x) => (Number.isNaN(x) ? Infinity : x));
  return { n: cbs.length, span: cbs.length ? (Math.max(...cbs.map((c) => c.sentAtMs)) - Math.min(...cbs.map((c) => c.sentAtMs))) / 1000 : 0, ms };
}

// The processes that take part, with their CPU per message (ms) from /proc.
const C_PROCS = ['ingress', 'router', 'sender-twilio', 'sender-baileys'];
const PROCS = [...C_PROCS, 'bridge', 'twilio-sim'];

async function steady(RATE, SECS, log = console.log) {
  await baileysUp();
  const tw = [], bl = [];
  // Contact i writes to number i % NUMBERS (the order of tw), so each number has its share.
  const per = await Promise.all(NUMBERS.map((n, j) => contactsOf(n, Math.ceil((CONTACTS - j) / NUMBERS.length))));
  for (let i = 0; i < CONTACTS; i++) {
    tw.push(per[i % NUMBERS.length][Math.floor(i / NUMBERS.length)]);
    bl.push(await baileysContact());
  }
  // Warm-up, not measured: after a cold start Kafka's coordinator needs a while before the
  // idempotent producers get their ids, and the first records wait for it.
  for (const to of [tw[0], bl[0]]) {
    const r = await send({ to, type: 'text', text: 'warm-up', idempotencyKey: key() });
    await waitMessage(r.json.id, 'the warm-up message sent', (x) => x.sentAtMs, { timeoutMs: 120000 });
  }
  const total = RATE * SECS;
  const started = new Map(); // body -> [provider, t0]
  const pending = [];
  const refused = new Map();
  const ps = processes(env.WA_STATE, PROCS);
  const stopCpu = measure(ps);
  const t0 = now();
  for (let i = 0; i < total; i++) {
    const due = t0 + (i * 1000) / RATE;
    const wait = due - now();
    if (wait > 0) await sleep(wait);
    const viaTwilio = i % 2 === 0;
    // The i-th request of each provider goes to its contact i % CONTACTS (so every Twilio number
    // has its share).
    const to = (viaTwilio ? tw : bl)[Math.floor(i / 2) % CONTACTS];
    const text = `bench ${t0.toFixed(0)} ${i}`;
    started.set(text, [viaTwilio ? 'twilio' : 'baileys', now()]);
    // A request the stack refuses (an answer but 202, or a connection closed when more than
    // INGRESS_MAX_CONNS_PER_IP wait at once) is counted and left out of the latencies.
    const refuse = (why) => {
      refused.set(why, (refused.get(why) ?? 0) + 1);
      started.delete(text);
    };
    pending.push(send({ to, type: 'text', text, idempotencyKey: key() }).then(
      (r) => { if (r.status !== 202) refuse(`HTTP ${r.status}`); },
      (e) => refuse(e.cause?.code ?? e.message),
    ));
  }
  await Promise.all(pending);
  if (refused.size) {
    const n = [...refused.values()].reduce((a, b) => a + b, 0);
    log(`!! ${n} of ${total} send requests refused: ${[...refused].map(([w, k]) => `${w} x${k}`).join(', ')}`);
  }
  const seen = new Map();
  const from = new Map(); // Twilio number -> messages sent from it
  // A sender that does not keep up leaves a backlog: what has not arrived 120 s after the last
  // request counts as later than everything (Infinity), and the line says how many.
  await waitFor('every message at its provider', async () => {
    for (const c of (await sim('/sim/calls')).calls) {
      if (c.params?.Body && started.has(c.params.Body) && !seen.has(c.params.Body)) {
        seen.set(c.params.Body, c.receivedAtMs);
        from.set(c.params.From, (from.get(c.params.From) ?? 0) + 1);
      }
    }
    for (const s of (await bridge('/dev/sent')).json.sent) {
      const t = s.content?.text;
      if (t && started.has(t)) seen.set(t, s.at);
    }
    return seen.size === started.size;
  }, { timeoutMs: 120000, everyMs: 1000 }).catch(() => {});
  const wall = (now() - t0) / 1000;
  const { cpu, rss } = await stopCpu();
  const lat = { twilio: [], baileys: [] };
  // The run in thirds, by when the request was made: a backlog that grows shows as later thirds
  // slower than the first.
  const thirds = [[], [], []];
  for (const [text, [p, t]] of started) {
    const ms = seen.has(text) ? seen.get(text) - t : Infinity;
    lat[p].push(ms);
    thirds[Math.min(2, Math.floor(((t - t0) / 1000 / SECS) * 3))].push(ms);
  }
  const late = started.size - seen.size;
  if (late) log(`!! ${late} of ${started.size} messages had not reached their provider 120 s after the last request`);
  log(`== outbound latency: POST /api/whatsapp/send -> provider call received (${RATE}/s for ${SECS} s, ` +
    `half to ${CONTACTS} Twilio contacts, half to ${CONTACTS} Baileys contacts)`);
  log(`twilio  (simulator received the Messages API call):   ${stats(lat.twilio)}`);
  log(`baileys (loopback bridge handed it to "WhatsApp"):    ${stats(lat.baileys)}`);
  log('(the bridge stamps its send with Date.now(): whole milliseconds)');
  const st = await statusLatency(t0);
  log(`status callbacks (delivered, read): ${st.n} in ${st.span.toFixed(0)} s (${(st.n / Math.max(st.span, 1)).toFixed(0)}/s; ` +
    `with \`sent\`, one more per message), simulator's POST -> the status's event published: ${stats(st.ms)}`);
  thirds.forEach((xs, i) => log(`both, requests of the run's ${['first', 'second', 'last'][i]} third: ${stats(xs)}`));
  log(`Twilio numbers (${NUMBERS.length}): ${[...from.values()].sort((a, b) => a - b).join(' ')} messages each`);
  // Until the last message arrived (or the wait gave up): the CPU of that span, per message sent.
  log(`CPU ms per message (${started.size} messages, ${wall.toFixed(1)} s from the first request to the last arrival; ` +
    'Postgres: all its backends; the status callbacks the simulator posts are included):');
  log('  ' + Object.entries(cpu).map(([k, ms]) => `${k} ${(ms / started.size).toFixed(3)}`).join(', '));
  // #13's target 6: each C process under 20 MB resident at load.
  log('peak RSS over the same span (MB, sampled every 0.2 s): ' +
    C_PROCS.filter((k) => rss[k]).map((k) => `${k} ${rss[k].toFixed(1)}`).join(', '));
}

async function failover() {
  const phone = await bothContact();
  const ms = [];
  for (let r = 0; r < RUNS; r++) {
    services('start', 'bridge');
    await baileysUp();
    services('kill9', 'bridge'); // returns once the process is gone
    const t0 = now();
    const text = `failover ${t0.toFixed(0)} ${r}`;
    const res = await send({ to: phone, type: 'text', text, idempotencyKey: key() });
    if (res.status !== 202) throw new Error(`send: ${res.status} ${res.text}`);
    const at = await waitFor('the Twilio call', async () => {
      const c = (await sim(`/sim/calls?to=${encodeURIComponent(phone)}`)).calls
        .find((x) => x.params?.Body === text);
      return c ? c.receivedAtMs : false;
    }, { everyMs: 5 });
    ms.push(at - t0);
  }
  services('start', 'bridge');
  console.log(`== failover: bridge killed (-9), then one send; until the simulator received the Twilio call (${RUNS} runs)`);
  console.log(`failover: ${stats(ms)}`);
  console.log(`runs: ${ms.map((x) => x.toFixed(0)).join(' ')}`);
}

// A broker started a moment ago runs its code interpreted for a while (the JVM's JIT), and the
// first run's first seconds paid for it: rounds of WARM_S seconds at the first rate first, not
// reported, until Kafka's compiler threads have settled.
if (WARM_S > 0) {
  const w = await warmBroker(env.WA_STATE, () => steady(RATES[0], WARM_S, () => {}));
  console.log(`warm-up: ${w.rounds} round(s) of ${WARM_S} s at ${RATES[0]}/s (${w.secs.toFixed(0)} s with their setup), ` +
    `until Kafka's JIT compiler threads used under 5 % of a core: ${(w.first * 100).toFixed(0)} % in the first, ` +
    `${(w.last * 100).toFixed(0)} % in the last\n`);
}
for (const rate of RATES) {
  await steady(rate, SECS);
  console.log();
}
if (RUNS > 0) await failover();
process.exit(0);
