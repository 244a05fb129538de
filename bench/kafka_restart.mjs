// kafka_restart.mjs - recovery after a broker restart: stop Kafka, start it again, then time a
// webhook from its first 204 to its CRM row. Shows how long the router's group takes to rejoin.
// Run through bench/kafka_restart.sh (`make bench-kafka-restart`), which starts the stack.
import {
  sendInbound, uniquePhone, waitFor, messagesFor, stack, db, inboundParams, env,
} from '../tests/e2e/lib.mjs';

const RUNS = Number(env.RUNS ?? 10);
const DOWN_S = Number(env.DOWN_S ?? 0); // extra seconds with the broker stopped

function stats(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const at = (p) => s[Math.min(s.length - 1, Math.floor(p * s.length))];
  return `n=${s.length} p50=${at(0.5)} p90=${at(0.9)} max=${s[s.length - 1]} ms`;
}

const rows = [];
for (let i = 0; i < RUNS; i++) {
  const t0 = Date.now();
  stack('kafka-stop');
  if (DOWN_S) await new Promise((r) => setTimeout(r, DOWN_S * 1000));
  const t1 = Date.now();
  stack('kafka-start');
  const t2 = Date.now();
  const phone = uniquePhone();
  const params = inboundParams({ from: phone, body: 'after a broker restart' });
  // A socket kept alive across the restart may be closed under us: that try failed, retry.
  await waitFor('a 204', async () => {
    try { return (await sendInbound({ params })).status === 204; } catch { return false; }
  }, { timeoutMs: 60000, everyMs: 200 });
  const t3 = Date.now();
  await waitFor('the CRM row', async () => (await messagesFor(phone)).length === 1,
    { timeoutMs: 120000, everyMs: 100, logs: ['router'] });
  const t4 = Date.now();
  rows.push(t4 - t3);
  console.log(`run ${i + 1}: broker down ${t2 - t0} ms (stop ${t1 - t0} ms), first 204 after ${t3 - t2} ms, ` +
    `CRM row ${t4 - t3} ms after the 204`);
}
console.log(`\nfrom the first accepted webhook to its CRM row: ${stats(rows)}`);
await db.end();
