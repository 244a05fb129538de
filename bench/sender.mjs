// sender.mjs - one sender process's capacity: a backlog of N routed commands, drained by a
// freshly started sender with pacing lifted. Reports sends/s and the CPU each process spent per
// message (from /proc, and pidstat's own figures). Run through bench/sender.sh.
//
// VARIANTS='name=/bin/dir ...' compares builds side by side: each round drains one backlog per
// variant (the order alternating between rounds), so a machine shared with other work weighs
// on each alike. Without VARIANTS: this tree's build/bin. SQL_<name>: a statement run before
// each of that variant's backlogs (its own schema, when the builds' migrations differ).
import fs from 'node:fs';
import { spawn } from 'node:child_process';
import {
  send, sim, twilioContact, baileysContact, services, metric, waitFor, env, q, root,
} from '../tests/e2e/lib.mjs';
import { readPid, cpuMs } from './proc.mjs';

const SENDER = env.SENDER ?? 'twilio'; // twilio | baileys
const N = Number(env.N ?? 5000);
const CONTACTS = Number(env.CONTACTS ?? 300);
const ROUNDS = Number(env.ROUNDS ?? 1);
const CALLBACKS = env.CALLBACKS === '1'; // the simulator's three status callbacks per message
const VARIANTS = (env.VARIANTS ?? `this=${root}/build/bin`).split(/\s+/).filter(Boolean)
  .map((v) => { const i = v.indexOf('='); return { name: v.slice(0, i), dir: v.slice(i + 1) }; });
const CONCURRENCY = 64; // send requests in flight while the backlog is made
const service = `sender-${SENDER}`;
const provider = SENDER === 'twilio' ? 'twilio-sim' : 'bridge';
const adminUrl = `http://${SENDER === 'twilio' ? env.SENDER_TWILIO_LISTEN : env.SENDER_BAILEYS_LISTEN}`;
const sentSample = `wa_sender_results_total{provider="${SENDER}",result="sent"}`;

// The processes that take part, by name: their living pids now.
function processes() {
  const run = `${env.WA_STATE}/run`;
  const ps = {
    [service]: [readPid(`${run}/${service}.pid`)],
    router: [readPid(`${run}/router.pid`)],
    [provider]: [readPid(`${run}/${provider}.pid`)],
    kafka: [readPid(`${env.WA_STATE}/kafka.pid`)],
  };
  // Postgres: the postmaster and every backend (one per connection).
  const pm = readPid(`${env.WA_STATE}/pg/postmaster.pid`);
  const kids = fs.readFileSync(`/proc/${pm}/task/${pm}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  ps.postgres = [pm, ...kids];
  for (const k of Object.keys(ps)) {
    ps[k] = ps[k].filter((pid) => pid && fs.existsSync(`/proc/${pid}`));
    if (!ps[k].length) delete ps[k];
  }
  return ps;
}

const cpuOf = (ps) => Object.fromEntries(Object.entries(ps).map(([k, pids]) => [k, pids.reduce((a, p) => a + cpuMs(p), 0)]));

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
  services('start', service);
  const before = 0; // a new process: its counter starts at 0 (it may have sent some already)
  const ps = processes();
  let cpu0, t0;
  await waitFor('the first send', async () => {
    if ((await metric(adminUrl, sentSample)) > before) { t0 = performance.now(); cpu0 = cpuOf(ps); return true; }
    return false;
  }, { timeoutMs: 60000, everyMs: 5 });
  const pidstat = spawn('pidstat', ['-u', '-h', '-p', Object.values(ps).flat().join(','), '1'], { stdio: ['ignore', 'pipe', 'ignore'] });
  let out = '';
  pidstat.stdout.on('data', (d) => { out += d; });
  const closed = new Promise((r) => pidstat.on('close', r));
  await waitFor('every message sent', async () => (await metric(adminUrl, sentSample)) - before >= N,
    { timeoutMs: 600000, everyMs: 20 });
  const secs = (performance.now() - t0) / 1000;
  const cpu1 = cpuOf(ps);
  pidstat.kill('SIGINT');
  await closed;
  const cpu = Object.fromEntries(Object.keys(ps).map((k) => [k, cpu1[k] - cpu0[k]]));
  // pidstat: Time UID PID %usr %system %guest %wait %CPU CPU Command, one line per pid and second.
  const lines = out.split('\n').filter((l) => /^\s*\d/.test(l)).map((l) => l.trim().split(/\s+/));
  const samples = new Set(lines.map((f) => f[0])).size || 1;
  const pid2name = new Map(Object.entries(ps).flatMap(([k, pids]) => pids.map((p) => [String(p), k])));
  const pidstatAvg = {};
  for (const f of lines) {
    const a = (pidstatAvg[pid2name.get(f[2]) ?? f[9]] ??= { usr: 0, sys: 0, wait: 0 });
    a.usr += Number(f[3]) / samples; a.sys += Number(f[4]) / samples; a.wait += Number(f[6]) / samples;
  }
  return { rate: N / secs, secs, cpu, pidstat: pidstatAvg };
}

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor((s.length - 1) / 2)]; };

const phones = await contacts();
await sim('/sim/config', { callbacks: CALLBACKS });
if (SENDER === 'twilio') env.TWILIO_RATE_PER_SECOND = '10000'; // pacing lifted (the bridge's: sender.sh)
const results = Object.fromEntries(VARIANTS.map((v) => [v.name, []]));
console.log(`== ${service}: backlogs of ${N} routed commands, each drained by one freshly started process ` +
  `(${CONTACTS} contacts; pacing lifted; simulator callbacks ${CALLBACKS ? 'on' : 'off'}; ` +
  `SENDER_WORKERS ${env.SENDER_WORKERS ?? 'as each build defaults'}; ${ROUNDS} round(s), variants alternating)`);
for (let r = 0; r < ROUNDS; r++) {
  const order = r % 2 ? [...VARIANTS].reverse() : VARIANTS;
  for (const v of order) {
    if (env[`SQL_${v.name}`]) await q(env[`SQL_${v.name}`]);
    await backlog(phones);
    const x = await drain(v);
    results[v.name].push(x);
    const per = Object.entries(x.cpu).map(([k, ms]) => `${k} ${(ms / N).toFixed(3)}`).join(', ');
    console.log(`round ${r + 1} ${v.name.padEnd(8)} ${x.rate.toFixed(0).padStart(5)} sends/s (${x.secs.toFixed(2)} s); ` +
      `CPU ms/message: ${per}`);
  }
}
console.log('\nmedians over the rounds (CPU: ms per message, and the share of one core during the drain;' +
  ' pidstat: %usr+%system, and %wait = runnable but waiting for a CPU):');
for (const v of VARIANTS) {
  const xs = results[v.name];
  console.log(`${v.name}: ${median(xs.map((x) => x.rate)).toFixed(0)} sends/s`);
  for (const k of Object.keys(xs[0].cpu)) {
    const ms = median(xs.map((x) => x.cpu[k] / N));
    const core = median(xs.map((x) => x.cpu[k] / 10 / x.secs));
    const p = xs.map((x) => x.pidstat[k]).filter(Boolean);
    const ps = p.length ? `   pidstat %usr+%sys ${median(p.map((a) => a.usr + a.sys)).toFixed(1).padStart(5)}` +
      `  %wait ${median(p.map((a) => a.wait)).toFixed(1).padStart(5)}` : '';
    console.log(`  ${k.padEnd(15)} ${ms.toFixed(3)} ms/message  ${core.toFixed(0).padStart(4)} % of a core${ps}`);
  }
}
await sim('/sim/config', { callbacks: true });
delete env.WA_BIN_DIR;
process.exit(0);
