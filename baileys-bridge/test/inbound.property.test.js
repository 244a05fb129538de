// Property tests (fast-check) for the inbound side: Baileys messages (proto.WebMessageInfo
// built from Baileys' own field names, random values) and receipts turned into the JSON the
// bridge POSTs to ingress. What ingress takes is modelled in ingress-contract.js after
// ingress/baileys_normalize.c.
// A failure prints fast-check's seed and shrunk counterexample; FC_SEED=<n> replays
// another seed, FC_RUNS=<factor> scales the number of runs.
import test from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { proto } from 'baileys';
import { createInbound } from '../src/handlers.js';
import { MediaTooLarge } from '../src/media.js';
import { ingressVerdict, waPhoneE164, WA_KEY_MAX, MEDIA_UNAVAILABLE_MAX } from './ingress-contract.js';

const SEED = Number(process.env.FC_SEED ?? 20251130);
const runs = (n) => ({ seed: SEED, numRuns: Math.max(1, Math.round(n * Number(process.env.FC_RUNS ?? 1))) });
const S = proto.WebMessageInfo.Status;

const MESSAGE_TYPES = ['text', 'image', 'audio', 'video', 'document', 'sticker', 'location', 'contact', 'reaction', 'button', 'unknown'];
const MEDIA_TYPES = ['image', 'audio', 'video', 'document', 'sticker'];
const MAX_TS = 32503680000;
const bytes = (s) => Buffer.byteLength(s, 'utf8');
const clip = (s) => (s.length > 800 ? `${s.slice(0, 800)}… (${s.length} characters)` : s);

// ---- the bridge, with its collaborators faked ------------------------------------------

/** A logger that records what the handlers' catch-all logs: an exception thrown while handling. */
function recordingLogger(thrown) {
  const l = { error: (o, m) => { if (m === 'inbound handler failed') thrown.push(o); }, warn() {}, info() {}, debug() {}, trace() {}, fatal() {} };
  l.child = () => l;
  return l;
}

/** What a download can end in: a Boom from the CDN, a network error, any error at all. */
const boom = (status) => Object.assign(new Error('Failed to fetch stream from https://mmg.whatsapp.net/v/t62/x?oh=secret'), { isBoom: true, output: { statusCode: status }, data: { url: 'https://mmg.whatsapp.net/v/t62/x' } });
const downloadError = fc.oneof(
  fc.constantFrom(404, 410, 403, 500, 503).map(boom),
  fc.constantFrom('ECONNRESET', 'ECONNREFUSED', 'UND_ERR_SOCKET').map((code) => Object.assign(new TypeError('fetch failed'), { cause: { code } })),
  fc.oneof(fc.string({ unit: 'binary', maxLength: 40 }), fc.constantFrom('', '\u0000', '\ud800x', 'é'.repeat(400), '\r\nX: y')).map((m) => new Error(m)),
);

/**
 * Run the inbound handlers on one batch, then do what the outbox does: store the entry as
 * JSON, finish media entries with prepare() and POST JSON.stringify(payload). Returns the
 * bodies ingress would get. The download (media.fetch) succeeds (mediaOk true), fails every
 * time and is given up after 5 tries (false), or meets a file over the size cap ('too_large').
 */
async function runInbound({ upserts = [], updates = [], receipts = [], groups = false, lidMap = {}, mediaOk = true, failWith = new Error('CDN down'), keyFor, selfId }) {
  const thrown = [];
  const entries = [];
  const sock = { signalRepository: { lidMapping: { getPNForLID: async (lid) => lidMap[lid] ?? null } } };
  if (selfId !== undefined) sock.user = { id: selfId }; // logged in: our own JID, with a device
  const media = {
    fetch: async () => {
      if (mediaOk === 'too_large') throw new MediaTooLarge('too_large: 120000000 bytes over BRIDGE_INBOUND_MEDIA_MAX_BYTES (104857600)');
      if (!mediaOk) throw failWith;
      return { size: 4242 };
    },
  };
  const inbound = createInbound({
    getSock: () => sock, outbox: { enqueue: async (e) => { entries.push(JSON.stringify(e)); } }, config: { groups },
    logger: recordingLogger(thrown), metrics: null, mediaUrl: (id) => `http://bridge.test/media/${id}`, media, keyFor,
  });
  for (const u of upserts) inbound.onUpsert(u);
  if (updates.length) inbound.onUpdate(updates);
  if (receipts.length) inbound.onReceipt(receipts);
  await inbound.idle();
  const posted = [];
  for (const stored of entries) {
    let e = JSON.parse(stored);
    if (e.pending) e = await inbound.prepare(e, mediaOk === true ? 0 : 4);
    posted.push({ chat: e.chat, body: JSON.stringify(e.payload) });
  }
  return { thrown, posted };
}

// ---- arbitraries: Baileys' proto shapes (WAProto/index.d.ts field names) ---------------

const digit = fc.constantFrom(...'0123456789');
const digits = (minLength, maxLength) => fc.string({ unit: digit, minLength, maxLength });
const nz = fc.constantFrom(...'123456789');
const e164User = fc.tuple(nz, digits(7, 14)).map(([a, b]) => a + b); // 8 to 15 digits
const lidUser = fc.tuple(nz, digits(5, 15)).map(([a, b]) => a + b);
const groupJid = fc.oneof(digits(12, 18).map((d) => `120363${d}@g.us`), fc.tuple(e164User, digits(10, 10)).map(([a, b]) => `${a}-${b}@g.us`));
const OTHER_JIDS = ['status@broadcast', '1732400000@broadcast', '120363025246125486@newsletter', '13135550002@bot', '972501234567@hosted',
  '123456789012345@hosted.lid', '972501234567@c.us', '0@s.whatsapp.net', '6834002@s.whatsapp.net', '1234567890123456@s.whatsapp.net',
  '@s.whatsapp.net', '@lid', 'x@g.us', 'no-at-sign'];

/** Strings as a decoded proto gives them (any code point). `clean` drops U+0000, which ingress refuses. */
const anyString = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 40 }), fc.string({ unit: 'grapheme', maxLength: 16 }), fc.string({ maxLength: 16 }),
  fc.constantFrom('', ' ', 'hi', '👍', '\u0000', 'a\u0000b', '"\\/<>&', '\u202e\u200f', 'x'.repeat(300)),
);
const cleanString = anyString.map((s) => s.replace(/\u0000/g, ''));

/** The socket's user id: none (not logged in yet), a real one ("<number>:<device>@s.whatsapp.net"),
 * or, not realistic, anything else a user id could be; `self` must never make ingress refuse. */
const selfIdArb = (realistic) => fc.option(realistic
  ? fc.tuple(e164User, fc.nat(40)).map(([u, dev]) => `${u}:${dev}@s.whatsapp.net`)
  : fc.oneof(fc.tuple(e164User, fc.nat(40)).map(([u, dev]) => `${u}:${dev}@s.whatsapp.net`), fc.constantFrom(...OTHER_JIDS),
    fc.constantFrom('123456789:1@lid', '6834002:1@s.whatsapp.net', '+972500000001', ''), anyString, fc.integer()), { nil: undefined });
/** `self` for a realistic user id: its number with '+'. */
const selfOf = (selfId) => (selfId === undefined ? undefined : `+${selfId.split(':')[0]}`);

function shapes(realistic) {
  const s = realistic ? cleanString : anyString;
  const opt = (a) => fc.option(a, { nil: undefined });
  const rec = (model, requiredKeys = []) => fc.record(model, { requiredKeys });
  const u32 = fc.nat();
  const u64 = fc.oneof(fc.nat(), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }).map(String)); // a decimal string becomes a Long
  const bin = fc.uint8Array({ maxLength: 32 });
  const mime = realistic
    ? fc.oneof(fc.constantFrom('image/jpeg', 'image/webp', 'video/mp4', 'audio/ogg; codecs=opus', 'application/pdf', 'application/octet-stream'), cleanString.filter((x) => x.length > 0))
    : s;
  const mediaOf = (extra) => rec({ mimetype: mime, url: s, directPath: s, mediaKey: bin, fileSha256: bin, fileEncSha256: bin, fileLength: u64, mediaKeyTimestamp: u64, ...extra },
    realistic ? ['mimetype'] : []);
  const coord = realistic ? fc.double({ min: -180, max: 180, noNaN: true }) : fc.double();
  const locOf = (extra) => rec({ degreesLatitude: coord, degreesLongitude: coord, ...extra }, realistic ? ['degreesLatitude', 'degreesLongitude'] : []);
  const ctx = rec({ stanzaId: s, participant: s, quotedMessage: s.map((c) => ({ conversation: c })), expiration: u32 });
  const leaf = fc.oneof(
    s.map((x) => ({ conversation: x })),
    rec({ text: s, matchedText: s, title: s, description: s, contextInfo: ctx }).map((x) => ({ extendedTextMessage: x })),
    mediaOf({ caption: s, height: u32, width: u32, jpegThumbnail: bin, viewOnce: fc.boolean(), contextInfo: ctx }).map((x) => ({ imageMessage: x })),
    mediaOf({ caption: s, seconds: u32, gifPlayback: fc.boolean() }).map((x) => ({ videoMessage: x })),
    mediaOf({ caption: s, seconds: u32 }).map((x) => ({ ptvMessage: x })),
    mediaOf({ seconds: u32, ptt: fc.boolean() }).map((x) => ({ audioMessage: x })),
    mediaOf({ title: s, pageCount: u32, fileName: s, caption: s }).map((x) => ({ documentMessage: x })),
    mediaOf({ isAnimated: fc.boolean() }).map((x) => ({ stickerMessage: x })),
    locOf({ name: s, address: s, url: s, comment: s }).map((x) => ({ locationMessage: x })),
    locOf({ caption: s, sequenceNumber: fc.integer(), accuracyInMeters: u32 }).map((x) => ({ liveLocationMessage: x })),
    rec({ displayName: s, vcard: s }).map((x) => ({ contactMessage: x })),
    rec({ displayName: s, contacts: fc.array(rec({ displayName: s, vcard: s }), { maxLength: 2 }) }).map((x) => ({ contactsArrayMessage: x })),
    rec({ key: rec({ remoteJid: s, id: s, fromMe: fc.boolean() }), text: s, senderTimestampMs: u64 }).map((x) => ({ reactionMessage: x })),
    rec({ selectedButtonId: s, selectedDisplayText: s }).map((x) => ({ buttonsResponseMessage: x })),
    rec({ selectedId: s, selectedDisplayText: s, selectedIndex: u32 }).map((x) => ({ templateButtonReplyMessage: x })),
    rec({ title: s, description: s, singleSelectReply: rec({ selectedRowId: s }) }).map((x) => ({ listResponseMessage: x })),
    rec({ body: rec({ text: s }), nativeFlowResponseMessage: rec({ name: s, paramsJson: s, version: fc.integer() }) }).map((x) => ({ interactiveResponseMessage: x })),
    rec({ name: s, options: fc.array(rec({ optionName: s }), { maxLength: 3 }), selectableOptionsCount: u32 }).map((x) => ({ pollCreationMessage: x })),
    rec({ groupJid: s, inviteCode: s, groupName: s, caption: s }).map((x) => ({ groupInviteMessage: x })),
    rec({ name: s, description: s }).map((x) => ({ eventMessage: x })),
    fc.constantFrom(
      { protocolMessage: { type: 0, key: { id: 'X' } } }, { protocolMessage: { type: 14 } }, { senderKeyDistributionMessage: { groupId: 'g' } },
      { messageContextInfo: { deviceListMetadataVersion: 2 } }, { keepInChatMessage: {} }, { pinInChatMessage: {} }, { encReactionMessage: {} },
      { pollUpdateMessage: {} }, { requestPhoneNumberMessage: {} }, { call: { callKey: Buffer.from('c') } }, {},
    ),
  );
  // group traffic carries a sender key and context info beside the content; wrappers nest
  const WRAPPERS = ['ephemeralMessage', 'viewOnceMessage', 'viewOnceMessageV2', 'viewOnceMessageV2Extension', 'documentWithCaptionMessage', 'editedMessage'];
  const content = fc.tuple(leaf, fc.boolean(), fc.boolean(), fc.array(fc.constantFrom(...WRAPPERS), { maxLength: 2 }))
    .map(([l, skdm, mci, wrap]) => {
      let m = { ...l };
      if (skdm) m.senderKeyDistributionMessage = { groupId: 'g', axolotlSenderKeyDistributionMessage: Buffer.from([1, 2]) };
      if (mci) m.messageContextInfo = { deviceListMetadataVersion: 2 };
      for (const w of wrap) m = { [w]: { message: m } };
      return { message: m, leaf: l };
    });

  /** Who sent it, and what the bridge can know of their phone. */
  const SHAPES_OK = ['pn', 'pn+alt', 'lid+alt', 'lid+map', 'group-pn', 'group-lid+alt', 'group-lid+map'];
  const SHAPES_BAD = ['lid', 'group-lid', 'group-none', 'other', 'junk'];
  const addr = fc.record({
    shape: fc.constantFrom(...SHAPES_OK, ...(realistic ? [] : SHAPES_BAD)),
    pn: e164User, lid: lidUser, dev: fc.nat(3), group: groupJid, other: fc.constantFrom(...OTHER_JIDS), junk: anyString, junkSuffix: fc.constantFrom('', '@s.whatsapp.net', '@lid', '@g.us'),
  }).map(({ shape, pn, lid, dev, group, other, junk, junkSuffix }) => {
    const pnJid = `${pn}@s.whatsapp.net`;
    const lidJid = `${lid}@lid`;
    const mapped = { [lidJid]: `${pn}:${dev}@s.whatsapp.net` }; // getPNForLID answers with a device
    switch (shape) {
      case 'pn': return { shape, key: { remoteJid: pnJid }, phone: `+${pn}` };
      case 'pn+alt': return { shape, key: { remoteJid: pnJid }, alt: { remoteJidAlt: lidJid }, phone: `+${pn}`, lid: lidJid };
      case 'lid+alt': return { shape, key: { remoteJid: lidJid }, alt: { remoteJidAlt: pnJid }, phone: `+${pn}`, lid: lidJid };
      case 'lid+map': return { shape, key: { remoteJid: lidJid }, lidMap: mapped, phone: `+${pn}`, lid: lidJid };
      case 'group-pn': return { shape, key: { remoteJid: group, participant: pnJid }, phone: `+${pn}`, group: true };
      case 'group-lid+alt': return { shape, key: { remoteJid: group, participant: lidJid }, alt: { participantAlt: pnJid }, phone: `+${pn}`, lid: lidJid, group: true };
      case 'group-lid+map': return { shape, key: { remoteJid: group, participant: lidJid }, lidMap: mapped, phone: `+${pn}`, lid: lidJid, group: true };
      case 'lid': return { shape, key: { remoteJid: lidJid } };
      case 'group-lid': return { shape, key: { remoteJid: group, participant: lidJid }, group: true };
      case 'group-none': return { shape, key: { remoteJid: group }, group: true };
      case 'other': return { shape, key: { remoteJid: other, participant: pnJid }, group: other.endsWith('@g.us') };
      default: return { shape, key: { remoteJid: junk + junkSuffix, participant: junk }, group: junkSuffix === '@g.us' };
    }
  });

  const id = realistic
    ? fc.oneof(fc.string({ unit: fc.constantFrom(...'0123456789ABCDEF'), minLength: 16, maxLength: 28 }).map((h) => `3EB0${h}`), fc.string({ minLength: 1, maxLength: 64 }))
    : fc.oneof(fc.string({ unit: fc.constantFrom(...'0123456789ABCDEF'), minLength: 16, maxLength: 28 }).map((h) => `3EB0${h}`), anyString, fc.constant('x'.repeat(129)));
  const ts = realistic
    ? fc.option(fc.oneof(fc.integer({ min: 1, max: MAX_TS }), fc.integer({ min: 1, max: MAX_TS }).map(String)), { nil: undefined })
    : fc.option(fc.oneof(fc.integer({ min: 1, max: MAX_TS }), u64, fc.constantFrom(0, '0', MAX_TS + 1, '18446744073709551615')), { nil: undefined });

  const message = fc.record({
    addr, id, content: fc.option(content, { nil: undefined, freq: 8 }),
    fromMe: fc.oneof({ weight: 6, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(undefined) }),
    messageTimestamp: ts, pushName: opt(s), stub: opt(fc.constantFrom(S.ERROR, 1, 2, 20, 27, 40)), stubParams: opt(fc.array(s, { maxLength: 2 })),
    decode: fc.boolean(), // Baileys hands over decoded protos: Longs, own empty arrays
  }).map((g) => {
    const info = { key: { ...g.addr.key, id: g.id, fromMe: g.fromMe }, message: g.content?.message, messageTimestamp: g.messageTimestamp, pushName: g.pushName };
    if (g.stub !== undefined) info.messageStubType = g.stub;
    if (g.stubParams) info.messageStubParameters = g.stubParams;
    let msg = proto.WebMessageInfo.fromObject(info);
    if (g.decode) msg = proto.WebMessageInfo.decode(proto.WebMessageInfo.encode(msg).finish());
    Object.assign(msg.key, g.addr.alt); // 7.x alt addressing is not a proto field
    return { msg, g };
  });
  return { message, addr };
}

const REAL = shapes(true);
const ANY = shapes(false);
const batchOf = (m) => fc.array(m, { minLength: 1, maxLength: 3 }).chain((ms) =>
  // sometimes the same message twice (notify after append): one forward only
  fc.boolean().map((dup) => (dup ? [...ms, ms[0]] : ms)));

// ---- the contract ----------------------------------------------------------------------

/** The shape of a forwarded message payload (independent of what ingress checks). */
function assertMessagePayload(p) {
  assert.equal(p.event, 'message');
  assert.equal(typeof p.remoteJid, 'string');
  assert.equal(typeof p.messageId, 'string');
  assert.ok(p.messageId.length > 0);
  assert.ok(MESSAGE_TYPES.includes(p.type), p.type);
  assert.ok(p.text === null || typeof p.text === 'string');
  assert.ok(p.pushName === null || (typeof p.pushName === 'string' && p.pushName.length > 0));
  assert.ok(p.phone === null || /^\+[^@]*$/.test(p.phone), p.phone);
  assert.ok(p.lid === null || p.lid.endsWith('@lid'), p.lid);
  assert.equal(p.fromMe, false);
  assert.equal(p.media !== null, MEDIA_TYPES.includes(p.type), 'media iff a media type');
  if (p.media) {
    // available: {url, mimetype, size, fileName}; not: url null and why, in unavailable
    const available = p.media.url !== null;
    assert.deepEqual(Object.keys(p.media).sort(), available ? ['fileName', 'mimetype', 'size', 'url'] : ['fileName', 'mimetype', 'size', 'unavailable', 'url']);
    if (available) assert.match(p.media.url, /^http:\/\/bridge\.test\/media\/[0-9a-f]{32}$/);
    else {
      assert.equal(typeof p.media.unavailable, 'string');
      assert.match(p.media.unavailable, /^(download_failed|too_large): \S/);
      assert.ok(Buffer.byteLength(p.media.unavailable) <= MEDIA_UNAVAILABLE_MAX);
    }
    assert.ok(p.media.mimetype === null || typeof p.media.mimetype === 'string');
    assert.ok(p.media.size === null || (Number.isSafeInteger(p.media.size) && p.media.size >= 0), `size ${p.media.size}`);
  }
  assert.equal('location' in p, p.type === 'location');
  assert.equal('participant' in p, p.remoteJid.endsWith('@g.us'));
}

/** Why ingress refuses a body, when that is a gap this suite already knows (see the todo tests). */
function knownGap(verdict, p) {
  const r = verdict.reason || '';
  if (r.includes('\\u0000')) return 'U+0000 in a string';
  if (r.startsWith('no phone number') && p.phone === null) return 'no phone (unmapped LID, no participant, not a PN JID)';
  if (r.startsWith('phone is not') && p.phone && !waPhoneE164(p.phone)) return 'PN JID user is not an 8-15 digit number';
  if (r.startsWith('remoteJid is required') && (!p.remoteJid.includes('@') || bytes(p.remoteJid) > 128)) return 'remoteJid not user@server or over 128 bytes';
  if (r.startsWith('messageId is required') && bytes(p.messageId) > 128) return 'messageId over 128 bytes';
  if (r.startsWith('timestamp must') || (r.includes('too big integer') && !Number.isSafeInteger(p.timestamp))) return 'timestamp 0 or past year 3000';
  if (r.startsWith('location must') && (p.location?.latitude === null || p.location?.longitude === null)) return 'location without (finite) coordinates';
  if (r.includes('too big integer') && [p.location?.latitude, p.location?.longitude].some((x) => Number.isInteger(x) && Math.abs(x) >= 2 ** 63)) return 'location coordinate an integral double past int64';
  if (r.startsWith('idempotencyKey must') && bytes(p.idempotencyKey) > WA_KEY_MAX) return `idempotencyKey over ${WA_KEY_MAX} bytes`;
  return null;
}

// ---- properties: messages --------------------------------------------------------------

const DOWNLOAD_OUTCOMES = [true, true, false, 'too_large']; // mediaOk

test('property: realistic Baileys messages never throw, and every message forwarded is one ingress accepts', async (t) => {
  let forwarded = 0;
  let unavailable = 0;
  const byType = {};
  await fc.assert(fc.asyncProperty(batchOf(REAL.message), fc.boolean(), fc.constantFrom(...DOWNLOAD_OUTCOMES), downloadError, selfIdArb(true), async (batch, groups, mediaOk, failWith, selfId) => {
    const lidMap = Object.assign({}, ...batch.map((b) => b.g.addr.lidMap));
    const { thrown, posted } = await runInbound({ upserts: [{ messages: batch.map((b) => b.msg), type: 'notify' }], groups, lidMap, mediaOk, failWith, selfId });
    assert.deepEqual(thrown, [], 'the handler threw');
    const seen = new Set();
    for (const { chat, body } of posted) {
      forwarded++;
      const p = JSON.parse(body);
      byType[p.type] = (byType[p.type] || 0) + 1;
      assertMessagePayload(p);
      assert.equal(chat, p.remoteJid);
      assert.equal(p.self, selfOf(selfId), 'self: our number from the socket\'s user id');
      const v = ingressVerdict(body);
      assert.equal(v.status, 200, `ingress would refuse (${v.status} ${v.reason}): ${clip(body)}`);
      // it is one of the batch's messages, forwarded once, and one that should be
      const k = `${p.remoteJid}|${p.messageId}`;
      assert.ok(!seen.has(k), 'forwarded twice');
      seen.add(k);
      const src = batch.find((b) => b.msg.key.remoteJid === p.remoteJid && b.msg.key.id === p.messageId);
      assert.ok(src, 'forwarded a message that was not given');
      const { g } = src;
      assert.notEqual(g.fromMe, true, 'own echo forwarded');
      assert.ok(groups || !g.addr.group, 'group message forwarded with groups off');
      assert.ok(g.content, 'a message without content (stub) forwarded');
      assert.equal(p.phone, g.addr.phone);
      assert.equal(p.lid, g.addr.lid ?? null);
      if (g.messageTimestamp !== undefined) assert.equal(p.timestamp, Number(g.messageTimestamp));
      const leaf = g.content.leaf;
      if (leaf.conversation !== undefined && Object.keys(leaf).length === 1) assert.equal(p.text, leaf.conversation || null);
      if (leaf.extendedTextMessage) assert.equal(p.text, leaf.extendedTextMessage.text ?? null);
      if (p.media && mediaOk === true) assert.equal(p.media.size, 4242, 'size from the downloaded file');
      if (p.media && mediaOk !== true) {
        unavailable++;
        // not available: url null, the reason, and the rest as WhatsApp gave it (text and caption kept)
        assert.equal(p.media.url, null);
        assert.ok(p.media.unavailable.startsWith(mediaOk === 'too_large' ? 'too_large: ' : 'download_failed: '), p.media.unavailable);
        if (mediaOk === false) assert.match(p.media.unavailable, / after 5 tries$/);
        const m = Object.values(g.content.leaf)[0];
        assert.equal(p.media.mimetype, m.mimetype ?? null);
        const fl = m.fileLength === undefined ? null : Number(m.fileLength);
        assert.equal(p.media.size, Number.isSafeInteger(fl) ? fl : null);
      }
    }
  }), runs(500));
  t.diagnostic(`forwarded: ${forwarded} ${JSON.stringify(byType)}, media unavailable: ${unavailable}`);
  assert.ok(forwarded > 200, `too few forwarded messages to be meaningful: ${forwarded}`);
  assert.ok(unavailable > 20, `too few unavailable media items to be meaningful: ${unavailable}`);
});

test('property: any proto-shaped message never throws; every ingress refusal is a known gap', async (t) => {
  const gaps = {};
  await fc.assert(fc.asyncProperty(batchOf(ANY.message), fc.boolean(), fc.constantFrom(...DOWNLOAD_OUTCOMES), downloadError, selfIdArb(false), async (batch, groups, mediaOk, failWith, selfId) => {
    const lidMap = Object.assign({}, ...batch.map((b) => b.g.addr.lidMap));
    const { thrown, posted } = await runInbound({ upserts: [{ messages: batch.map((b) => b.msg), type: 'append' }], groups, lidMap, mediaOk, failWith, selfId });
    assert.deepEqual(thrown, [], 'the handler threw');
    for (const { body } of posted) {
      const p = JSON.parse(body);
      assertMessagePayload(p);
      const v = ingressVerdict(body);
      if (v.status === 200) continue;
      const gap = knownGap(v, p);
      assert.ok(gap, `ingress would refuse (${v.status} ${v.reason}) for a reason not known: ${clip(body)}`);
      gaps[gap] = (gaps[gap] || 0) + 1;
    }
  }), runs(500));
  t.diagnostic(`known gaps hit: ${JSON.stringify(gaps)}`);
});

test('property: plain-object junk in messages.upsert never escapes the handler (the event loop keeps going)', async (t) => {
  const CONTENT_KEYS = ['conversation', 'extendedTextMessage', 'imageMessage', 'documentMessage', 'locationMessage', 'reactionMessage',
    'ephemeralMessage', 'protocolMessage', 'listResponseMessage', 'interactiveResponseMessage', '__proto__', 'constructor'];
  const junk = fc.anything({ maxDepth: 2, withNullPrototype: true, withBigInt: true, stringUnit: 'binary', key: fc.oneof(fc.string(), fc.constantFrom(...CONTENT_KEYS)) });
  const msg = fc.oneof(
    junk,
    fc.record({
      key: fc.oneof(junk, fc.record({ remoteJid: fc.oneof(junk, fc.constantFrom('972501234567@s.whatsapp.net', '1@lid', '1@g.us')), id: fc.oneof(junk, fc.string({ minLength: 1 })), fromMe: junk }, { requiredKeys: [] })),
      message: fc.oneof(junk, fc.dictionary(fc.constantFrom(...CONTENT_KEYS), junk, { maxKeys: 3 })),
      messageTimestamp: junk, pushName: junk, messageStubType: junk,
    }, { requiredKeys: [] }),
  );
  let caught = 0;
  await fc.assert(fc.asyncProperty(fc.array(msg, { maxLength: 3 }), junk, async (messages, type) => {
    // resolves (does not reject or hang) whatever the batch holds; what throws inside is
    // caught and logged by the handlers' serial chain
    const { thrown } = await runInbound({ upserts: [{ messages, type }], groups: true });
    caught += thrown.length;
  }), runs(300));
  t.diagnostic(`batches whose handling threw (caught, logged): ${caught}`);
});

// ---- properties: receipts --------------------------------------------------------------

const pnJid = e164User.map((u) => `${u}@s.whatsapp.net`);
const updateArb = (realistic) => fc.record({
  remoteJid: realistic ? pnJid : fc.oneof(pnJid, REAL.addr.map((a) => a.key.remoteJid), fc.constantFrom(...OTHER_JIDS)),
  id: fc.constantFrom('OUT1', 'OUT2', 'OUT3'),
  fromMe: fc.oneof({ weight: 5, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
  status: fc.oneof({ weight: 8, arbitrary: fc.integer({ min: 0, max: 5 }) }, { weight: 1, arbitrary: fc.constantFrom(undefined, null, 6, -1) }),
  ts: realistic ? fc.option(fc.integer({ min: 1, max: MAX_TS }), { nil: undefined }) : fc.option(fc.oneof(fc.integer(), fc.constant(MAX_TS + 1)), { nil: undefined }),
  stubParams: fc.option(fc.array(fc.oneof(fc.string(), fc.integer()), { maxLength: 2 }), { nil: undefined }),
}).map((u) => ({ key: { remoteJid: u.remoteJid, id: u.id, fromMe: u.fromMe }, update: { status: u.status, messageTimestamp: u.ts, messageStubParameters: u.stubParams } }));

const receiptArb = (realistic) => fc.record({
  remoteJid: fc.oneof(pnJid, groupJid),
  id: fc.constantFrom('OUT1', 'OUT2'),
  // Baileys always names the reader; realistic ones are phone JIDs (an unmapped LID has no phone)
  userJid: realistic ? pnJid : fc.option(fc.oneof(pnJid, lidUser.map((l) => `${l}@lid`)), { nil: undefined }),
  which: fc.constantFrom('receiptTimestamp', 'readTimestamp', 'playedTimestamp'),
  ts: fc.integer({ min: 1, max: MAX_TS }),
}).map((r) => ({ key: { remoteJid: r.remoteJid, id: r.id, fromMe: true }, receipt: { userJid: r.userJid, [r.which]: r.ts } }));

const keyForArb = (realistic) => fc.option(
  realistic ? fc.string({ minLength: 1, maxLength: 60 }) : fc.oneof(fc.string({ minLength: 1, maxLength: 60 }), fc.constantFrom('k'.repeat(201), 'é'.repeat(101), 'k'.repeat(256))),
  { nil: undefined });

const STATUS_RANK = { error: 0, sent: 2, delivered: 3, read: 4, played: 5 };

test('property: receipts never throw, never go backwards, and every one forwarded is one ingress accepts', async () => {
  await fc.assert(fc.asyncProperty(fc.array(updateArb(true), { maxLength: 8 }), fc.array(receiptArb(true), { maxLength: 4 }), keyForArb(true), selfIdArb(true),
    async (updates, receipts, idemKey, selfId) => {
      const { thrown, posted } = await runInbound({ updates, receipts, groups: true, keyFor: async () => idemKey, selfId });
      assert.deepEqual(thrown, [], 'the handler threw');
      const last = new Map();
      for (const { chat, body } of posted) {
        const p = JSON.parse(body);
        assert.equal(p.event, 'status');
        assert.equal(chat, p.remoteJid);
        assert.ok(p.status in STATUS_RANK, p.status);
        assert.ok(Number.isSafeInteger(p.timestamp) && p.timestamp > 0);
        assert.equal(p.idempotencyKey, idemKey);
        assert.equal(p.self, selfOf(selfId));
        const v = ingressVerdict(body);
        assert.equal(v.status, 200, `ingress would refuse (${v.reason}): ${clip(body)}`);
        // per message (and participant), statuses only move forward; an error always passes
        const lk = `${p.messageId}|${p.participant ?? ''}`;
        if (p.status !== 'error') {
          assert.ok(!last.has(lk) || STATUS_RANK[p.status] > last.get(lk), `went backwards: ${last.get(lk)} then ${p.status}`);
          last.set(lk, Math.max(last.get(lk) ?? 0, STATUS_RANK[p.status]));
        }
      }
      // only our own messages' updates are receipts
      const ours = new Set(updates.filter((u) => u.key.fromMe).map((u) => u.key.id).concat(receipts.map((r) => r.key.id)));
      for (const { body } of posted) assert.ok(ours.has(JSON.parse(body).messageId));
    }), runs(400));
});

test('property: any receipt never throws; every ingress refusal is a known gap', async (t) => {
  const gaps = {};
  await fc.assert(fc.asyncProperty(fc.array(updateArb(false), { maxLength: 8 }), fc.array(receiptArb(false), { maxLength: 4 }), keyForArb(false), fc.boolean(), selfIdArb(false),
    async (updates, receipts, idemKey, groups, selfId) => {
      const { thrown, posted } = await runInbound({ updates, receipts, groups, keyFor: async () => idemKey, selfId });
      assert.deepEqual(thrown, [], 'the handler threw');
      for (const { body } of posted) {
        const p = JSON.parse(body);
        const v = ingressVerdict(body);
        if (v.status === 200) continue;
        const gap = knownGap(v, p);
        assert.ok(gap, `ingress would refuse (${v.status} ${v.reason}) for a reason not known: ${clip(body)}`);
        gaps[gap] = (gaps[gap] || 0) + 1;
      }
    }), runs(300));
  t.diagnostic(`known gaps hit: ${JSON.stringify(gaps)}`);
});

// ---- known gaps: each is a body the bridge forwards and ingress refuses -----------------
// node:test "todo": they run and are reported, and never fail the suite. Behaviour is
// unchanged on purpose (another issue covers these); when one is fixed, drop its todo.

const dm = '972501234567@s.whatsapp.net';
const one = (o, opts = {}) => runInbound({ upserts: [{ messages: [proto.WebMessageInfo.fromObject({ messageTimestamp: 1732400000, ...o })], type: 'notify' }], ...opts });
async function assertIngressTakes(run) {
  const { posted, thrown } = await run;
  assert.deepEqual(thrown, []);
  assert.equal(posted.length, 1, 'forwarded');
  const v = ingressVerdict(posted[0].body);
  assert.equal(v.status, 200, `ingress would answer ${v.status}: ${v.reason}\n${clip(posted[0].body)}`);
}

test('media given up after 5 failed downloads is forwarded as unavailable (url null, the reason), text kept; ingress takes it', async () => {
  const run = one({ key: { remoteJid: dm, id: 'G1' }, message: { imageMessage: { mimetype: 'image/jpeg', url: 'https://x', caption: 'look' } } }, { mediaOk: false, failWith: boom(410) });
  const { posted } = await run;
  await assertIngressTakes(run);
  const p = JSON.parse(posted[0].body);
  assert.equal(p.text, 'look');
  assert.deepEqual(p.media, { mimetype: 'image/jpeg', size: null, url: null, fileName: null, unavailable: 'download_failed: 410 Gone after 5 tries' });
});

test('media over BRIDGE_INBOUND_MEDIA_MAX_BYTES is forwarded as unavailable "too_large: …" with its declared size; ingress takes it', async () => {
  const run = one({ key: { remoteJid: dm, id: 'G1b' }, message: { videoMessage: { mimetype: 'video/mp4', url: 'https://x', fileLength: 120000000, caption: 'big' } } }, { mediaOk: 'too_large' });
  const { posted } = await run;
  await assertIngressTakes(run);
  const p = JSON.parse(posted[0].body);
  assert.equal(p.text, 'big');
  assert.deepEqual(p.media, { mimetype: 'video/mp4', size: 120000000, url: null, fileName: null, unavailable: 'too_large: 120000000 bytes over BRIDGE_INBOUND_MEDIA_MAX_BYTES (104857600)' });
});

test('a u64 fileLength past 2^53 is not written as an integer Jansson cannot hold: size null when the file is unavailable', () =>
  assertIngressTakes(one({ key: { remoteJid: dm, id: 'G1c' }, message: { documentMessage: { mimetype: 'application/pdf', url: 'https://x', fileLength: '18446744073709551615' } } }, { mediaOk: false })));

test('media without a mimetype is forwarded with mimetype null, which ingress takes', () =>
  assertIngressTakes(one({ key: { remoteJid: dm, id: 'G2' }, message: { documentMessage: { fileName: 'a.bin', url: 'https://x' } } })));

test('known gap: a LID sender with no known phone is forwarded with phone null', { todo: 'ingress needs a phone (or a PN remoteJid): 400 "a LID needs its phone mapping"' }, () =>
  assertIngressTakes(one({ key: { remoteJid: '123456789012345@lid', id: 'G3' }, message: { conversation: 'hi' } })));

test('known gap: a group message from an unmapped LID participant is forwarded with phone null', { todo: 'as for LID senders: 400' }, () =>
  assertIngressTakes(one({ key: { remoteJid: '120363000000000000@g.us', id: 'G4', participant: '123456789012345@lid' }, message: { conversation: 'hi' } }, { groups: true })));

test('known gap: a location without coordinates is forwarded with latitude/longitude null', { todo: 'ingress requires both coordinates: 400' }, () =>
  assertIngressTakes(one({ key: { remoteJid: dm, id: 'G5' }, message: { locationMessage: { name: 'somewhere' } } })));

test('known gap: a location coordinate that is an integral double past int64 (e.g. 1e19) is written as an integer Jansson cannot hold', { todo: 'ingress: invalid JSON "too big integer": 400' }, () =>
  assertIngressTakes(one({ key: { remoteJid: dm, id: 'G5b' }, message: { locationMessage: { degreesLatitude: 1e19, degreesLongitude: 0 } } })));

test('known gap: a 7-digit number (Niue +683, St Helena +290) is forwarded; ingress wants 8 to 15 digits', { todo: 'wa_phone_e164 refuses fewer than 8 digits (the bridge\'s toJid takes 7): 400' }, () =>
  assertIngressTakes(one({ key: { remoteJid: '6834002@s.whatsapp.net', id: 'G5c' }, message: { conversation: 'hi' } })));

test('known gap: a text holding U+0000 is forwarded as "\\u0000", which Jansson refuses', { todo: 'ingress parses without JSON_ALLOW_NUL: 400 invalid JSON' }, () =>
  assertIngressTakes(one({ key: { remoteJid: dm, id: 'G6' }, message: { conversation: 'a\u0000b' } })));

test('known gap: messageTimestamp 0 (or past year 3000) is forwarded as is', { todo: 'ingress wants 1..32503680000: 400' }, () =>
  assertIngressTakes(one({ key: { remoteJid: dm, id: 'G7' }, messageTimestamp: 0, message: { conversation: 'hi' } })));

test('the longest text WhatsApp carries (65,536 characters, Hebrew and emoji too) makes a body ingress takes', () => {
  assertIngressTakes(one({ key: { remoteJid: dm, id: 'G8' }, message: { conversation: 'x'.repeat(65536) } }));
  assertIngressTakes(one({ key: { remoteJid: dm, id: 'G9' }, message: { conversation: 'שלום😀'.repeat(10923).slice(0, 65536) } }));
});

test('known gap: receipts name an idempotencyKey /send took (up to 256 characters) that ingress refuses over 200 bytes', { todo: 'WA_KEY_MAX is 200 bytes in ingress, /send allows 256 UTF-16 units: 400' }, async () => {
  const { posted } = await runInbound({ updates: [{ key: { remoteJid: dm, id: 'OUT9', fromMe: true }, update: { status: S.DELIVERY_ACK } }], keyFor: async () => 'k'.repeat(256) });
  assert.equal(posted.length, 1);
  assert.equal(ingressVerdict(posted[0].body).status, 200);
});

test('known gap: one malformed (non-proto) message drops the rest of its messages.upsert batch', { todo: 'handleMessage throws inside the batch loop; Baileys hands over protos, so only reachable with hand-built objects' }, async () => {
  const good = proto.WebMessageInfo.fromObject({ key: { remoteJid: dm, id: 'G10' }, messageTimestamp: 1732400000, message: { conversation: 'after the bad one' } });
  const bad = { key: { remoteJid: dm, id: 'G9' }, message: { extendedTextMessage: null } };
  const { posted } = await runInbound({ upserts: [{ messages: [bad, good], type: 'notify' }] });
  assert.equal(posted.length, 1);
});
