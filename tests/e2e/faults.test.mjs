// faults.test.mjs - the proof of "nothing lost, nothing sent twice": two instances of every worker
// for over two minutes of mixed traffic while workers are killed, stopped mid-backoff, the bridge
// restarts, Twilio storms with 429 and 503, Postgres restarts, and a 60,000-character Hebrew text
// comes in. Then the simulators' own records and the CRM are compared.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile as execFileCb } from 'node:child_process';
import { promisify } from 'node:util';
import path from 'node:path';
import {
  root, env, q, db, waitFor, sleep, services, sim, bridge, send, key, twilioContact, bothContact,
} from './lib.mjs';

const execFile = promisify(execFileCb);
test.after(() => db.end());

const LOAD_MS = Number(env.FAULTS_LOAD_MS ?? 125000);
const WORKERS = ['router', 'sender-twilio', 'sender-baileys', 'media-worker'];
const INSTANCES = WORKERS.flatMap((w) => [w, `${w}@2`]);
const FINAL = new Set(['sent', 'delivered', 'read', 'failed', 'undelivered', 'unknown']);
const PNG_1X1 = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==';

// The scripts without blocking this event loop: the load goes on while a service stops or starts.
async function sh(cmd, ...args) {
  const { stdout } = await execFile(path.join(root, cmd), args, { timeout: 150000, killSignal: 'SIGKILL' });
  return stdout;
}

const log = (...a) => console.log(`[faults +${((Date.now() - t0) / 1000).toFixed(1)}s]`, ...a);
let t0 = Date.now();

test('two instances of every worker under faults: every inbound stored once, every send made at most once and through one provider, in order, no chat blocked', { timeout: LOAD_MS + 600000 }, async () => {
  const stopAt = () => Date.now() >= t0 + LOAD_MS;
  services('start', ...INSTANCES.filter((n) => n.includes('@')));
  await sim('/sim/faults', undefined, 'DELETE');
  const tw = await Promise.all(Array.from({ length: 5 }, () => twilioContact()));
  const bl = await Promise.all(Array.from({ length: 5 }, () => bothContact()));
  t0 = Date.now();
  const sends = []; // {phone, seq, id, tag}
  const inbound = { twilio: [], baileys: [] }; // accepted: {phone, id, media}
  const refusedSends = [];
  const run = `F${Date.now().toString(36)}`;

  // ---- load: each contact sends its own numbered messages, one after the other, as an app would
  // (a request that gets no 202 is repeated with the same key)
  const sender = async (phone, c) => {
    for (let seq = 1; !stopAt(); seq++) {
      const tag = `${run}-${c}-${seq}`;
      const body = { to: phone, type: 'text', text: `${tag} order`, idempotencyKey: `${run}-${c}-${seq}` };
      let r;
      for (let i = 0; i < 20; i++) {
        r = await send(body).catch((e) => ({ status: 0, text: e.message }));
        if (r.status === 202 || r.status === 200) break;
        await sleep(500);
      }
      if (r.status === 202 || r.status === 200) sends.push({ phone, seq, id: r.json.id, tag });
      else refusedSends.push({ tag, status: r.status, text: r.text });
      await sleep(900 + Math.random() * 600);
    }
  };
  // WhatsApp's receipts for what the bridge sent (Twilio's callbacks come from the simulator on
  // their own): "delivered" for each Baileys send of this run, once the bridge has it.
  const receipted = new Set();
  const receipts = async () => {
    while (!stopAt()) {
      await sleep(1500);
      const r = await bridge('/dev/sent').catch(() => null);
      for (const x of r?.json?.sent ?? []) {
        if (!x.content?.text?.startsWith(run) || receipted.has(x.messageId)) continue;
        const ok = await bridge('/dev/receipt', { messageId: x.messageId, to: `+${x.to.split('@')[0]}`,
          status: 'delivered' }).catch(() => ({ status: 0 }));
        if (ok.status === 200) receipted.add(x.messageId);
      }
    }
  };
  // Inbound from both providers, every fifth with an image.
  const inbounds = async () => {
    for (let i = 0; !stopAt(); i++) {
      const media = i % 5 === 0;
      if (i % 2 === 0) {
        const phone = tw[i % tw.length];
        let r;
        if (media) {
          const item = await sim('/sim/media', { kind: 'jpeg', size: 4000 + i, seed: `${run}-${i}` });
          r = await sim('/sim/inbound', { from: phone, body: `${run} in ${i}`, media: [{ sid: item.sid }] });
        } else {
          r = await sim('/sim/inbound', { from: phone, body: `${run} in ${i}` });
        }
        if (r.status === 204) inbound.twilio.push({ phone, id: r.messageSid, media });
      } else {
        const phone = bl[i % bl.length];
        const r = await bridge('/dev/inbound', media
          ? { from: phone, type: 'image', text: `${run} in ${i}`, media: { mimetype: 'image/png', data: PNG_1X1 } }
          : { from: phone, text: `${run} in ${i}` }).catch(() => ({ status: 0 }));
        if (r.status === 200) inbound.baileys.push({ phone, id: `${r.json.remoteJid}/${r.json.messageId}`, media });
      }
      await sleep(400);
    }
  };

  // ---- faults
  let hebrew = null;
  const faults = async () => {
    const at = async (s) => { while (Date.now() < t0 + s * 1000) await sleep(100); };
    const kill = async (name) => {
      log(`kill -9 ${name}`);
      await sh('scripts/services.sh', 'kill9', name);
      await sleep(800);
      await sh('scripts/services.sh', 'start', name);
    };
    const storm = (status) => sim('/sim/faults', { faults: [...tw, ...bl].map((to) => ({ to, status, count: 3 })) });
    const plan = [
      [8, () => kill('sender-twilio')],
      [14, () => kill('router@2')],
      // Storms hit every contact at once, three answers each: a message survives six in a row
      // (SENDER_MAX_ATTEMPTS is 8), so none may give up.
      [18, async () => { log('429 storm'); await storm(429); }],
      [22, () => kill('sender-baileys')],
      [28, async () => { log('503 storm'); await storm(503); }],
      [30, async () => {
        // Stopped while backing off after the 503s: the command is not dropped.
        log('SIGTERM sender-twilio@2 and sender-twilio in backoff');
        await sh('scripts/services.sh', 'stop', 'sender-twilio@2', 'sender-twilio');
        await sh('scripts/services.sh', 'start', 'sender-twilio@2', 'sender-twilio');
      }],
      [38, () => kill('media-worker')],
      [44, async () => {
        log('bridge restart');
        await sh('scripts/services.sh', 'stop', 'bridge');
        await sleep(2000);
        await sh('scripts/services.sh', 'start', 'bridge');
      }],
      [54, () => kill('router')],
      [60, async () => {
        log('Postgres restart');
        await sh('infra/stack.sh', 'pg-stop');
        await sleep(2000);
        await sh('infra/stack.sh', 'pg-start');
      }],
      [72, async () => {
        log('a 60,000-character Hebrew text');
        const r = await bridge('/dev/inbound', { from: bl[0], text: 'שלום '.repeat(12000) });
        assert.equal(r.status, 200, r.text);
        hebrew = `${r.json.remoteJid}/${r.json.messageId}`;
      }],
      [76, () => kill('sender-baileys@2')],
      [82, async () => {
        log('the bridge loses WhatsApp for 4 s');
        await bridge('/dev/disconnect', {});
        await sleep(4000);
        await bridge('/dev/connect', {});
      }],
      [92, () => kill('media-worker@2')],
      [98, () => kill('sender-twilio@2')],
      [104, async () => { log('kill -9 the bridge'); await sh('scripts/services.sh', 'kill9', 'bridge'); await sleep(1000); await sh('scripts/services.sh', 'start', 'bridge'); }],
      [110, () => kill('router')],
      [116, () => kill(INSTANCES[Math.floor(Math.random() * INSTANCES.length)])],
    ];
    for (const [s, f] of plan) {
      if (s * 1000 > LOAD_MS) break;
      await at(s);
      await f();
    }
  };

  try {
    await Promise.all([...tw, ...bl].map((p, c) => sender(p, c)).concat([inbounds(), receipts(), faults()]));
    log(`load over: ${sends.length} sends, ${inbound.twilio.length} + ${inbound.baileys.length} inbound`);
    assert.deepEqual(refusedSends, [], 'every send request was accepted in the end');
    assert.ok(sends.length >= 300, `enough sends to mean something (${sends.length})`);

    // ---- settle: every accepted send final, every accepted inbound in the CRM with its media
    const ids = sends.map((s) => s.id);
    await waitFor('every send final', async () => {
      const rows = await q('select status from messages where id = any($1::uuid[])', [ids]);
      return rows.length === ids.length && rows.every((r) => FINAL.has(r.status));
    }, { timeoutMs: 180000, everyMs: 1000, logs: INSTANCES });
    const allIn = [...inbound.twilio, ...inbound.baileys];
    await waitFor('every inbound in the CRM', async () => {
      const rows = await q('select count(*)::int n from messages where provider_message_id = any($1)', [allIn.map((m) => m.id)]);
      return rows[0].n >= allIn.length;
    }, { timeoutMs: 120000, everyMs: 1000, logs: ['router', 'router@2'] });

    // Every accepted inbound is stored once, with its media stored once.
    const stored = await q(`select provider_message_id id, count(*)::int n from messages
                             where provider_message_id = any($1) group by 1`, [allIn.map((m) => m.id)]);
    const n = new Map(stored.map((r) => [r.id, r.n]));
    for (const m of allIn) assert.equal(n.get(m.id), 1, `inbound ${m.id} stored ${n.get(m.id) ?? 0} times`);
    const withMedia = allIn.filter((m) => m.media).map((m) => m.id);
    await waitFor('every inbound image stored', async () => {
      const rows = await q(`select m.provider_message_id id, count(d.*)::int n, count(d.stored_at)::int s
                              from messages m join media d on d.message_id = m.id
                             where m.provider_message_id = any($1) group by 1`, [withMedia]);
      return rows.length === withMedia.length && rows.every((r) => r.n === 1 && r.s === 1) ? rows : false;
    }, { timeoutMs: 120000, everyMs: 1000, logs: ['media-worker', 'media-worker@2'] });

    // The long Hebrew text arrived whole, and the chat went on after it.
    if (hebrew) {
      const [h] = await q('select char_length(body)::int n from messages where provider_message_id = $1', [hebrew]);
      assert.equal(h?.n, 60000);
    }

    // ---- what the providers received, from their own records
    const created = (await sim('/sim/messages')).messages ?? [];
    const atTwilio = new Map(); // tag -> count
    const twilioOrder = new Map(); // phone -> [seq...] in creation order
    for (const m of created) {
      const match = /^(F[0-9a-z]+-\d+-\d+) order$/.exec(m.body ?? '');
      if (!match || !match[1].startsWith(run)) continue;
      atTwilio.set(match[1], (atTwilio.get(match[1]) ?? 0) + 1);
      const phone = m.to.replace(/^whatsapp:/, '');
      if (!twilioOrder.has(phone)) twilioOrder.set(phone, []);
      twilioOrder.get(phone).push(Number(match[1].split('-').pop()));
    }
    const atBaileys = new Map();
    const baileysOrder = new Map();
    for (const s of (await bridge('/dev/sent')).json.sent) {
      const match = /^(F[0-9a-z]+-\d+-\d+) order$/.exec(s.content?.text ?? '');
      if (!match || !match[1].startsWith(run)) continue;
      atBaileys.set(match[1], (atBaileys.get(match[1]) ?? 0) + 1);
      const phone = `+${s.to.split('@')[0]}`;
      if (!baileysOrder.has(phone)) baileysOrder.set(phone, []);
      baileysOrder.get(phone).push(Number(match[1].split('-').pop()));
    }
    const rows = new Map((await q('select id::text, status, provider, failover, error_code from messages where id = any($1::uuid[])', [ids]))
      .map((r) => [r.id, r]));
    const tally = {};
    for (const s of sends) {
      const row = rows.get(s.id);
      const t = atTwilio.get(s.tag) ?? 0, b = atBaileys.get(s.tag) ?? 0;
      tally[`${row.status}${row.failover ? ' (failover)' : ''} twilio=${t} baileys=${b}`] =
        (tally[`${row.status}${row.failover ? ' (failover)' : ''} twilio=${t} baileys=${b}`] ?? 0) + 1;
      assert.ok(!(t && b), `${s.tag} went out through both providers`);
      assert.ok(t + b <= 1, `${s.tag} sent ${t + b} times`);
      if (row.status !== 'unknown') {
        assert.equal(t + b, 1, `${s.tag} is ${row.status} (${row.error_code}) but reached a provider ${t + b} times`);
      }
    }
    log('outcomes', tally);
    // Every receipt the bridge took reached its message: none lost to the faults.
    const viaBaileys = sends.filter((x) => rows.get(x.id).provider === 'baileys').map((x) => x.id);
    await waitFor('each receipted Baileys send delivered', async () => {
      const got = await q(`select count(*)::int n from messages where id = any($1::uuid[])
        and status in ('delivered', 'read') and provider = 'baileys'`, [viaBaileys]);
      return got[0].n >= receipted.size;
    }, { timeoutMs: 60000, everyMs: 1000, logs: ['router', 'router@2', 'bridge'] });
    assert.ok(receipted.size > 0, 'receipts were part of the load');
    // Each contact's messages reached each provider in the order they were sent.
    for (const [label, order] of [['Twilio', twilioOrder], ['Baileys', baileysOrder]]) {
      for (const [phone, seqs] of order) {
        const sorted = [...seqs].sort((a, b) => a - b);
        assert.deepEqual(seqs, sorted, `${label} got ${phone}'s messages out of order`);
      }
    }

    // ---- no chat is blocked: each contact can still write and be written to
    const last = await Promise.all([...tw, ...bl].map(async (phone, c) => {
      const r = await send({ to: phone, type: 'text', text: `${run}-${c}-last`, idempotencyKey: key() });
      assert.equal(r.status, 202, r.text);
      return r.json.id;
    }));
    await waitFor('the last send of every contact', async () => {
      const got = await q('select status from messages where id = any($1::uuid[])', [last]);
      return got.length === last.length && got.every((r) => ['sent', 'delivered', 'read'].includes(r.status));
    }, { timeoutMs: 60000, logs: INSTANCES });
    for (const phone of bl) {
      const r = await bridge('/dev/inbound', { from: phone, text: `${run} still here` });
      assert.equal(r.status, 200, r.text);
    }
    await waitFor('the last Baileys inbound of every contact', async () =>
      (await q(`select count(distinct c.phone)::int n from messages m join contacts c on c.id = m.contact_id
                 where m.body = $1 and c.phone = any($2)`, [`${run} still here`, bl]))[0].n === bl.length,
    { timeoutMs: 60000, logs: ['router', 'router@2'] });
  } finally {
    await sim('/sim/faults', undefined, 'DELETE').catch(() => {});
    services('stop', ...INSTANCES.filter((x) => x.includes('@')));
    services('start'); // whatever a fault left stopped
  }
});
