// router.mjs - the router's capacity: a backlog of N signed Twilio webhooks (taken by ingress
// while the router is stopped), handled by a freshly started router. Reports records handled per
// second and the CPU each process spent per record. Run through bench/router.sh.
// KIND=inbound (the default): new inbound messages on wa.inbound, stored. KIND=status: Twilio's
// `read` status callbacks on wa.status, applied, for N outbound messages already in the CRM that
// have no `read` yet (earlier runs of make bench-sender leave them; each round takes new ones).
//
// VARIANTS='name=/bin/dir ...' compares routers of several builds side by side: each round
// drains one backlog per variant, the order alternating between rounds. ENV_<name>='K=V ...'
// gives one variant's router settings of its own (the same build with another DATABASE_URL, say).
import {
  sendInbound, services, metric, waitFor, env, root, routerUrl, q, ingressUrl, publicBase, token,
} from '../tests/e2e/lib.mjs';
import { postWebhook, statusParams } from '../sim/twilio/webhook.mjs';
import { processes, measure, variants, rounds, printMedians, peakRssMb } from './proc.mjs';

const N = Number(env.N ?? 20000);
const CONTACTS = Number(env.CONTACTS ?? 1000);
const ROUNDS = Number(env.ROUNDS ?? 1);
const VARIANTS = variants(env, root);
const CONCURRENCY = 64; // webhooks in flight while the backlog is made
const KIND = env.KIND ?? 'inbound';
if (!['inbound', 'status'].includes(KIND)) throw new Error(`KIND=${KIND}: inbound or status`);
const handled = KIND === 'inbound' ? 'wa_router_inbound_total{result="stored"}'
  : 'wa_router_status_total{result="applied"}';
const STATUS_PATH = '/api/whatsapp/twilio/status';

// One signed `read` callback, as Twilio posts it to the StatusCallback the sender gave.
async function readCallback(m) {
  const url = `${STATUS_PATH}?id=${m.id}`;
  const params = statusParams({ sid: m.sid, status: 'read', accountSid: env.TWILIO_ACCOUNT_SID,
    from: m.from, to: `whatsapp:${m.phone}` });
  return postWebhook({ targetUrl: ingressUrl + url, publicUrl: publicBase + url, authToken: token, params });
}

// The router stopped, N webhooks accepted by ingress: each 204 means Kafka has the record.
async function backlog(round) {
  services('stop', 'router');
  let post;
  if (KIND === 'inbound') {
    const prefix = `rb-${Date.now()}-${round}-`;
    // Spread over CONTACTS contacts, so the load uses every partition.
    post = (i) => sendInbound({ from: `+1555${String(3000000 + (i % CONTACTS)).padStart(7, '0')}`,
      body: `router bench ${prefix}${i}` });
  } else {
    const ms = await q(`select m.id, m.provider_message_id sid, c.phone,
        coalesce(m.payload ->> 'from', 'whatsapp:+14155238886') "from"
      from messages m join contacts c on c.id = m.contact_id
      where m.direction = 'outbound' and m.provider = 'twilio' and m.provider_message_id is not null
        and not exists (select 1 from message_statuses s where s.message_id = m.id and s.status = 'read')
      order by m.created_at desc limit $1`, [N]);
    if (ms.length < N) throw new Error(`only ${ms.length} sent Twilio messages without a read status: run make bench-sender first`);
    post = (i) => readCallback(ms[i]);
  }
  let next = 0;
  const poster = async () => {
    while (next < N) {
      const r = await post(next++);
      if (r.status !== 204) throw new Error(`webhook: ${r.status} ${r.body}`);
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, poster));
}

// Starts the variant's router on the backlog; from its first stored message to its N-th: the
// rate, and the CPU of each process.
async function drain(variant) {
  env.WA_BIN_DIR = variant.dir;
  // ENV_<variant>='NAME=value ...': settings of that variant's router only.
  const own = (env[`ENV_${variant.name}`] ?? '').split(/\s+/).filter(Boolean).map((kv) => kv.split(/=(.*)/s));
  const saved = own.map(([k]) => [k, env[k]]);
  for (const [k, v] of own) env[k] = v;
  services('start', 'router');
  for (const [k, v] of saved) if (v === undefined) delete env[k]; else env[k] = v;
  let t0, stop, ps;
  await waitFor('the first record handled', async () => {
    if ((await metric(routerUrl, handled)) > 0) {
      // Only now: the router's Postgres backend exists once it has connected, and a list taken
      // at its start could miss it (a status drain once showed Postgres at 0.002 ms a status).
      ps = processes(env.WA_STATE, ['router']);
      t0 = performance.now();
      stop = measure(ps);
      return true;
    }
    return false;
  }, { timeoutMs: 60000, everyMs: 5 });
  await waitFor('every record handled', async () => (await metric(routerUrl, handled)) >= N,
    { timeoutMs: 600000, everyMs: 20 });
  const secs = (performance.now() - t0) / 1000;
  const note = `router peak RSS ${peakRssMb(ps.router[0]).toFixed(1)} MB`;
  return { rate: N / secs, secs, ...(await stop()), note };
}

console.log(`== router: backlogs of ${N} ${KIND === 'inbound' ? 'inbound webhooks' : '`read` status callbacks'}, each handled by one freshly started router ` +
  `(${CONTACTS} contacts; ${ROUNDS} round(s), variants alternating)`);
const results = await rounds(VARIANTS, ROUNDS, N, KIND === 'inbound' ? 'messages' : 'statuses', async (v, r) => {
  await backlog(r);
  return drain(v);
});
printMedians(results, N, KIND === 'inbound' ? 'messages' : 'statuses');
delete env.WA_BIN_DIR;
process.exit(0);
