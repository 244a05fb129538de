// Inbound media: download promptly with Baileys' downloadMediaMessage, keep the
// plaintext in a local cache for BRIDGE_MEDIA_TTL_S, serve it at GET /media/:id.
//
// Baileys' built-in re-upload (ctx.reuploadRequest) never fires in 7.0.0-rc14: it tests
// `error.status`, but the thrown Boom carries `output.statusCode`. So the 404/410 →
// sock.updateMediaMessage(msg) → retry-once dance is done here.
import fs from 'node:fs/promises';
import fsSync from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import { downloadMediaMessage } from 'baileys';
import { writeFileAtomic, unlinkDurable } from './fsutil.js';

const REUPLOAD_STATUS = new Set([404, 410]);

export function mediaIdFor(key) {
  return crypto.createHash('sha256').update(`${key.remoteJid}|${key.id}`).digest('hex').slice(0, 32);
}

export function httpStatusOf(err) {
  return err?.output?.statusCode ?? err?.status ?? err?.statusCode ?? null;
}

export class MediaCache {
  constructor({ dir, ttlS, logger, metrics }) {
    Object.assign(this, { dir, ttlS, logger, metrics });
    fsSync.mkdirSync(dir, { recursive: true, mode: 0o700 });
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
   * @param sock the current socket (for updateMediaMessage); may be null
   */
  async fetch(id, msg, sock, { mimetype, fileName }) {
    const have = await this.get(id);
    if (have) return have.meta;
    const p = this.#paths(id);
    const tmp = `${p.data}.${process.pid}.tmp`;
    const downloadTo = async (m) => {
      const stream = await downloadMediaMessage(m, 'stream', {});
      await pipeline(stream, fsSync.createWriteStream(tmp, { mode: 0o600 }));
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
      await fs.rm(tmp, { force: true });
      this.metrics?.inc('bridge_media_downloads_total', { result: 'error' });
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
