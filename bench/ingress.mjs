// ingress.mjs - ingress alone: signed Twilio webhooks from wrk (-t2 -cCONNS, SECS s a run), each
// 204 backed by Kafka's acknowledgement. Reports webhooks/s, wrk's latency, and the CPU ingress
// and Kafka spent per webhook. Run through bench/ingress.sh, which points ingress's inbound
// topic at a topic of the benchmark's own: no router reads it, so nothing is stored and no
// backlog is left behind for the CRM.
//
// VARIANTS='name=/bin/dir ...' compares builds side by side, the order alternating between rounds.
// The variant whose dir is `peer` is not a build but bench/peer/server.mjs, the Express peer of
// #13's target 6, started in ingress's place on its port.
import { spawn, spawnSync } from 'node:child_process';
import { services, env, root, ingressUrl, sleep } from '../tests/e2e/lib.mjs';
import { processes, measure, variants, rounds, printMedians, peakRssMb, median, warmBroker } from './proc.mjs';

const SECS = Number(env.SECS ?? 15);
const CONNS = Number(env.CONNS ?? 64);
const ROUNDS = Number(env.ROUNDS ?? 1);
const VARIANTS = variants(env, root);
const REQUESTS = env.WA_BENCH_REQUESTS; // gen_requests.mjs's output, made by ingress.sh

function wrk(secs) {
  const r = spawnSync('wrk', ['-t2', `-c${CONNS}`, `-d${secs}s`, '--latency', '-s', `${root}/bench/wrk_twilio.lua`,
    `${ingressUrl}/api/whatsapp/twilio`], { env: { ...env, WA_BENCH_REQUESTS: REQUESTS }, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`wrk: ${r.stderr}`);
  const num = (re) => Number(re.exec(r.stdout)?.[1] ?? NaN);
  const kinds = { status: num(/errors_status=(\d+)/), timeout: num(/timeouts=(\d+)/),
    connect: num(/errors_connect=(\d+)/), read: num(/errors_read=(\d+)/) };
  const res = {
    requests: num(/requests=(\d+)/), errors: Object.values(kinds).reduce((a, x) => a + x, 0),
    // Which kind, when there were any: an answer but 2xx, a wrk timeout, a refused connect, a read error.
    kinds: Object.entries(kinds).filter(([, x]) => x).map(([k, x]) => `${x} ${k}`).join(', '),
    p50: num(/latency_us p50=(\d+)/) / 1000, p99: num(/p99=(\d+)/) / 1000, max: num(/max=(\d+)/) / 1000,
  };
  if (!(res.requests > 0)) throw new Error(`wrk said: ${r.stdout}`);
  // A server that refuses quickly is not fast: a run with refusals is no measurement.
  if (res.errors > res.requests / 1000) throw new Error(`${res.errors} of ${res.requests} requests failed: ${r.stdout}`);
  return res;
}

// The Express peer on ingress's port, once it listens.
async function startPeer() {
  const p = spawn('node', [`${root}/bench/peer/server.mjs`], {
    env: { ...env, PORT: new URL(ingressUrl).port, PEER_TOPIC: env.INGRESS_TOPIC_INBOUND },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise((resolve, reject) => {
    p.stdout.on('data', (d) => { if (/listening/.test(d)) resolve(); });
    p.on('exit', (code) => reject(new Error(`the peer exited (${code}) before it listened`)));
  });
  return p;
}

// The variant's ingress (or the peer), started afresh, warmed for 3 s, then SECS s of load measured.
async function run(variant) {
  services('stop', 'ingress');
  let peer;
  if (variant.dir === 'peer') {
    peer = await startPeer();
  } else {
    env.WA_BIN_DIR = variant.dir;
    services('start', 'ingress');
  }
  wrk(3);
  await sleep(500);
  const ps = processes(env.WA_STATE, peer ? [] : ['ingress']);
  if (peer) ps.peer = [peer.pid];
  delete ps.postgres; // ingress does not touch it on this path
  const stop = measure(ps);
  const t0 = performance.now();
  const w = wrk(SECS);
  const secs = (performance.now() - t0) / 1000;
  const m = await stop();
  const note = `p50 ${w.p50.toFixed(1)} ms, p99 ${w.p99.toFixed(1)} ms, max ${w.max.toFixed(0)} ms, ` +
    `${w.errors} errors${w.errors ? ` (${w.kinds})` : ''}; ${peer ? 'the peer\'s' : 'ingress'} peak RSS ${peakRssMb((ps.peer ?? ps.ingress)[0]).toFixed(1)} MB`;
  if (peer) {
    const exited = new Promise((r) => peer.on('exit', r));
    peer.kill();
    await exited;
  }
  return { rate: w.requests / secs, secs, cpu: m.cpu, pidstat: m.pidstat, note, n: w.requests };
}

// Everything ever written to topic: its partitions' end offsets, summed (kcat -Q, -1 = the end).
function written(topic) {
  const kcat = (args) => spawnSync('kcat', ['-b', env.KAFKA_BROKERS, ...args], { encoding: 'utf8', timeout: 30000 }).stdout ?? '';
  const parts = [...kcat(['-L', '-t', topic]).matchAll(/partition (\d+),/g)].map((m) => m[1]);
  if (!parts.length) throw new Error(`kcat found no partitions of ${topic}`);
  return [...kcat(['-Q', ...parts.flatMap((p) => ['-t', `${topic}:${p}:-1`])]).matchAll(/offset (\d+)/g)]
    .reduce((a, m) => a + Number(m[1]), 0);
}
// The webhooks go to bench.ingress: none may reach wa.inbound, where the next start's router
// would take them all for the CRM.
const inbound0 = written('wa.inbound');

console.log(`== ingress alone: signed Twilio webhooks, wrk -t2 -c${CONNS} for ${SECS} s a run ` +
  `(each after 3 s of warm-up; the broker warmed first), each 204 backed by a Kafka ack; ` +
  `${ROUNDS} round(s), variants alternating`);
// A broker started a moment ago runs its code interpreted for a while (the JVM's JIT): rounds of
// 10 s of load first, not reported, until its compiler threads have settled.
const warm = await warmBroker(env.WA_STATE, async () => wrk(10));
console.log(`warm-up: ${warm.rounds} round(s) of 10 s, until Kafka's JIT compiler threads used under 5 % of a core ` +
  `(${(warm.first * 100).toFixed(0)} % in the first, ${(warm.last * 100).toFixed(0)} % in the last)`);
const results = await rounds(VARIANTS, ROUNDS, 0, 'webhooks', (v) => run(v));
printMedians(results, 0, 'webhooks');
const peerName = VARIANTS.find((v) => v.dir === 'peer')?.name;
if (peerName) {
  const med = (name) => median(results[name].map((x) => x.rate));
  for (const v of VARIANTS.filter((x) => x.dir !== 'peer')) {
    console.log(`${v.name} against the Express peer: ${(med(v.name) / med(peerName)).toFixed(1)} times its rate (target: at least 6)`);
  }
}
const leaked = written('wa.inbound') - inbound0;
if (leaked) {
  console.log(`!! ${leaked} records reached wa.inbound during the benchmark`);
}
delete env.WA_BIN_DIR;
services('stop', 'ingress');
services('start', 'ingress');
process.exit(leaked ? 1 : 0);
