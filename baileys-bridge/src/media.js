// Inbound media: download promptly with Baileys' downloadMediaMessage, keep the
// plaintext in a local cache for BRIDGE_MEDIA_TTL_S, serve it at GET /media/:id.
// Nothing larger than BRIDGE_INBOUND_MEDIA_MAX_BYTES is stored: refused up front when the
// message's fileLength says so, and cut off while decrypting to disk when it does not (or lies).
//
// Baileys' built-in re-upload (ctx.reuploadRequest) never fires in 7.0.0-rc14: it tests
// `error.status`, but the thrown Boom carries `output.statusCode`. So the 404/410 →
// sock.updateMediaMessage(msg) → retry-once dance is done here.
import fs from 'node:fs/promises';
import fsSync from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { downloadMediaMessage, extractMessageContent, getContentType } from 'baileys';
import { writeFileAtomic, unlinkDurable } from './fsutil.js';

const REUPLOAD_STATUS = new Set([404, 410]);

export function mediaIdFor(key) {
  return crypto.createHash('sha256').update(`${key.remoteJid}|${key.id}`).digest('hex').slice(0, 32);
}

export function httpStatusOf(err) {
  return err?.output?.statusCode ?? err?.status ?? err?.statusCode ?? null;
}

/** The file is over BRIDGE_INBOUND_MEDIA_MAX_BYTES: permanent, retrying cannot help. */
export class MediaTooLarge extends Error {
  constructor(reason) {
    super(reason);
    this.code = 'MEDIA_TOO_LARGE';
    this.reason = reason; // "too_large: …", forwarded to ingress as media.unavailable
  }
}

/** The fileLength the message declares (a Long, a number or a decimal string), or null. */
export function declaredLength(msg) {
  try {
    const content = extractMessageContent(msg?.message);
    const type = content && getContentType(content);
    const v = type ? content[type]?.fileLength : null;
    if (v === null || v === undefined) return null;
    const s = String(v); // Long.toString() is exact where Number() is not
    return /^\d+$/.test(s) ? s : null;
  } catch {
    return null;
  }
}

/** Passes bytes through, failing with MediaTooLarge once more than maxBytes went by. */
function byteCap(maxBytes) {
  let seen = 0;
  return new Transform({
    transform(chunk, _enc, cb) {
      seen += chunk.length;
      if (seen > maxBytes) return cb(new MediaTooLarge(`too_large: more than ${maxBytes} bytes (BRIDGE_INBOUND_MEDIA_MAX_BYTES) while downloading`));
      cb(null, chunk);
    },
  });
}

export class MediaCache {
  /** @param {number} [o.maxBytes] the largest file stored (BRIDGE_INBOUND_MEDIA_MAX_BYTES) */
  constructor({ dir, ttlS, logger, metrics, maxBytes = 104857600 }) {
    Object.assign(this, { dir, ttlS, logger, metrics, maxBytes });
    fsSync.mkdirSync(dir, { recursive: true, mode: 0o700 });
    // a download cut short by a crash leaves its temp file; only this process uses the dir (lock)
    for (const name of fsSync.readdirSync(dir)) {
      if (name.endsWith('.tmp')) fsSync.rmSync(path.join(dir, name), { force: true });
    }
    this.sweeper = setInterval(() => this.sweep().catch(() => {}), Math.min(ttlS * 1000, 10 * 60 * 1000));
    this.sweeper.unref();
  }

  #paths(id) {
    return { data: path.join(this.dir, `${id}.bin`), meta: path.join(this.dir, `${id}.json`) };
  }

  /** Cached entry {file, meta} or null when missing or expired. */
  async get(id) {
    if (!/^[0-9a-f]{32}$/.test(id)) return null;
    const p = this.#paths(id);
    try {
      const meta = JSON.parse(await fs.readFile(p.meta, 'utf8'));
      if (meta.expiresAt < Date.now()) return null;
      await fs.access(p.data);
      return { file: p.data, meta };
    } catch {
      return null;
    }
  }

  /**
   * Download and decrypt the media of msg into the cache (idempotent per id).
   * Throws MediaTooLarge (nothing stored) for a file over maxBytes.
   * @param sock the current socket (for updateMediaMessage); may be null
   */
  async fetch(id, msg, sock, { mimetype, fileName }) {
    const have = await this.get(id);
    if (have) return have.meta;
    const declared = declaredLength(msg);
    if (declared !== null && BigInt(declared) > BigInt(this.maxBytes)) {
      this.metrics?.inc('bridge_media_downloads_total', { result: 'too_large' });
      throw new MediaTooLarge(`too_large: ${declared} bytes over BRIDGE_INBOUND_MEDIA_MAX_BYTES (${this.maxBytes})`);
    }
    const p = this.#paths(id);
    const tmp = `${p.data}.${process.pid}.tmp`;
    const downloadTo = async (m) => {
      const stream = await downloadMediaMessage(m, 'stream', {});
      // Baileys pipes the HTTP body into its decipher; when the pipeline stops early (too
      // large, disk error) the decipher is destroyed and unpiped, and the body would stay
      // paused with its connection open: end the download too.
      stream.on('unpipe', (src) => { if (!src.readableEnded) src.destroy(); });
      await pipeline(stream, byteCap(this.maxBytes), fsSync.createWriteStream(tmp, { mode: 0o600 }));
      const fh = await fs.open(tmp, 'r+');
      try {
        await fh.sync();
      } finally {
        await fh.close();
      }
    };
    try {
      try {
        await downloadTo(msg);
      } catch (err) {
        const status = httpStatusOf(err);
        if (!REUPLOAD_STATUS.has(status) || typeof sock?.updateMediaMessage !== 'function') throw err;
        this.logger.info({ messageId: msg.key?.id, status }, 'media expired on the CDN; asking the phone to re-upload');
        this.metrics?.inc('bridge_media_downloads_total', { result: 'reupload_requested' });
        const fresh = await sock.updateMediaMessage(msg);
        await downloadTo(fresh);
      }
      const { size } = await fs.stat(tmp);
      await fs.rename(tmp, p.data);
      const meta = { mimetype, fileName: fileName ?? null, size, expiresAt: Date.now() + this.ttlS * 1000 };
      await writeFileAtomic(p.meta, JSON.stringify(meta));
      this.metrics?.inc('bridge_media_downloads_total', { result: 'ok' });
      return meta;
    } catch (err) {
      await fs.rm(tmp, { force: true }); // never leave a partial file behind
      this.metrics?.inc('bridge_media_downloads_total', { result: err instanceof MediaTooLarge ? 'too_large' : 'error' });
      throw err;
    }
  }

  async sweep() {
    const now = Date.now();
    for (const name of await fs.readdir(this.dir)) {
      if (!name.endsWith('.json')) continue;
      const id = name.slice(0, -5);
      try {
        const meta = JSON.parse(await fs.readFile(path.join(this.dir, name), 'utf8'));
        if (meta.expiresAt >= now) continue;
      } catch { /* unreadable meta: drop */ }
      const p = this.#paths(id);
      await unlinkDurable(p.data);
      await unlinkDurable(p.meta);
    }
  }

  close() {
    clearInterval(this.sweeper);
  }
}
