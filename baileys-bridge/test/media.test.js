// Media: real Baileys encryption served from loopback, real downloadMediaMessage decrypting it.
import test from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import fs from 'node:fs/promises';
import crypto from 'node:crypto';
import path from 'node:path';
import { encryptedStream, downloadMediaMessage, proto } from 'baileys';
import { MediaCache, MediaTooLarge, mediaIdFor, httpStatusOf } from '../src/media.js';
import { bridgeMetrics } from '../src/metrics.js';
import { silent, tmpDir, waitFor } from './helpers.js';

async function cdn(t, encFilePath, { failFirst = 0 } = {}) {
  let fails = failFirst;
  const hits = [];
  const server = http.createServer(async (req, res) => {
    hits.push(req.url);
    if (req.url.startsWith('/old') && fails-- > 0) return res.writeHead(410).end();
    res.writeHead(200).end(await fs.readFile(encFilePath));
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise((r) => { server.closeAllConnections(); server.close(r); }));
  return { base: `http://127.0.0.1:${server.address().port}`, hits };
}

async function encryptedImage(t) {
  const plain = crypto.randomBytes(50000);
  const enc = await encryptedStream(plain, 'image', { logger: silent });
  t.after(() => fs.rm(enc.encFilePath, { force: true }));
  return { plain, enc };
}

const imageMsg = (url, enc) => proto.WebMessageInfo.fromObject({
  key: { remoteJid: '972501234567@s.whatsapp.net', id: crypto.randomBytes(8).toString('hex').toUpperCase(), fromMe: false },
  message: { imageMessage: { url, mimetype: 'image/jpeg', mediaKey: enc.mediaKey, fileSha256: enc.fileSha256, fileEncSha256: enc.fileEncSha256, fileLength: enc.fileLength } },
});

test('download + decrypt into the cache, served bytes equal the original', async (t) => {
  const { plain, enc } = await encryptedImage(t);
  const { base } = await cdn(t, enc.encFilePath);
  const cache = new MediaCache({ dir: path.join(await tmpDir(t), 'media'), ttlS: 60, logger: silent });
  t.after(() => cache.close());
  const msg = imageMsg(`${base}/ok`, enc);
  const id = mediaIdFor(msg.key);
  const meta = await cache.fetch(id, msg, null, { mimetype: 'image/jpeg', fileName: null });
  assert.equal(meta.size, plain.length);
  const hit = await cache.get(id);
  assert.deepEqual(await fs.readFile(hit.file), plain);
});

test('410 from the CDN → updateMediaMessage (re-upload) → retry succeeds', async (t) => {
  const { plain, enc } = await encryptedImage(t);
  const { base, hits } = await cdn(t, enc.encFilePath, { failFirst: 1 });
  const cache = new MediaCache({ dir: path.join(await tmpDir(t), 'media'), ttlS: 60, logger: silent });
  t.after(() => cache.close());
  const msg = imageMsg(`${base}/old`, enc);
  let reuploads = 0;
  const sock = {
    updateMediaMessage: async (m) => {
      reuploads++;
      const copy = proto.WebMessageInfo.decode(proto.WebMessageInfo.encode(m).finish());
      copy.message.imageMessage.url = `${base}/new`;
      return copy;
    },
  };
  const id = mediaIdFor(msg.key);
  await cache.fetch(id, msg, sock, { mimetype: 'image/jpeg' });
  assert.equal(reuploads, 1);
  assert.deepEqual(hits, ['/old', '/new']);
  assert.deepEqual(await fs.readFile((await cache.get(id)).file), plain);
});

test('Baileys bug check: built-in reuploadRequest does not fire on 410 (Boom has output.statusCode, not status)', async (t) => {
  const { enc } = await encryptedImage(t);
  const { base } = await cdn(t, enc.encFilePath, { failFirst: 5 });
  let called = 0;
  const err = await downloadMediaMessage(imageMsg(`${base}/old`, enc), 'buffer', {}, { logger: silent, reuploadRequest: async (m) => { called++; return m; } })
    .then(() => null, (e) => e);
  assert.ok(err);
  assert.equal(called, 0);
  assert.equal(err.status, undefined);
  assert.equal(httpStatusOf(err), 410);
});

test('expired entries are not served and are swept', async (t) => {
  const { enc } = await encryptedImage(t);
  const { base } = await cdn(t, enc.encFilePath);
  const dir = path.join(await tmpDir(t), 'media');
  const cache = new MediaCache({ dir, ttlS: 1, logger: silent });
  t.after(() => cache.close());
  const msg = imageMsg(`${base}/ok`, enc);
  const id = mediaIdFor(msg.key);
  await cache.fetch(id, msg, null, { mimetype: 'image/jpeg' });
  const metaFile = path.join(dir, `${id}.json`);
  const meta = JSON.parse(await fs.readFile(metaFile, 'utf8'));
  await fs.writeFile(metaFile, JSON.stringify({ ...meta, expiresAt: Date.now() - 1 }));
  assert.equal(await cache.get(id), null);
  await cache.sweep();
  assert.deepEqual(await fs.readdir(dir), []);
});

/** A CDN that serves the encrypted file, noting whether each response was cut short. */
async function watchedCdn(t, encFilePath) {
  const responses = [];
  const server = http.createServer(async (req, res) => {
    const r = { url: req.url, closedEarly: null };
    responses.push(r);
    res.on('close', () => { r.closedEarly = !res.writableFinished; });
    const buf = await fs.readFile(encFilePath);
    res.writeHead(200, { 'content-length': buf.length });
    // in paced slices, so a reader that stops early is seen stopping (socket buffers would
    // otherwise take a few MB at once)
    for (let i = 0; i < buf.length && !res.destroyed; i += 65536) {
      if (!res.write(buf.subarray(i, i + 65536))) await new Promise((ok) => { res.once('drain', ok); res.once('close', ok); });
      await new Promise((ok) => setTimeout(ok, 3));
    }
    res.end();
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise((r) => { server.closeAllConnections(); server.close(r); }));
  return { base: `http://127.0.0.1:${server.address().port}`, responses };
}

async function encrypted(t, size) {
  const plain = crypto.randomBytes(size);
  const enc = await encryptedStream(plain, 'video', { logger: silent });
  t.after(() => fs.rm(enc.encFilePath, { force: true }));
  return { plain, enc };
}

const videoMsg = (url, enc, fileLength) => proto.WebMessageInfo.fromObject({
  key: { remoteJid: '972501234567@s.whatsapp.net', id: crypto.randomBytes(8).toString('hex').toUpperCase(), fromMe: false },
  message: { videoMessage: { url, mimetype: 'video/mp4', mediaKey: enc.mediaKey, fileSha256: enc.fileSha256, fileEncSha256: enc.fileEncSha256, ...(fileLength === undefined ? {} : { fileLength }) } },
});

test('size cap: a declared fileLength over the cap is refused before any download (MediaTooLarge, nothing stored)', async (t) => {
  const { enc } = await encrypted(t, 50000);
  const { base, responses } = await watchedCdn(t, enc.encFilePath);
  const dir = path.join(await tmpDir(t), 'media');
  const metrics = bridgeMetrics();
  const cache = new MediaCache({ dir, ttlS: 60, logger: silent, metrics, maxBytes: 40000 });
  t.after(() => cache.close());
  const msg = videoMsg(`${base}/v`, enc, 50000);
  const err = await cache.fetch(mediaIdFor(msg.key), msg, null, { mimetype: 'video/mp4' }).then(() => null, (e) => e);
  assert.ok(err instanceof MediaTooLarge, String(err));
  assert.equal(err.reason, 'too_large: 50000 bytes over BRIDGE_INBOUND_MEDIA_MAX_BYTES (40000)');
  assert.deepEqual(responses, [], 'the CDN was not asked');
  assert.deepEqual(await fs.readdir(dir), []);
  assert.equal(metrics.get('bridge_media_downloads_total', { result: 'too_large' }), 1);
  // a u64 fileLength past 2^53 is compared exactly
  const huge = videoMsg(`${base}/v`, enc, '18446744073709551615');
  const e2 = await cache.fetch(mediaIdFor(huge.key), huge, null, { mimetype: 'video/mp4' }).then(() => null, (e) => e);
  assert.equal(e2.reason, 'too_large: 18446744073709551615 bytes over BRIDGE_INBOUND_MEDIA_MAX_BYTES (40000)');
});

for (const [what, fileLength] of [['no fileLength', undefined], ['a fileLength that understates the file', 1000]]) {
  test(`size cap with ${what}: cut off while decrypting to disk, the partial file removed, the download ended`, async (t) => {
    const { enc } = await encrypted(t, 3 << 20);
    const { base, responses } = await watchedCdn(t, enc.encFilePath);
    const dir = path.join(await tmpDir(t), 'media');
    const cache = new MediaCache({ dir, ttlS: 60, logger: silent, maxBytes: 100000 });
    t.after(() => cache.close());
    const msg = videoMsg(`${base}/v`, enc, fileLength);
    const err = await cache.fetch(mediaIdFor(msg.key), msg, null, { mimetype: 'video/mp4' }).then(() => null, (e) => e);
    assert.ok(err instanceof MediaTooLarge, String(err?.stack || err));
    assert.equal(err.reason, 'too_large: more than 100000 bytes (BRIDGE_INBOUND_MEDIA_MAX_BYTES) while downloading');
    assert.deepEqual(await fs.readdir(dir), [], 'no partial file left');
    assert.equal(await cache.get(mediaIdFor(msg.key)), null);
    assert.equal(responses.length, 1);
    await waitFor(() => responses[0].closedEarly !== null, { what: 'the CDN response to close' });
    assert.equal(responses[0].closedEarly, true, 'the download was ended, not left paused');
  });
}

test('size cap: a file of exactly the cap is stored, one byte more is not', async (t) => {
  const { plain, enc } = await encrypted(t, 65536);
  const { base } = await watchedCdn(t, enc.encFilePath);
  const at = new MediaCache({ dir: path.join(await tmpDir(t), 'media'), ttlS: 60, logger: silent, maxBytes: 65536 });
  t.after(() => at.close());
  const m1 = videoMsg(`${base}/v`, enc);
  assert.equal((await at.fetch(mediaIdFor(m1.key), m1, null, { mimetype: 'video/mp4' })).size, plain.length);
  const under = new MediaCache({ dir: path.join(await tmpDir(t), 'media'), ttlS: 60, logger: silent, maxBytes: 65535 });
  t.after(() => under.close());
  const m2 = videoMsg(`${base}/v`, enc);
  await assert.rejects(under.fetch(mediaIdFor(m2.key), m2, null, { mimetype: 'video/mp4' }), MediaTooLarge);
});

test('a temp file left by a download cut short by a crash is removed when the cache opens', async (t) => {
  const dir = path.join(await tmpDir(t), 'media');
  await fs.mkdir(dir, { recursive: true });
  await fs.writeFile(path.join(dir, `${'a'.repeat(32)}.bin.1234.tmp`), 'partial');
  await fs.writeFile(path.join(dir, `${'b'.repeat(32)}.json`), JSON.stringify({ expiresAt: Date.now() + 60000 }));
  const cache = new MediaCache({ dir, ttlS: 60, logger: silent });
  t.after(() => cache.close());
  assert.deepEqual(await fs.readdir(dir), [`${'b'.repeat(32)}.json`]);
});
