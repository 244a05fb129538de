// Durable file primitives: atomic write (temp file, fsync, rename, fsync dir),
// a tiny one-file-per-record JSON store, and the state-dir lock.
import fs from 'node:fs/promises';
import fsSync from 'node:fs';
import path from 'node:path';
import os from 'node:os';
import crypto from 'node:crypto';

async function fsyncDir(dir) {
  let fh;
  try {
    fh = await fs.open(dir, 'r');
    await fh.sync();
  } catch {
    // some filesystems refuse fsync on directories; the rename is still atomic
  } finally {
    await fh?.close();
  }
}

/**
 * Write data to file so that readers see either the old or the new content, never a torn one.
 * With durable false the fsyncs are skipped: for what a crash may lose (a cache), not for state.
 */
export async function writeFileAtomic(file, data, { durable = true } = {}) {
  const dir = path.dirname(file);
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${crypto.randomBytes(4).toString('hex')}.tmp`);
  const fh = await fs.open(tmp, 'w', 0o600);
  try {
    await fh.writeFile(data);
    if (durable) await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await fs.rename(tmp, file);
  } catch (err) {
    await fs.rm(tmp, { force: true });
    throw err;
  }
  if (durable) await fsyncDir(dir);
}

/** Rename durably (used to move outbox entries to rejected/, auth aside after logout). */
export async function renameDurable(from, to) {
  await fs.rename(from, to);
  await fsyncDir(path.dirname(to));
  if (path.dirname(from) !== path.dirname(to)) await fsyncDir(path.dirname(from));
}

export async function unlinkDurable(file) {
  try {
    await fs.unlink(file);
  } catch (err) {
    if (err.code !== 'ENOENT') throw err;
  }
  await fsyncDir(path.dirname(file));
}

/** File-name-safe encoding of an arbitrary key. */
export function safeName(key) {
  return encodeURIComponent(String(key)).replace(/\*/g, '%2A').replace(/^\./, '%2E');
}

/**
 * A durable map from string key to JSON value, one file per key.
 * replacer/reviver let callers store Buffers (Baileys' BufferJSON).
 */
export class FileStore {
  constructor(dir, { replacer, reviver, durable = true } = {}) {
    this.dir = dir;
    this.replacer = replacer;
    this.reviver = reviver;
    this.durable = durable;
    fsSync.mkdirSync(dir, { recursive: true, mode: 0o700 });
  }

  file(key) {
    const name = safeName(key);
    // keep names well below NAME_MAX; long keys are hashed
    return path.join(this.dir, (name.length > 200 ? crypto.createHash('sha256').update(String(key)).digest('hex') : name) + '.json');
  }

  async get(key) {
    try {
      return JSON.parse(await fs.readFile(this.file(key), 'utf8'), this.reviver);
    } catch (err) {
      if (err.code === 'ENOENT') return undefined;
      throw err;
    }
  }

  async set(key, value) {
    if (value === null || value === undefined) return unlinkDurable(this.file(key));
    return writeFileAtomic(this.file(key), JSON.stringify(value, this.replacer), { durable: this.durable });
  }
}

const heldLocks = new Set();

function pidAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return err.code === 'EPERM';
  }
}

/**
 * Take the exclusive lock on a state dir. The lock file holds {pid, hostname, startedAt}.
 * A lock is stale when its pid is dead on this host, or when it names our own pid but
 * this process does not hold it (a restarted container reuses pid 1).
 * Returns a release function; throws a clear Error when another live process holds it.
 */
export function acquireLock(dir) {
  fsSync.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = path.join(path.resolve(dir), 'bridge.lock');
  if (heldLocks.has(file)) throw new Error(`state dir ${dir} is already locked by this process`);
  const me = JSON.stringify({ pid: process.pid, hostname: os.hostname(), startedAt: new Date().toISOString() });
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = fsSync.openSync(file, 'wx', 0o600);
      fsSync.writeSync(fd, me);
      fsSync.fsyncSync(fd);
      fsSync.closeSync(fd);
      heldLocks.add(file);
      let released = false;
      return () => {
        if (released) return;
        released = true;
        heldLocks.delete(file);
        try { fsSync.unlinkSync(file); } catch { /* already gone */ }
      };
    } catch (err) {
      if (err.code !== 'EEXIST') throw err;
    }
    let holder = null;
    try {
      holder = JSON.parse(fsSync.readFileSync(file, 'utf8'));
    } catch {
      holder = null; // torn or empty lock file: treat as stale
    }
    const sameHost = holder && holder.hostname === os.hostname();
    const stale = !holder || !Number.isInteger(holder.pid) ||
      (sameHost && (!pidAlive(holder.pid) || holder.pid === process.pid));
    if (!stale) {
      throw new Error(`state dir ${dir} is locked by pid ${holder.pid} on ${holder.hostname} (since ${holder.startedAt}); ` +
        'two processes must never share one WhatsApp auth. Stop the other process, or remove bridge.lock if it is really gone.');
    }
    try { fsSync.unlinkSync(file); } catch { /* raced with another remover */ }
  }
  throw new Error(`could not take the lock ${file}`);
}
