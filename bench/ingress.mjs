// ingress.mjs - ingress alone: signed Twilio webhooks from wrk (-t2 -cCONNS, SECS s a run), each
// 204 backed by Kafka's acknowledgement. Reports webhooks/s, wrk's latency, and the CPU ingress
// and Kafka spent per webhook. Run through bench/ingress.sh, which points ingress's inbound
// topic at a topic of the benchmark's own: no router reads it, so nothing is stored and no
// backlog is left behind for the CRM.
//
// VARIANTS='name=/bin/dir ...' compares builds side by side, the order alternating between rounds.
import { spawnSync } from 'node:child_process';
import { services, env, root, ingressUrl, sleep } from '../tests/e2e/lib.mjs';
import { processes, measure, variants, rounds, printMedians, peakRssMb } from './proc.mjs';

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
  const res = {
    requests: num(/requests=(\d+)/), errors: num(/errors_status=(\d+)/) + num(/timeouts=(\d+)/) +
      num(/errors_connect=(\d+)/) + num(/errors_read=(\d+)/),
    p50: num(/latency_us p50=(\d+)/) / 1000, p99: num(/p99=(\d+)/) / 1000, max: num(/max=(\d+)/) / 1000,
  };
  if (!(res.requests > 0)) throw new Error(`wrk said: ${r.stdout}`);
  return res;
}

// The variant's ingress, started afresh, warmed for 3 s, then SECS s of load measured.
async function run(variant) {
  services('stop', 'ingress');
  env.WA_BIN_DIR = variant.dir;
  services('start', 'ingress');
  wrk(3);
  await sleep(500);
  const ps = processes(env.WA_STATE, ['ingress']);
  delete ps.postgres; // ingress does not touch it on this path
  const stop = measure(ps);
  const t0 = performance.now();
  const w = wrk(SECS);
  const secs = (performance.now() - t0) / 1000;
  const m = await stop();
  const note = `p50 ${w.p50.toFixed(1)} ms, p99 ${w.p99.toFixed(1)} ms, max ${w.max.toFixed(0)} ms, ` +
    `${w.errors} errors; ingress peak RSS ${peakRssMb(ps.ingress[0]).toFixed(1)} MB`;
  return { rate: w.requests / secs, secs, cpu: m.cpu, pidstat: m.pidstat, note, n: w.requests };
}

console.log(`== ingress alone: signed Twilio webhooks, wrk -t2 -c${CONNS} for ${SECS} s a run ` +
  `(each after 3 s of warm-up, and 10 s for the broker first), each 204 backed by a Kafka ack; ` +
  `${ROUNDS} round(s), variants alternating`);
// A broker started a moment ago runs its code interpreted for a while (the JVM's JIT): 10 s of
// load first, not reported, as make bench does.
wrk(10);
const results = await rounds(VARIANTS, ROUNDS, 0, 'webhooks', (v) => run(v));
printMedians(results, 0, 'webhooks');
delete env.WA_BIN_DIR;
services('stop', 'ingress');
services('start', 'ingress');
process.exit(0);
