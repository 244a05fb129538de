// router.mjs - the router's inbound capacity: a backlog of N signed Twilio webhooks on wa.inbound
// (taken by ingress while the router is stopped), stored by a freshly started router. Reports
// messages stored per second and the CPU each process spent per message. Run through
// bench/router.sh.
//
// VARIANTS='name=/bin/dir ...' compares routers of several builds side by side: each round
// drains one backlog per variant, the order alternating between rounds.
import { sendInbound, services, metric, waitFor, env, root, routerUrl } from '../tests/e2e/lib.mjs';
import { processes, measure, variants, rounds, printMedians, peakRssMb } from './proc.mjs';

const N = Number(env.N ?? 20000);
const CONTACTS = Number(env.CONTACTS ?? 1000);
const ROUNDS = Number(env.ROUNDS ?? 1);
const VARIANTS = variants(env, root);
const CONCURRENCY = 64; // webhooks in flight while the backlog is made
const stored = 'wa_router_inbound_total{result="stored"}';

// The router stopped, N webhooks accepted by ingress: each 204 means Kafka has the record.
async function backlog(round) {
  services('stop', 'router');
  const prefix = `rb-${Date.now()}-${round}-`;
  let next = 0;
  const poster = async () => {
    while (next < N) {
      const i = next++;
      // Spread over CONTACTS contacts, so the load uses every partition.
      const from = `+1555${String(3000000 + (i % CONTACTS)).padStart(7, '0')}`;
      const r = await sendInbound({ from, body: `router bench ${prefix}${i}` });
      if (r.status !== 204) throw new Error(`webhook: ${r.status}`);
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, poster));
}

// Starts the variant's router on the backlog; from its first stored message to its N-th: the
// rate, and the CPU of each process.
async function drain(variant) {
  env.WA_BIN_DIR = variant.dir;
  services('start', 'router');
  const ps = processes(env.WA_STATE, ['router']);
  let t0, stop;
  await waitFor('the first message stored', async () => {
    if ((await metric(routerUrl, stored)) > 0) { t0 = performance.now(); stop = measure(ps); return true; }
    return false;
  }, { timeoutMs: 60000, everyMs: 5 });
  await waitFor('every message stored', async () => (await metric(routerUrl, stored)) >= N,
    { timeoutMs: 600000, everyMs: 20 });
  const secs = (performance.now() - t0) / 1000;
  const note = `router peak RSS ${peakRssMb(ps.router[0]).toFixed(1)} MB`;
  return { rate: N / secs, secs, ...(await stop()), note };
}

console.log(`== router: backlogs of ${N} inbound webhooks, each stored by one freshly started router ` +
  `(${CONTACTS} contacts; ${ROUNDS} round(s), variants alternating)`);
const results = await rounds(VARIANTS, ROUNDS, N, 'messages', async (v, r) => {
  await backlog(r);
  return drain(v);
});
printMedians(results, N, 'messages');
delete env.WA_BIN_DIR;
process.exit(0);
