// The inbound handlers fed real proto.WebMessageInfo objects.
import test from 'node:test';
import assert from 'node:assert/strict';
import { proto, makeEventBuffer } from 'baileys';
import { createInbound, unavailableReason, selfPhone } from '../src/handlers.js';
import { MediaTooLarge } from '../src/media.js';
import { silent } from './helpers.js';

function setup({ groups = false, lidMap = {} } = {}) {
  const entries = [];
  const outbox = { enqueue: async (e) => { entries.push(e); } };
  const sock = {
    signalRepository: { lidMapping: { getPNForLID: async (lid) => lidMap[lid] ?? null } },
  };
  const inbound = createInbound({
    getSock: () => sock, outbox, config: { groups }, logger: silent, metrics: null,
    mediaUrl: (id) => `http://bridge.test/media/${id}`, media: null,
  });
  const ev = makeEventBuffer(silent);
  inbound.attach(ev);
  const upsert = async (messages, type = 'notify') => { ev.emit('messages.upsert', { messages, type }); await inbound.idle(); };
  return { entries, inbound, ev, upsert, sock };
}

const msg = (o) => proto.WebMessageInfo.fromObject({ messageTimestamp: 1732400000, pushName: 'Dana', ...o });
const dmKey = (id, extra = {}) => ({ remoteJid: '972501234567@s.whatsapp.net', id, fromMe: false, ...extra });

test('text message becomes the contract payload', async () => {
  const { entries, upsert } = setup();
  await upsert([msg({ key: dmKey('3EB0C767D097B7C7C030'), message: { conversation: 'hi' } })]);
  assert.equal(entries.length, 1);
  assert.deepEqual(entries[0].payload, {
    event: 'message', remoteJid: '972501234567@s.whatsapp.net', messageId: '3EB0C767D097B7C7C030', timestamp: 1732400000,
    type: 'text', text: 'hi', media: null, pushName: 'Dana', phone: '+972501234567', lid: null, fromMe: false,
  });
  assert.equal(entries[0].chat, '972501234567@s.whatsapp.net');
});

test('timestamp given as a Long (after a proto decode roundtrip) is a number', async () => {
  const { entries, upsert } = setup();
  const m = proto.WebMessageInfo.decode(proto.WebMessageInfo.encode(msg({ key: dmKey('L1'), message: { extendedTextMessage: { text: 'long' } } })).finish());
  assert.equal(typeof m.messageTimestamp, 'object'); // a Long
  await upsert([m]);
  assert.equal(entries[0].payload.timestamp, 1732400000);
  assert.equal(entries[0].payload.text, 'long');
});

test('image message: media payload with the bridge URL, download left pending', async () => {
  const { entries, upsert } = setup();
  await upsert([msg({ key: dmKey('IMG1'), message: { imageMessage: { url: 'https://x/y', mimetype: 'image/jpeg', fileLength: 12345, caption: 'look', mediaKey: Buffer.alloc(32) } } })]);
  const p = entries[0].payload;
  assert.equal(p.type, 'image');
  assert.equal(p.text, 'look');
  assert.equal(p.media.mimetype, 'image/jpeg');
  assert.equal(p.media.size, 12345);
  assert.match(p.media.url, /^http:\/\/bridge\.test\/media\/[0-9a-f]{32}$/);
  assert.equal(p.media.fileName, null);
  assert.ok(entries[0].pending.raw);
  const back = proto.WebMessageInfo.decode(Buffer.from(entries[0].pending.raw, 'base64'));
  assert.equal(back.key.id, 'IMG1');
});

test('own echo (fromMe) and status@broadcast are skipped', async () => {
  const { entries, upsert } = setup();
  await upsert([
    msg({ key: dmKey('E1', { fromMe: true }), message: { conversation: 'mine' } }),
    msg({ key: { remoteJid: 'status@broadcast', id: 'S1', participant: '972501234567@s.whatsapp.net' }, message: { conversation: 'story' } }),
  ], 'append');
  assert.equal(entries.length, 0);
});

test('groups are skipped by default and forwarded with BRIDGE_GROUPS=1', async () => {
  const g = msg({ key: { remoteJid: '120363000000000000@g.us', id: 'G1', participant: '972501234567@s.whatsapp.net' }, message: { conversation: 'in group' } });
  const off = setup();
  await off.upsert([g]);
  assert.equal(off.entries.length, 0);
  const on = setup({ groups: true });
  await on.upsert([g]);
  assert.equal(on.entries.length, 1);
  assert.equal(on.entries[0].payload.phone, '+972501234567');
  assert.equal(on.entries[0].payload.participant, '972501234567@s.whatsapp.net');
});

test('a decryption stub is held, not forwarded, until the real message arrives', async () => {
  const { entries, upsert, inbound } = setup();
  await upsert([msg({ key: dmKey('ST1'), messageStubType: proto.WebMessageInfo.StubType.CIPHERTEXT, messageStubParameters: ['No session found to decrypt message'] })]);
  assert.equal(entries.length, 0);
  assert.equal(inbound.heldStubs.size, 1);
  await upsert([msg({ key: dmKey('ST1'), message: { conversation: 'decrypted now' } })]);
  assert.equal(entries.length, 1);
  assert.equal(entries[0].payload.text, 'decrypted now');
  assert.equal(inbound.heldStubs.size, 0);
});

test('LID sender: phone from remoteJidAlt, or from the LID mapping store', async () => {
  const { entries, upsert } = setup({ lidMap: { '123456789@lid': '972501234567:0@s.whatsapp.net' } });
  const a = msg({ key: { remoteJid: '987654321@lid', id: 'LA', fromMe: false }, message: { conversation: 'alt' } });
  a.key.remoteJidAlt = '972509999999@s.whatsapp.net'; // 7.x field, not in the proto
  const b = msg({ key: { remoteJid: '123456789@lid', id: 'LB', fromMe: false }, message: { conversation: 'mapped' } });
  const c = msg({ key: { remoteJid: '555@lid', id: 'LC', fromMe: false }, message: { conversation: 'unknown' } });
  await upsert([a, b, c]);
  assert.deepEqual(entries.map((e) => [e.payload.phone, e.payload.lid]), [
    ['+972509999999', '987654321@lid'],
    ['+972501234567', '123456789@lid'], // ":0" device suffix from getPNForLID normalised away
    [null, '555@lid'],
  ]);
  assert.equal(entries[1].payload.remoteJid, '123456789@lid');
});

test('PN sender with a LID alt sends both', async () => {
  const { entries, upsert } = setup();
  const m = msg({ key: dmKey('PA'), message: { conversation: 'x' } });
  m.key.remoteJidAlt = '123456789@lid';
  await upsert([m]);
  assert.equal(entries[0].payload.phone, '+972501234567');
  assert.equal(entries[0].payload.lid, '123456789@lid');
});

test('append (offline) messages are forwarded and duplicates dropped', async () => {
  const { entries, upsert } = setup();
  const m = msg({ key: dmKey('AP1'), message: { conversation: 'queued while offline' } });
  await upsert([m], 'append');
  await upsert([m], 'notify');
  assert.equal(entries.length, 1);
});

test('message types: location, reaction, contact, document, protocol skipped', async () => {
  const { entries, upsert } = setup();
  await upsert([
    msg({ key: dmKey('T1'), message: { locationMessage: { degreesLatitude: 32.08, degreesLongitude: 34.78, name: 'TLV', address: 'Rothschild' } } }),
    msg({ key: dmKey('T2'), message: { reactionMessage: { key: { id: 'X' }, text: '👍' } } }),
    msg({ key: dmKey('T3'), message: { contactMessage: { displayName: 'Bob', vcard: 'BEGIN:VCARD' } } }),
    msg({ key: dmKey('T4'), message: { documentWithCaptionMessage: { message: { documentMessage: { mimetype: 'application/pdf', fileName: 'x.pdf', url: 'https://x' } } } } }),
    msg({ key: dmKey('T5'), message: { protocolMessage: { type: 0 } } }),
    msg({ key: dmKey('T6'), message: { ephemeralMessage: { message: { conversation: 'disappearing' } } } }),
  ]);
  assert.deepEqual(entries.map((e) => e.payload.type), ['location', 'reaction', 'contact', 'document', 'text']);
  assert.deepEqual(entries[0].payload.location, { latitude: 32.08, longitude: 34.78, name: 'TLV', address: 'Rothschild' });
  assert.equal(entries[1].payload.text, '👍');
  assert.equal(entries[3].payload.media.fileName, 'x.pdf');
  assert.equal(entries[4].payload.text, 'disappearing');
});

test('receipts: status names, never backwards, only for our messages', async () => {
  const { entries, ev, inbound } = setup();
  const key = { remoteJid: '972501234567@s.whatsapp.net', id: 'OUT1', fromMe: true };
  const S = proto.WebMessageInfo.Status;
  ev.emit('messages.update', [
    { key, update: { status: S.SERVER_ACK, messageTimestamp: 1732400001 } },
    { key, update: { status: S.READ, messageTimestamp: 1732400003 } },
    { key, update: { status: S.DELIVERY_ACK, messageTimestamp: 1732400002 } }, // late, older
    { key: { ...key, fromMe: false, id: 'IN1' }, update: { status: S.READ } }, // our own read of an inbound message
    { key, update: { message: { conversation: 'edit' } } }, // not a receipt
    { key: { ...key, id: 'OUT2' }, update: { status: S.ERROR, messageStubParameters: ['463'] } },
  ]);
  await inbound.idle();
  assert.deepEqual(entries.map((e) => [e.payload.messageId, e.payload.status]), [['OUT1', 'sent'], ['OUT1', 'read'], ['OUT2', 'error']]);
  assert.deepEqual(entries[0].payload, { event: 'status', remoteJid: key.remoteJid, messageId: 'OUT1', status: 'sent', timestamp: 1732400001, phone: '+972501234567' });
  assert.equal(entries[2].payload.errorCode, '463');
});

test('prepare(): a downloaded file keeps {url, mimetype, size}; a failing download is retried 4 times, then forwarded as unavailable; too large at once', async () => {
  let fail = null;
  const media = { fetch: async () => { if (fail) throw fail; return { size: 777 }; } };
  const entries = [];
  const inbound = createInbound({
    getSock: () => null, outbox: { enqueue: async (e) => { entries.push(JSON.parse(JSON.stringify(e))); } }, config: {}, logger: silent, metrics: null,
    mediaUrl: (id) => `http://bridge.test/media/${id}`, media,
  });
  inbound.onUpsert({ type: 'notify', messages: [msg({ key: dmKey('PM1'), message: { imageMessage: { url: 'https://x/y', mimetype: 'image/jpeg', fileLength: 5000, caption: 'cap' } } })] });
  await inbound.idle();
  const [e] = entries;

  const ok = await inbound.prepare(e, 0);
  assert.equal(ok.pending, undefined);
  assert.deepEqual(ok.payload.media, { mimetype: 'image/jpeg', size: 777, url: e.payload.media.url, fileName: null });

  fail = Object.assign(new Error('Failed to fetch stream from https://mmg.whatsapp.net/x'), { isBoom: true, output: { statusCode: 410 }, data: { url: 'https://mmg.whatsapp.net/x' } });
  for (let attempt = 0; attempt < 4; attempt++) await assert.rejects(inbound.prepare(e, attempt), /Failed to fetch/);
  const gaveUp = await inbound.prepare(e, 4);
  assert.equal(gaveUp.payload.text, 'cap');
  assert.deepEqual(gaveUp.payload.media, { mimetype: 'image/jpeg', size: 5000, url: null, fileName: null, unavailable: 'download_failed: 410 Gone after 5 tries' });

  fail = Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNRESET' } });
  assert.equal((await inbound.prepare(e, 4)).payload.media.unavailable, 'download_failed: ECONNRESET after 5 tries');

  fail = new MediaTooLarge('too_large: 5000 bytes over BRIDGE_INBOUND_MEDIA_MAX_BYTES (4000)');
  const big = await inbound.prepare(e, 0); // not retried: it cannot get smaller
  assert.deepEqual(big.payload.media, { mimetype: 'image/jpeg', size: 5000, url: null, fileName: null, unavailable: 'too_large: 5000 bytes over BRIDGE_INBOUND_MEDIA_MAX_BYTES (4000)' });
});

test('unavailableReason(): one line, well-formed, at most 500 bytes of UTF-8', () => {
  assert.equal(unavailableReason('download_failed: a\r\nb\u0000c after 5 tries'), 'download_failed: a b c after 5 tries');
  assert.equal(unavailableReason('x\ud800'), 'x\ufffd');
  const long = unavailableReason(`download_failed: ${'é'.repeat(400)}`);
  assert.ok(Buffer.byteLength(long) <= 500 && long.endsWith('...'), long);
  assert.equal(unavailableReason(''), 'unknown');
});

test('a fileLength past 2^53 (a u64 Long) is not put in the payload as an inexact number: size null', async () => {
  const { entries, upsert } = setup();
  await upsert([msg({ key: dmKey('BIG1'), message: { documentMessage: { url: 'https://x/y', mimetype: 'application/pdf', fileLength: '18446744073709551615', fileName: 'x.pdf' } } })]);
  assert.equal(entries[0].payload.media.size, null);
});

test('selfPhone: the number of the socket\'s user id without its device part, or null', () => {
  const cases = [
    ['972500000001:12@s.whatsapp.net', '+972500000001'],
    ['972500000001@s.whatsapp.net', '+972500000001'],
    ['14155550100:0@s.whatsapp.net', '+14155550100'],
    ['6834002:1@s.whatsapp.net', null], // 7 digits: ingress would refuse it
    ['0972500000001:1@s.whatsapp.net', null],
    ['1234567890123456:1@s.whatsapp.net', null], // 16 digits
    ['123456789@lid', null],
    ['', null],
    [42, null],
  ];
  for (const [id, want] of cases) assert.equal(selfPhone({ user: { id } }), want, String(id));
  assert.equal(selfPhone(null), null);
  assert.equal(selfPhone({}), null); // not logged in yet
});

test('messages and receipts carry `self`, our number, once the socket knows it; before that they go without', async () => {
  const { entries, upsert, ev, inbound, sock } = setup();
  await upsert([msg({ key: dmKey('S0'), message: { conversation: 'before login' } })]);
  // the same socket object learns its user at login, as Baileys' does
  sock.user = { id: '972500000002:3@s.whatsapp.net', name: 'Shop' };
  await upsert([msg({ key: dmKey('S1'), message: { conversation: 'after login' } })]);
  await upsert([msg({ key: dmKey('S2'), message: { imageMessage: { url: 'https://x/y', mimetype: 'image/jpeg', fileLength: 5 } } })]);
  ev.emit('messages.update', [{ key: { remoteJid: '972501234567@s.whatsapp.net', id: 'OUT1', fromMe: true }, update: { status: proto.WebMessageInfo.Status.DELIVERY_ACK } }]);
  await inbound.idle();
  assert.deepEqual(entries.map((e) => [e.payload.messageId, e.payload.self]),
    [['S0', undefined], ['S1', '+972500000002'], ['S2', '+972500000002'], ['OUT1', '+972500000002']]);
  assert.equal('self' in entries[0].payload, false);
});
