// instances.test.mjs - several instances of a worker at once: what one contact sees stays in order.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import {
  sendInbound, uniquePhone, waitFor, messagesFor, services, topicRecords, db, routerUrl, metric,
} from './lib.mjs';

test.after(() => db.end());

test('two routers: each contact\'s events leave the outbox in the order they were written', async () => {
  // Only what the second router logs from now on counts (its log file outlives a run).
  const log = path.join(process.env.WA_STATE, 'log', 'router@2.log');
  const from = existsSync(log) ? statSync(log).size : 0;
  services('start', 'router@2');
  try {
    const second = `http://${process.env.ROUTER_LISTEN.replace(/:(\d+)$/, (_, p) => `:${Number(p) + 100}`)}`;
    // The group has rebalanced: the second router owns partitions of its own.
    await waitFor('the second router to get partitions', async () =>
      /kafka assigned partitions=[1-9]/.test(readFileSync(log, 'utf8').slice(from)), { timeoutMs: 30000 });
    const phones = Array.from({ length: 12 }, () => uniquePhone());
    const per = 60;
    let n = 0;
    const post = async (phone, i) => {
      const r = await sendInbound({ from: phone, body: `in order ${i}` });
      assert.equal(r.status, 204, r.body);
      n++;
    };
    // Interleaved across contacts, several at a time, so both routers commit and publish at once.
    for (let i = 0; i < per; i++) await Promise.all(phones.map((p) => post(p, i)));
    assert.equal(n, phones.length * per);
    for (const phone of phones) {
      await waitFor(`the ${per} messages of ${phone}`, async () => (await messagesFor(phone)).length === per,
        { timeoutMs: 60000, logs: ['router', 'router@2'] });
    }
    const stored = (base) => metric(base, 'wa_router_inbound_total{result="stored"}');
    assert.ok((await stored(routerUrl)) > 0 && (await stored(second)) > 0, 'both routers took part');
    const keys = new Set(phones.map((p) => p.slice(1)));
    await waitFor('every event published', async () => {
      const evs = (await topicRecords('wa.events')).filter((r) => keys.has(r.key));
      return evs.filter((r) => JSON.parse(r.value).type === 'wa.inbound').length >= phones.length * per;
    }, { timeoutMs: 30000 });
    const byKey = new Map();
    for (const r of await topicRecords('wa.events')) {
      if (!keys.has(r.key)) continue;
      const id = JSON.parse(r.value).id;
      if (!byKey.has(r.key)) byKey.set(r.key, []);
      byKey.get(r.key).push(id);
    }
    for (const [k, ids] of byKey) {
      // A republished event repeats an id; what matters is that none comes after a later one.
      const firsts = ids.filter((id, i) => ids.indexOf(id) === i);
      const sorted = [...firsts].sort((a, b) => a - b);
      assert.deepEqual(firsts, sorted, `events of ${k} out of order`);
    }
  } finally {
    services('stop', 'router@2');
  }
});
