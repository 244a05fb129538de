// sender.test.js - /send across a crash mid-send: the bridge tells "an earlier attempt may have
// reached WhatsApp" apart from "never sent", so the caller never takes such a message elsewhere.
import test from 'node:test';
import assert from 'node:assert/strict';
import { createSender } from '../src/sender.js';
import { silent, tmpDir } from './helpers.js';

const body = { to: '+972501234567', type: 'text', text: 'in flight', idempotencyKey: 'order-77' };

function sock(onSend) {
  return { user: { id: '972500000001:1@s.whatsapp.net' }, sendMessage: onSend };
}

test('a key whose send was in flight when the bridge stopped: 503 says the earlier attempt is unknown; a fresh key does not', async (t) => {
  const stateDir = await tmpDir(t);
  // The first process hands the message to Baileys, which never answers: then the process dies.
  let handed;
  const first = createSender({ stateDir, rate: 1e9, logger: silent, metrics: null, isConnected: () => true,
    getSock: () => sock((jid, content, opts) => { handed = opts.messageId; return new Promise(() => {}); }) });
  first.send(body);
  // It records the attempt durably before handing it over: on a busy machine that takes a while
  // (a fixed 50 ms wait here failed under load), so wait for the hand-over itself.
  for (const end = Date.now() + 5000; !handed && Date.now() < end;) await new Promise((r) => setTimeout(r, 10));
  assert.ok(handed, 'the first attempt reached Baileys');

  // The next process starts while WhatsApp is reconnecting.
  const second = createSender({ stateDir, rate: 1e9, logger: silent, metrics: null, isConnected: () => false,
    getSock: () => null });
  const again = await second.send(body);
  assert.deepEqual(again, { status: 503, body: { ok: false, error: 'not_connected', earlierAttempt: 'unknown' } });
  const fresh = await second.send({ ...body, idempotencyKey: 'order-78' });
  assert.deepEqual(fresh, { status: 503, body: { ok: false, error: 'not_connected' } });

  // Connected again: the same key goes out with the same WhatsApp id (the recipient drops a repeat).
  const sent = [];
  const third = createSender({ stateDir, rate: 1e9, logger: silent, metrics: null, isConnected: () => true,
    getSock: () => sock(async (jid, content, opts) => {
      sent.push(opts.messageId);
      return { key: { remoteJid: jid, id: opts.messageId, fromMe: true }, message: { conversation: 'in flight' } };
    }) });
  const done = await third.send(body);
  assert.equal(done.status, 200);
  assert.equal(done.body.messageId, handed);
  assert.deepEqual(sent, [handed]);
});
