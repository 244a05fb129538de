// Media: real Baileys encryption served from loopback, real downloadMediaMessage decrypting it.
import test from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import fs from 'node:fs/promises';
import crypto from 'node:crypto';
import path from 'node:path';
import { encryptedStream, downloadMediaMessage, proto } from 'baileys';
import { MediaCache, mediaIdFor, httpStatusOf } from '../src/media.js';
import { silent, tmpDir } from './helpers.js';

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
