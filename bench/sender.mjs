// sender.mjs - one sender process's capacity: a backlog of N routed commands, drained by a
// freshly started sender with pacing lifted. Reports sends/s and the CPU each process spent per
// message (from /proc, and pidstat's own figures). Run through bench/sender.sh.
//
// VARIANTS='name=/bin/dir ...' compares builds side by side: each round drains one backlog per
// variant (the order alternating between rounds), so a machine shared with other work weighs
// on each alike. Without VARIANTS: this tree's build/bin. SQL_<name>: a statement run before
// each of that variant's backlogs (its own schema, when the builds' migrations differ).
import {
  send, sim, twilioContact, baileysContact, services, metric, waitFor, env, q, root,
} from '../tests/e2e/lib.mjs';
import { processes, measure, variants, rounds, printMedians, peakRssMb } from './proc.mjs';

const SENDER = env.SENDER ?? 'twilio'; // twilio | baileys
const N = Number(env.N ?? 5000);
const CONTACTS = Number(env.CONTACTS ?? 300);
const ROUNDS = Number(env.ROUNDS ?? 1);
const CALLBACKS = env.CALLBACKS === '1'; // the simulator's three status callbacks per message
const VARIANTS = variants(env, root);
const CONCURRENCY = 64; // send requests in flight while the backlog is made
// The simulator's answer to each Messages create comes after this long (the API's round trip).
const LATENCY_MS = Number(env.SIM_LATENCY_MS ?? 0);
// LANES_<variant>: that variant's SENDER_WORKERS (the same build with more lanes, say).
const lanes0 = env.SENDER_WORKERS;
function lanesOf(variant) {
  const n = env[`LANES_${variant.name}`] ?? lanes0;
  if (n === undefined) delete env.SENDER_WORKERS;
  else env.SENDER_WORKERS = n;
}
const service = `sender-${SENDER}`;
const provider = SENDER === 'twilio' ? 'twilio-sim' : 'bridge';
const adminUrl = `http://${SENDER === 'twilio' ? env.SENDER_TWILIO_LISTEN : env.SENDER_BAILEYS_LISTEN}`;
const sentSample = `wa_sender_results_total{provider="${SENDER}",result="sent"}`;

async function contacts() {
  // After a cold start Kafka's coordinator needs a while before the idempotent producers get
  // their ids: the first contact may take longer than a test's wait.
  for (let i = 0; ; i++) {
    try { await (SENDER === 'twilio' ? twilioContact() : baileysContact()); break; } catch (e) { if (i === 7) throw e; }
  }
  const out = [];
  for (let i = 0; i < CONTACTS; i += 10) {
    const batch = Array.from({ length: Math.min(10, CONTACTS - i) }, () => (SENDER === 'twilio' ? twilioContact() : baileysContact()));
    out.push(...(await Promise.all(batch)));
  }
  return out;
}

// The sender stopped, N requests routed and their commands published: the backlog.
async function backlog(phones) {
  services('stop', service);
  const prefix = `cap-${Date.now()}-`;
  let next = 0;
  const sender = async () => {
    while (next < N) {
      const i = next++;
      // Forced to the sender's provider: with sender-baileys stopped the router would otherwise
      // see Baileys down and route to Twilio.
      const r = await send({ to: phones[i % phones.length], type: 'text', text: `capacity ${prefix}${i}`,
        idempotencyKey: `${prefix}${i}`, provider: SENDER });
      if (r.status !== 202) throw new Error(`send: ${r.status} ${r.text}`);
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, sender));
  await waitFor('the backlog routed and its commands published', async () => {
    const [{ n }] = await q(`select count(*)::int n from messages where idempotency_key like $1 and status = 'queued' and provider = $2`, [`${prefix}%`, SENDER]);
    const [{ u }] = await q('select count(*)::int u from outbox where published_at is null');
    return n === N && u === 0;
  }, { timeoutMs: 300000, everyMs: 200 });
}

// Starts the variant's sender on the backlog; from its first send to its N-th: the rate, the CPU
// of each process, and pidstat's per-second figures summed by command and averaged.
async function drain(variant) {
  env.WA_BIN_DIR = variant.dir;
  lanesOf(variant);
  services('start', service);
  const before = 0; // a new process: its counter starts at 0 (it may have sent some already)
  const ps = processes(env.WA_STATE, [service, 'router', provider]);
  let t0, stop;
  await waitFor('the first send', async () => {
    if ((await metric(adminUrl, sentSample)) > before) { t0 = performance.now(); stop = measure(ps); return true; }
    return false;
  }, { timeoutMs: 60000, everyMs: 5 });
  await waitFor('every message sent', async () => (await metric(adminUrl, sentSample)) - before >= N,
    { timeoutMs: 600000, everyMs: 20 });
  const secs = (performance.now() - t0) / 1000;
  const note = `${service} peak RSS ${peakRssMb(ps[service][0]).toFixed(1)} MB`;
  return { rate: N / secs, secs, ...(await stop()), note };
}

const phones = await contacts();
await sim('/sim/config', { callbacks: CALLBACKS, createLatencyMs: LATENCY_MS });
if (SENDER === 'twilio') env.TWILIO_RATE_PER_SECOND = '10000'; // pacing lifted (the bridge's: sender.sh)
console.log(`== ${service}: backlogs of ${N} routed commands, each drained by one freshly started process ` +
  `(${CONTACTS} contacts; pacing lifted; simulator callbacks ${CALLBACKS ? 'on' : 'off'}; ` +
  `SENDER_WORKERS ${env.SENDER_WORKERS ?? 'as each build defaults'}` +
  `${VARIANTS.filter((v) => env[`LANES_${v.name}`]).map((v) => `, ${env[`LANES_${v.name}`]} for ${v.name}`).join('')}; ` +
  `each Twilio call answered after ${LATENCY_MS} ms; ${ROUNDS} round(s), variants alternating)`);
const results = await rounds(VARIANTS, ROUNDS, N, 'sends', async (v) => {
  if (env[`SQL_${v.name}`]) await q(env[`SQL_${v.name}`]);
  await backlog(phones);
  return drain(v);
});
printMedians(results, N, 'sends');
await sim('/sim/config', { callbacks: true });
delete env.WA_BIN_DIR;
lanesOf({ name: '' });
process.exit(0);
