// dashboard.mjs - the dashboard under load: the timeline API with 10,000 messages on one lead and
// 100,000 in the CRM, and server-sent events fanned out to many connections.
// Run through bench/dashboard.sh (`make bench-dashboard`), which starts the stack.
import { performance } from 'node:perf_hooks';
import { execFile } from 'node:child_process';
import { q, env, sleep } from '../tests/e2e/lib.mjs';
import { readPid, peakRssMb } from './proc.mjs';

const base = `http://${env.DASHBOARD_LISTEN}`;
const auth = { Authorization: `Bearer ${env.DASHBOARD_TOKEN}` };
const REQUESTS = Number(env.REQUESTS ?? 2000);
const CLIENTS = Number(env.CLIENTS ?? 100);
const EVENTS = Number(env.EVENTS ?? 2000);
const now = () => performance.timeOrigin + performance.now();

function stats(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const at = (p) => s[Math.min(s.length - 1, Math.floor(p * s.length))];
  return `n=${s.length} p50=${at(0.5).toFixed(1)} p90=${at(0.9).toFixed(1)} p99=${at(0.99).toFixed(1)} max=${s[s.length - 1].toFixed(1)} ms`;
}

// 100,000 messages, 10,000 of them on one lead (SQL: the write path is measured elsewhere).
const phone = `+1555${Math.floor(1e6 + Math.random() * 8.9e6)}`;
const [{ id: lead }] = await q(`insert into contacts (phone, profile_name, last_inbound_at,
  last_inbound_provider, last_message_at) values ($1, 'Bench Lead', now(), 'twilio', now()) returning id`, [phone]);
const existing = (await q('select count(*)::int n from messages'))[0].n;
await q(`insert into messages (contact_id, direction, provider, provider_message_id, type, body, status,
    payload, provider_ts)
  select $1::bigint, case when i % 2 = 0 then 'inbound' else 'outbound' end, case when i % 3 = 0 then 'baileys' else 'twilio' end,
    'bench-' || $1::text || '-' || i, 'text', 'message ' || i, 'read', '{}'::jsonb,
    now() - (10000 - i) * interval '1 second' from generate_series(1, 10000) i`, [lead]);
const others = Math.max(0, 100000 - existing - 10000);
if (others > 0) {
  await q(`insert into contacts (phone) select '+1556' || lpad(i::text, 7, '0') from generate_series(1, 1000) i
    on conflict do nothing`);
  await q(`insert into messages (contact_id, direction, provider, provider_message_id, type, body, status, payload, provider_ts)
    select c.id, 'inbound', 'twilio', 'bench-o-' || g.i, 'text', 'x', 'received', '{}'::jsonb, now() - g.i * interval '1 second'
    from generate_series(1, $1::integer) g(i) join contacts c on c.phone = '+1556' || lpad((1 + g.i % 1000)::text, 7, '0')`,
  [others]);
}
await q('analyze messages');
const total = (await q('select count(*)::int n from messages'))[0].n;
console.log(`== timeline API: GET /api/leads/{id}/messages?limit=50 on a lead with 10,000 messages; ${total} messages in the CRM`);

// Walk the whole timeline by cursor (200 pages), then random first pages, one request at a time.
const first = [], deep = [];
let cursor = null;
for (let page = 0; page < 200; page++) {
  const t0 = now();
  const r = await fetch(`${base}/api/leads/${lead}/messages?limit=50${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
    { headers: auth });
  const j = await r.json();
  deep.push(now() - t0);
  cursor = j.next;
  if (!cursor) break;
}
for (let i = 0; i < REQUESTS; i++) {
  const t0 = now();
  const r = await fetch(`${base}/api/leads/${lead}/messages?limit=50`, { headers: auth });
  await r.arrayBuffer();
  first.push(now() - t0);
}
const leads = [];
for (let i = 0; i < 200; i++) {
  const t0 = now();
  await (await fetch(`${base}/api/leads?limit=50`, { headers: auth })).arrayBuffer();
  leads.push(now() - t0);
}
console.log(`first page, ${REQUESTS} requests:        ${stats(first)}`);
console.log(`every page by cursor (${deep.length} pages): ${stats(deep)}`);
console.log(`GET /api/leads?limit=50, 200 requests:  ${stats(leads)}`);
console.log();

// SSE fan-out: CLIENTS connections; EVENTS records written to wa.events, each carrying its time.
const delays = [];
let delivered = 0;
const ctl = new AbortController();
const tag = `bench-${Date.now()}`;
await Promise.all(Array.from({ length: CLIENTS }, async () => {
  const res = await fetch(`${base}/api/events`, { headers: auth, signal: ctl.signal });
  (async () => {
    const reader = res.body.getReader();
    let buf = '';
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        buf += Buffer.from(value).toString('utf8');
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const line = block.split('\n').find((l) => l.startsWith('data: '));
          if (!line || !line.includes(tag)) continue;
          const ev = JSON.parse(line.slice(6));
          delays.push(now() - ev.sent_ms);
          delivered++;
        }
      }
    } catch { /* aborted */ }
  })();
}));
await sleep(4000); // every connection is in, and the consumer has its partitions
const lines = Array.from({ length: EVENTS }, (_, i) => `k${i % 6}\t${JSON.stringify({ v: 1, type: 'bench',
  provider: 'none', tag, i, sent_ms: 0 })}`);
const t0 = now();
// One kcat per batch of 100, stamping sent_ms just before producing.
for (let b = 0; b < EVENTS; b += 100) {
  const chunk = lines.slice(b, b + 100).map((l) => l.replace('"sent_ms":0', `"sent_ms":${now()}`)).join('\n') + '\n';
  await new Promise((resolve, reject) => {
    const p = execFile('kcat', ['-b', env.KAFKA_BROKERS, '-P', '-t', 'wa.events', '-K', '\t'], (e) => (e ? reject(e) : resolve()));
    p.stdin.end(chunk);
  });
}
const want = EVENTS * CLIENTS;
const deadline = now() + 60000;
while (delivered < want && now() < deadline) await sleep(50);
const secs = (now() - t0) / 1000;
ctl.abort();
console.log(`== live events: ${CLIENTS} connections to /api/events; ${EVENTS} events written to wa.events with kcat`);
console.log(`delivered ${delivered} of ${want} (${(delivered / secs).toFixed(0)} events/s to all connections together, ${secs.toFixed(1)} s)`);
console.log(`delay, written -> received by a connection: ${stats(delays)}`);
// #13's target 6: under 20 MB resident at load (VmHWM: the peak since it started, both parts).
console.log(`dashboard peak RSS: ${peakRssMb(readPid(`${env.WA_STATE}/run/dashboard.pid`)).toFixed(1)} MB`);
process.exit(0);
