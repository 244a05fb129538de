// Property tests (fast-check) for the parsing of POST /send bodies: buildContent(),
// sender.send() and the HTTP route. Random JSON (wrong types, huge numbers, nested junk,
// __proto__/constructor keys), near-valid bodies and raw bytes.
// A failure prints fast-check's seed and shrunk counterexample; FC_SEED=<n> replays
// another seed, FC_RUNS=<factor> scales the number of runs.
import test from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import fc from 'fast-check';
import { buildContent, createSender, HttpError } from '../src/sender.js';
import { silent, startBridge, tmpDir, SECRET } from './helpers.js';

const SEED = Number(process.env.FC_SEED ?? 20251130);
const runs = (n) => ({ seed: SEED, numRuns: Math.max(1, Math.round(n * Number(process.env.FC_RUNS ?? 1))) });

// ---- arbitraries -----------------------------------------------------------------------

const FIELDS = ['to', 'type', 'text', 'idempotencyKey', 'mediaUrl', 'caption', 'mimetype', 'fileName'];
const NASTY_KEYS = ['__proto__', 'constructor', 'prototype', 'toString', 'valueOf', 'hasOwnProperty', 'then', 'length', ''];
const NASTY_STRINGS = ['', ' ', '\u0000', '\ud800', '\udfff', 'a\u0000b', '\u202e', '\ufeff', '%00', 'null', 'true', '0', '-1',
  '__proto__', '{}', 'text', 'media', 'TEXT', ' text', 'https://x/a.jpg', '+972501234567', '972501234567@s.whatsapp.net'];
const str = fc.oneof(fc.string({ unit: 'binary', maxLength: 30 }), fc.string({ maxLength: 12 }), fc.constantFrom(...NASTY_STRINGS));

/** JSON text as the wire has it: any value, with duplicate, __proto__ and constructor keys. */
const jsonText = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: 'small', maxDepth: 4 }, tie('scalar'), tie('array'), tie('object')),
  scalar: fc.oneof(
    fc.constantFrom('null', 'true', 'false', '-0', '0.0', '1e400', '-1e400', '1e-400', '123456789012345678901234567890', '9007199254740993'),
    fc.double({ noNaN: true, noDefaultInfinity: true }).map((d) => JSON.stringify(d)),
    fc.integer().map(String),
    str.map((s) => JSON.stringify(s)),
  ),
  array: fc.array(tie('value'), { maxLength: 4 }).map((a) => `[${a.join(',')}]`),
  object: fc.array(fc.tuple(fc.oneof(fc.constantFrom(...FIELDS, ...NASTY_KEYS), str), tie('value')), { maxLength: 8 })
    .map((es) => `{${es.map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(',')}}`),
})).value;

const anyJson = jsonText.map((t) => JSON.parse(t));

const digit = fc.constantFrom(...'0123456789');
const sep = fc.constantFrom(' ', '-', '(', ')', '\u00a0', '\t', '.', '/', '+', 'x', '٣');
const phoneLike = fc.tuple(fc.constantFrom('', '', '+', '++', ' +', '00'), fc.array(fc.oneof({ weight: 8, arbitrary: digit }, { weight: 1, arbitrary: sep }), { maxLength: 19 }))
  .map(([p, cs]) => p + cs.join(''));
const jidLike = fc.oneof(
  fc.constantFrom('972501234567@s.whatsapp.net', '123456789012345@lid', '120363000000000000@g.us', 'status@broadcast', '972501234567@c.us',
    '972501234567:3@s.whatsapp.net', 'a b@lid', '@g.us', 'x@s.whatsapp.net', ' 972501234567@s.whatsapp.net ', '1@s.whatsapp.net@lid'),
  fc.tuple(str, fc.constantFrom('@s.whatsapp.net', '@lid', '@g.us', '@newsletter', '@')).map(([a, b]) => a + b),
);
const EXTS = ['jpg', 'JPEG', 'png', 'webp', 'mp4', '3gp', 'ogg', 'opus', 'mp3', 'm4a', 'aac', 'pdf', 'PDF', 'txt', 'exe', '', 'jpg.exe', 'tar.gz'];
const mediaUrlLike = fc.oneof(
  fc.tuple(fc.webUrl({ validSchemes: ['http', 'https'], withQueryParameters: true, withFragments: true }), fc.constantFrom(...EXTS))
    .map(([u, e]) => { const x = new URL(u); x.pathname += `/file${e ? `.${e}` : ''}`; return x.toString(); }),
  fc.webUrl({ validSchemes: ['http', 'https', 'ftp', 'file', 'data', 'javascript', 'ws'] }),
  fc.constantFrom('http://', 'https:', '//cdn.example/a.jpg', '/a.jpg', 'a.jpg', 'http://[::1]/a.mp4', 'http://x/.ogg', 'HTTPS://X/Y.PNG',
    'http://x/a%2F..%2Fb.pdf', 'http://x/y.jpg?x=.mp4', 'http://user:pass@host/a.png', 'http://x/\u0000.jpg', 'https://x/ a.jpg'),
);
const mimeLike = fc.oneof(fc.constantFrom('image/jpeg', 'video/mp4', 'audio/ogg; codecs=opus', 'application/pdf', 'image/', 'video', 'IMAGE/PNG', 'text/plain', ''), str);
/** Either a field's good value, a junk value, or no field at all. */
const field = (good) => fc.oneof({ weight: 14, arbitrary: good }, { weight: 1, arbitrary: anyJson }, { weight: 1, arbitrary: fc.constant(undefined) });
const e164 = fc.tuple(fc.constantFrom(...'123456789'), fc.string({ unit: digit, minLength: 6, maxLength: 14 })).map(([a, b]) => a + b);

/** Bodies that are mostly right, so the deeper checks are reached. */
const nearlyValid = fc.record({
  to: field(fc.oneof({ weight: 3, arbitrary: e164.map((d) => `+${d}`) }, { weight: 1, arbitrary: phoneLike }, { weight: 1, arbitrary: jidLike })),
  type: field(fc.constantFrom('text', 'media')),
  text: field(fc.oneof({ weight: 3, arbitrary: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 40 }) }, str, fc.constantFrom('x'.repeat(65536), 'x'.repeat(65537), ' \n\t'))),
  idempotencyKey: field(fc.oneof({ weight: 3, arbitrary: fc.string({ minLength: 1, maxLength: 40 }) }, str, fc.constantFrom('k'.repeat(256), 'k'.repeat(257), '   '))),
  mediaUrl: field(mediaUrlLike),
  caption: field(fc.oneof(str, fc.constant(null))),
  mimetype: field(mimeLike),
  fileName: field(str),
}).map((b) => JSON.parse(JSON.stringify(b))); // what JSON.parse of the wire gives (undefined fields gone)

const anyBody = fc.oneof({ weight: 1, arbitrary: anyJson }, { weight: 3, arbitrary: nearlyValid });

// ---- the contract ----------------------------------------------------------------------

const JID_RE = /^[0-9A-Za-z.:_-]+@(s\.whatsapp\.net|lid|g\.us)$/;
const KINDS = ['image', 'video', 'audio', 'document'];

/** A refusal: HttpError 400 {ok:false, error:'bad_request', reason:<non-empty string>}. */
function assertRefusal(err) {
  assert.ok(err instanceof HttpError, `not an HttpError: ${err?.stack || err}`);
  assert.equal(err.status, 400);
  assert.deepEqual(Object.keys(err.body).sort(), ['error', 'ok', 'reason']);
  assert.equal(err.body.ok, false);
  assert.equal(err.body.error, 'bad_request');
  assert.equal(typeof err.body.reason, 'string');
  assert.ok(err.body.reason.length > 0);
}

/** What an accepted body promises about the {jid, content} handed to Baileys. */
function assertAccepted(body, r) {
  assert.ok(body && typeof body === 'object' && !Array.isArray(body));
  const k = body.idempotencyKey;
  assert.equal(typeof k, 'string');
  assert.ok(k.trim().length > 0 && k.length <= 256);
  assert.deepEqual(Object.keys(r).sort(), ['content', 'jid']);

  assert.equal(typeof body.to, 'string');
  const to = body.to.trim();
  if (to.includes('@')) {
    assert.equal(r.jid, to); // a JID is taken as given
    assert.match(r.jid, JID_RE);
  } else {
    // a phone: only a leading '+', separators and ASCII digits; the JID keeps exactly those digits
    assert.match(to, /^\+?[\s\-()0-9]+$/);
    assert.match(r.jid, /^[1-9]\d{6,14}@s\.whatsapp\.net$/);
    assert.equal(r.jid, `${to.replace(/\D/g, '')}@s.whatsapp.net`);
  }

  if (body.type === 'text') {
    assert.equal(typeof body.text, 'string');
    assert.ok(body.text.trim().length > 0 && body.text.length <= 65536);
    assert.deepEqual(r.content, { text: body.text });
    return;
  }
  assert.equal(body.type, 'media');
  assert.equal(typeof body.mediaUrl, 'string', 'only a string mediaUrl is taken');
  assert.ok(body.fileName === undefined || body.fileName === null || typeof body.fileName === 'string', 'fileName, when given, is a string');
  const u = new URL(body.mediaUrl);
  assert.ok(u.protocol === 'http:' || u.protocol === 'https:');
  const kinds = KINDS.filter((kind) => kind in r.content);
  assert.equal(kinds.length, 1, `exactly one media kind: ${JSON.stringify(r.content)}`);
  const kind = kinds[0];
  assert.deepEqual(r.content[kind], { url: u.toString() });
  assert.equal(typeof r.content.mimetype, 'string');
  assert.ok(r.content.mimetype.length > 0);
  if (typeof body.mimetype === 'string' && body.mimetype) {
    assert.equal(r.content.mimetype, body.mimetype); // the caller's mimetype wins
    if (kind !== 'document') assert.ok(body.mimetype.startsWith(`${kind}/`));
  }
  assert.ok(body.caption === undefined || body.caption === null || typeof body.caption === 'string');
  if (kind === 'audio') assert.equal('caption' in r.content, false);
  else assert.equal(r.content.caption, body.caption || undefined);
  if (kind === 'document') {
    assert.equal(typeof r.content.fileName, 'string');
    assert.ok(r.content.fileName, 'a document always has a file name');
  }
}

function protoSnapshot() {
  return [Object.getOwnPropertyNames(Object.prototype).sort().join(','), Object.getOwnPropertyNames(Array.prototype).length];
}

// ---- properties ------------------------------------------------------------------------

test('property: buildContent() accepts with a well-formed result or refuses with a 400 bad_request, never anything else', () => {
  const before = protoSnapshot();
  let accepted = 0;
  fc.assert(fc.property(anyBody, (body) => {
    let r;
    try {
      r = buildContent(body);
    } catch (err) {
      assertRefusal(err);
      return;
    }
    accepted++;
    assertAccepted(body, r);
  }), runs(1000));
  assert.deepEqual(protoSnapshot(), before, 'Object/Array prototypes unchanged');
  assert.equal({}.idempotencyKey, undefined);
  assert.ok(accepted > 50, `too few accepted bodies to be meaningful: ${accepted}`);
});

test('property: any E.164 number, written with separators, becomes its digits @s.whatsapp.net', () => {
  const written = fc.tuple(e164, fc.array(fc.constantFrom(' ', '-', '(', ')', '\u00a0', '\u2009'), { maxLength: 6 }), fc.array(fc.nat(), { maxLength: 6 }), fc.boolean())
    .map(([d, seps, at, plus]) => {
      const cs = [...d];
      seps.forEach((s, i) => cs.splice(1 + ((at[i] ?? 0) % cs.length), 0, s));
      return [d, `${plus ? '+' : ''}${cs.join('')}`];
    });
  fc.assert(fc.property(written, fc.string({ minLength: 1, maxLength: 20 }).filter((s) => s.trim()), ([d, to], text) => {
    const { jid, content } = buildContent({ to: ` ${to} `, type: 'text', text, idempotencyKey: 'k' });
    assert.equal(jid, `${d}@s.whatsapp.net`);
    assert.deepEqual(content, { text });
  }), runs(500));
});

test('property: sender.send() always resolves to {status, body}: 200 with a messageId, or a 400 with a reason; a repeat is a duplicate', async (t) => {
  const stateDir = await tmpDir(t);
  const calls = [];
  let n = 0;
  const sock = {
    user: { id: '972500000001:1@s.whatsapp.net' },
    async sendMessage(jid, content, opts) {
      calls.push({ jid, content, opts });
      return { key: { remoteJid: jid, id: opts.messageId, fromMe: true }, message: { conversation: 'x' } };
    },
  };
  const sender = createSender({ stateDir, getSock: () => sock, isConnected: () => true, rate: 1e9, logger: silent, metrics: null });
  const before = protoSnapshot();
  await fc.assert(fc.asyncProperty(anyBody, async (raw) => {
    // a fresh key per run (same length class), so no body is answered from an earlier run's record
    const k = raw?.idempotencyKey;
    const fresh = (p) => (k.length > 200 ? (p + k).slice(0, k.length) : p + k);
    const body = raw && typeof raw === 'object' && !Array.isArray(raw) && typeof k === 'string' && k.trim() && k.length <= 256
      ? { ...raw, idempotencyKey: fresh(`${++n}#`) } : raw;
    calls.length = 0;
    const r = await sender.send(body);
    assert.deepEqual(Object.keys(r).sort(), ['body', 'status']);
    assert.doesNotThrow(() => JSON.stringify(r.body));
    let expected;
    try { expected = buildContent(body); } catch (err) { expected = err; }
    if (expected instanceof Error) {
      assert.equal(r.status, 400);
      assert.deepEqual(r.body, expected.body);
      assert.equal(calls.length, 0, 'a refused body never reaches Baileys');
      return;
    }
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.ok, true);
    assert.equal(typeof r.body.messageId, 'string');
    assert.ok(r.body.messageId.length > 0);
    assert.equal(calls.length, 1);
    assert.equal(calls[0].jid, expected.jid);
    assert.deepEqual(calls[0].content, expected.content);
    assert.equal(calls[0].opts.messageId, r.body.messageId);
    const again = await sender.send(JSON.parse(JSON.stringify(body)));
    assert.deepEqual(again, { status: 200, body: { ok: true, messageId: r.body.messageId, duplicate: true } });
    assert.equal(calls.length, 1, 'the repeat is not sent again');
  }), runs(300));
  assert.deepEqual(protoSnapshot(), before);
});

test('property: POST /send with any bytes answers JSON: 200, or 400 with a reason; never a 5xx', async (t) => {
  const b = await startBridge(t, { BRIDGE_STATE_DIR: await tmpDir(t), BRIDGE_SEND_RATE: '1000000' });
  const rawBody = fc.oneof(
    { weight: 3, arbitrary: anyBody.map((v) => Buffer.from(JSON.stringify(v) ?? '')) },
    { weight: 2, arbitrary: jsonText.map((s) => Buffer.from(s)) },
    { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 60 }).map((s) => Buffer.from(s)) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 60 }).map((a) => Buffer.from(a)) }, // not UTF-8 either
    { weight: 1, arbitrary: jsonText.chain((s) => fc.nat(s.length).map((i) => Buffer.from(s.slice(0, i)))) }, // truncated
  );
  let n = 0;
  await fc.assert(fc.asyncProperty(rawBody, async (buf) => {
    n++;
    const res = await fetch(`${b.url}/send`, { method: 'POST', headers: { 'x-baileys-secret': SECRET, 'content-type': 'application/json' }, body: buf });
    const text = await res.text();
    assert.match(res.headers.get('content-type') || '', /^application\/json/);
    const j = JSON.parse(text);
    assert.ok(res.status === 200 || res.status === 400, `status ${res.status}: ${text}`);
    if (res.status === 400) {
      assert.equal(j.ok, false);
      assert.equal(j.error, 'bad_request');
      assert.equal(typeof j.reason, 'string');
    } else {
      assert.equal(j.ok, true);
      assert.equal(typeof j.messageId, 'string');
    }
  }), runs(200));
  assert.ok(n > 0);
});

// ---- formerly known gaps (fixed) -------------------------------------------------------

test('a non-string "mediaUrl" is refused with 400 bad_request (String() of ["https://…"] would be a URL)', () => {
  for (const mediaUrl of [['https://cdn.example/a.jpg'], { toString: () => 'https://cdn.example/a.jpg' }, new URL('https://cdn.example/a.jpg'), 42]) {
    const err = (() => { try { buildContent({ to: '+972501234567', type: 'media', mediaUrl, idempotencyKey: 'k' }); } catch (e) { return e; } return null; })();
    assertRefusal(err);
    assert.match(err.body.reason, /"mediaUrl" must be a string/);
  }
});

test('a non-string "fileName" is refused with 400 bad_request; a string or no fileName is taken', () => {
  for (const fileName of [{ a: 1 }, ['a.pdf'], 7, true]) {
    const err = (() => { try { buildContent({ to: '+972501234567', type: 'media', mediaUrl: 'https://cdn.example/a.pdf', fileName, idempotencyKey: 'k' }); } catch (e) { return e; } return null; })();
    assertRefusal(err);
    assert.match(err.body.reason, /"fileName" must be a string/);
  }
  assert.equal(buildContent({ to: '+972501234567', type: 'media', mediaUrl: 'https://cdn.example/a.pdf', fileName: 'חוזה.pdf', idempotencyKey: 'k' }).content.fileName, 'חוזה.pdf');
  assert.equal(buildContent({ to: '+972501234567', type: 'media', mediaUrl: 'https://cdn.example/a.pdf', fileName: null, idempotencyKey: 'k' }).content.fileName, 'a.pdf');
});

for (const size of [(1 << 20) + 1, 16 << 20]) {
  test(`a /send body over 1 MiB (${size} bytes) gets the 413 body_too_large answer, then the connection closes`, async (t) => {
    const b = await startBridge(t, { BRIDGE_STATE_DIR: await tmpDir(t) });
    const res = await fetch(`${b.url}/send`, { method: 'POST', headers: { 'x-baileys-secret': SECRET }, body: 'x'.repeat(size) });
    assert.equal(res.status, 413);
    assert.equal(res.headers.get('connection'), 'close');
    assert.deepEqual(await res.json(), { ok: false, error: 'body_too_large', reason: 'limit is 1048576 bytes' });
    // the bridge still answers afterwards
    const ok = await fetch(`${b.url}/send`, { method: 'POST', headers: { 'x-baileys-secret': SECRET }, body: JSON.stringify({ to: '+972501234567', type: 'text', text: 'x', idempotencyKey: `after-${size}` }) });
    assert.equal(ok.status, 200);
  });
}

test('after the 413 the bridge closes the connection itself (raw socket: the answer, then end of stream)', async (t) => {
  const b = await startBridge(t, { BRIDGE_STATE_DIR: await tmpDir(t) });
  const { port } = new URL(b.url);
  const size = 2 << 20;
  const sock = net.connect(Number(port), '127.0.0.1');
  t.after(() => sock.destroy());
  const chunks = [];
  const ended = new Promise((resolve, reject) => {
    sock.on('data', (c) => chunks.push(c));
    sock.on('end', resolve);
    sock.on('error', reject);
  });
  sock.write(`POST /send HTTP/1.1\r\nHost: x\r\nX-BAILEYS-SECRET: ${SECRET}\r\nContent-Type: application/json\r\nContent-Length: ${size}\r\n\r\n`);
  sock.write(Buffer.alloc(size, 0x78));
  await ended; // the server ends the connection (keep-alive would leave it open)
  const text = Buffer.concat(chunks).toString();
  assert.match(text, /^HTTP\/1\.1 413 /);
  assert.match(text, /\r\nconnection: close\r\n/i);
  assert.match(text, /"error":"body_too_large"/);
});
