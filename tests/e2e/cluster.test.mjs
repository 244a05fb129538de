// cluster.test.mjs - a broker lost from a real cluster loses nothing (issue #11, point 10).
// Three KRaft brokers, every topic with replication 3 and min.insync.replicas 2, every producer
// idempotent with acks=all: one broker is killed with kill -9 under mixed load and restarted. Each
// accepted inbound message is stored once, each accepted send reaches its provider once.
// scripts/e2e.sh runs this file on a three-broker stack of its own (WA_KAFKA_NODES=3).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  env, db, q, sleep, waitFor, uniquePhone, inboundParams, sendInbound, messagesFor, inboundBarrier,
  bridge, bridgeUrl, bridgeSent, send, waitMessage, simCalls, key, twilioContact, baileysContact,
  baileysUp, counterFrom, senderTwilioUrl, senderBaileysUrl, metric, topicRecords, services,
  stackAsync, kafkaMetadata,
} from './lib.mjs';

const skip = env.KAFKA_BROKERS.split(',').length < 3
  && 'needs a three-broker Kafka: scripts/e2e.sh runs this file with WA_KAFKA_NODES=3';

test.after(() => db.end());

const ourTopics = (md) => md.topics.filter((t) => t.topic.startsWith('wa.'));

// The broker whose loss moves the most leaders of our topics (the lowest id among equals).
function busiestLeader(md) {
  const led = new Map(md.brokers.map((b) => [b.id, 0]));
  for (const t of ourTopics(md)) for (const p of t.partitions) led.set(p.leader, led.get(p.leader) + 1);
  return [...led].sort((a, b) => b[1] - a[1] || a[0] - b[0])[0][0];
}

const outOfSync = (md) => ourTopics(md).flatMap((t) => t.partitions
  .filter((p) => p.isrs.length < p.replicas.length).map((p) => `${t.topic}[${p.partition}]`));

// Repeats one request as its real sender would (Twilio redelivers a webhook, a client repeats a
// send with its key) while the answer says "try again"; any other refusal fails the test.
async function untilAccepted(what, attempt, accepted, stats) {
  const end = Date.now() + 90000;
  for (;;) {
    let r;
    try {
      r = await attempt();
    } catch (e) {
      r = { status: 0, text: e.message }; // a connection reset: retried like a 503
    }
    if (accepted(r.status)) return r;
    if (r.status !== 503 && r.status !== 0) throw new Error(`${what}: refused ${r.status} ${r.text ?? r.body}`);
    stats.retried++;
    if (Date.now() > end) throw new Error(`${what}: still refused after 90 s (${r.status})`);
    await sleep(250);
  }
}

// Runs body(i) for i = 0, 1, ... until stop.now; a failure stops every loop.
function loop(stop, pauseMs, body) {
  return (async () => {
    try {
      for (let i = 0; !stop.now; i++) {
        await body(i);
        await sleep(pauseMs);
      }
    } catch (e) {
      stop.now = true;
      throw e;
    }
  })();
}

test('kill -9 of one broker of three under mixed load, then a restart: nothing lost, nothing doubled',
  { skip }, async (t) => {
    // The cluster is what this file says it is.
    const md = await kafkaMetadata();
    assert.equal(md.brokers.length, 3, 'three brokers');
    for (const topic of ourTopics(md)) {
      for (const p of topic.partitions) assert.equal(p.replicas.length, 3, `${topic.topic}[${p.partition}] replicas`);
    }
    const heads = (await stackAsync('kafka-describe')).split('\n').filter((l) => l.startsWith('Topic:'));
    assert.equal(heads.length, 9, 'kafka-describe lists our 9 topics');
    for (const h of heads) assert.match(h, /min\.insync\.replicas=2\b/, h);
    assert.deepEqual(outOfSync(md), [], 'every replica in sync before the test');

    await baileysUp();
    const twilioTo = await twilioContact();
    const baileysTo = await baileysContact();
    const twilioResults = await counterFrom(senderTwilioUrl, 'wa_sender_results_total{provider="twilio"');
    const baileysResults = await counterFrom(senderBaileysUrl, 'wa_sender_results_total{provider="baileys"');

    // Mixed load, one loop per contact, so each contact's records keep their order on one partition.
    const stats = { retried: 0 };
    const twilioIn = [uniquePhone(), uniquePhone()].map((phone) => ({ phone, ids: [] }));
    const baileysIn = [uniquePhone(), uniquePhone()].map((phone) => ({ phone, ids: [] }));
    // Modest rates (about 30 requests/s in all): two cores also carry three brokers and every service.
    const sends = [{ to: twilioTo, via: 'twilio', pauseMs: 150, out: [] },
      { to: baileysTo, via: 'baileys', pauseMs: 300, out: [] }]; // the bridge takes 5 sends/s
    const stop = { now: false };
    const loops = [
      ...twilioIn.map((c) => loop(stop, 100, async (i) => {
        const params = inboundParams({ from: c.phone, body: `cluster webhook ${i}` });
        await untilAccepted(`webhook ${i} from ${c.phone}`, () => sendInbound({ params }), (s) => s === 204, stats);
        c.ids.push(params.MessageSid);
      })),
      // Through the bridge's loopback WhatsApp: its durable outbox posts to ingress and retries by itself.
      ...baileysIn.map((c) => loop(stop, 200, async (i) => {
        const r = await bridge('/dev/inbound', { from: c.phone, text: `cluster whatsapp ${i}` });
        assert.equal(r.status, 200, r.text);
        c.ids.push(`${r.json.remoteJid}/${r.json.messageId}`);
      })),
      ...sends.map((s) => loop(stop, s.pauseMs, async (i) => {
        const k = key();
        const text = `cluster send ${i} via ${s.via} ${k}`;
        const r = await untilAccepted(`send ${i} to ${s.to}`,
          () => send({ to: s.to, type: 'text', text, idempotencyKey: k }), (st) => st === 202 || st === 200, stats);
        s.out.push({ id: r.json.id, text });
      })),
    ];
    const running = Promise.allSettled(loops);
    const throughKafka = [...twilioIn.map((c) => c.ids), ...sends.map((s) => s.out)];
    const progress = () => throughKafka.map((l) => l.length);

    const victim = busiestLeader(md);
    let killed = false;
    let restarted = false;
    try {
      await waitFor('the load to flow', async () => !stop.now && progress().every((n) => n >= 5),
        { timeoutMs: 30000, logs: ['ingress', 'router'] });
      await stackAsync('kafka-kill9', String(victim));
      killed = true;
      const killedAt = Date.now();
      const atKill = progress();
      // Once the controller fences the lost broker (its session timeout, 9 s), the partitions it led
      // get leaders among the two left, which still make min.insync.replicas: every stream goes on.
      await waitFor('every stream to go on with one broker lost', async () => {
        if (stop.now) throw new Error('a load loop failed');
        return progress().every((n, j) => n >= atKill[j] + 5);
      }, { timeoutMs: 60000, everyMs: 200, logs: ['ingress', 'router'] });
      t.diagnostic(`broker ${victim} killed; every stream went on after ${Date.now() - killedAt} ms`);
      await sleep(2000);
      // Back under load: it serves metadata once it has rejoined the quorum and been unfenced.
      await stackAsync('kafka-start', String(victim));
      restarted = true;
      t.diagnostic(`broker ${victim} serving again ${Date.now() - killedAt} ms after the kill`);
      await sleep(1000);
    } finally {
      stop.now = true;
      if (killed && !restarted) await stackAsync('kafka-start', String(victim)).catch(() => {});
    }
    for (const r of await running) if (r.status === 'rejected') throw r.reason;
    // The restarted broker catches up from the others before it counts as in sync again.
    await waitFor('every replica in sync again', async () => outOfSync(await kafkaMetadata()).length === 0,
      { timeoutMs: 90000, everyMs: 500 });
    const n = (ls) => ls.reduce((a, l) => a + l.length, 0);
    t.diagnostic(`accepted: ${n(twilioIn.map((c) => c.ids))} Twilio webhooks, ${n(baileysIn.map((c) => c.ids))} ` +
      `WhatsApp Web messages, ${n(sends.map((s) => s.out))} sends; ${stats.retried} requests retried after a 503`);

    // Inbound: once every record is in Kafka (the bridge's outbox is empty) a later message of the
    // same contact, on the same partition, proves everything before it was handled.
    await waitFor('the bridge outbox to drain', async () => (await metric(bridgeUrl, 'bridge_outbox_depth')) === 0,
      { timeoutMs: 60000, logs: ['bridge'] });
    for (const c of [...twilioIn, ...baileysIn]) {
      const barrier = await inboundBarrier(c.phone);
      const rows = (await messagesFor(c.phone)).filter((m) => m.provider_message_id !== barrier);
      assert.equal(rows.length, c.ids.length, `${c.phone}: ${rows.length} rows for ${c.ids.length} accepted`);
      assert.deepEqual(new Set(rows.map((m) => m.provider_message_id)), new Set(c.ids), `${c.phone}: the same ids`);
    }

    // Sends: each one settled, each command on the topics handled by its sender, then counted at
    // the providers.
    const out = sends.flatMap((s) => s.out);
    for (const o of out) {
      await waitMessage(o.id, `send ${o.text} to be sent`, (m) => ['sent', 'delivered', 'read'].includes(m.status),
        { timeoutMs: 60000, logs: ['sender-twilio', 'sender-baileys'] });
    }
    const ids = new Set(out.map((o) => o.id));
    const commands = async (topic) => (await topicRecords(topic)).filter((r) => ids.has(JSON.parse(r.value).id)).length;
    await twilioResults(await commands('wa.send.twilio'), 'sender-twilio to handle every command');
    await baileysResults(await commands('wa.send.baileys'), 'sender-baileys to handle every command');
    const [stored] = await q('select count(*)::int n from messages where id = any($1::uuid[])', [[...ids]]);
    assert.equal(stored.n, out.length, 'every accepted send is in the CRM');
    const calls = [...await simCalls(twilioTo), ...await simCalls(baileysTo)];
    const bridged = [...await bridgeSent(twilioTo), ...await bridgeSent(baileysTo)];
    assert.ok(calls.every((c) => c.responseStatus === 201), 'the simulator refused nothing');
    for (const o of out) {
      const times = calls.filter((c) => c.params.Body === o.text).length
        + bridged.filter((s) => s.content.text === o.text).length;
      assert.equal(times, 1, `"${o.text}" reached a provider ${times} times`);
    }
    assert.equal(calls.length + bridged.length, out.length, 'nothing else reached the providers');
    assert.equal(calls.length, sends[0].out.length, 'Twilio carried the Twilio contact\'s replies');
    assert.equal(bridged.length, sends[1].out.length, 'WhatsApp Web carried the Baileys contact\'s replies');

    // No service stopped on a fatal Kafka error, and the cluster is whole again.
    const down = services('status').split('\n').filter((l) => /: stopped/.test(l));
    assert.deepEqual(down, [], 'every service still runs');
    assert.equal((await kafkaMetadata()).brokers.length, 3);
  });
