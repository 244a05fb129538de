// Durable Baileys auth state: creds.json plus one file per signal key, each written
// atomically (temp, fsync, rename). keys.set() resolves only after every write is durable.
import path from 'node:path';
import fs from 'node:fs/promises';
import { BufferJSON, initAuthCreds, proto } from 'baileys';
import { FileStore, renameDurable } from './fsutil.js';

export async function useDurableAuthState(dir) {
  const store = new FileStore(path.join(dir, 'keys'), { replacer: BufferJSON.replacer, reviver: BufferJSON.reviver });
  const credsStore = new FileStore(dir, { replacer: BufferJSON.replacer, reviver: BufferJSON.reviver });
  const creds = (await credsStore.get('creds')) || initAuthCreds();

  const keys = {
    async get(type, ids) {
      const out = {};
      await Promise.all(ids.map(async (id) => {
        let value = await store.get(`${type}-${id}`);
        if (type === 'app-state-sync-key' && value) value = proto.Message.AppStateSyncKeyData.fromObject(value);
        if (value !== undefined) out[id] = value;
      }));
      return out;
    },
    async set(data) {
      const writes = [];
      for (const type of Object.keys(data)) {
        for (const id of Object.keys(data[type] || {})) {
          writes.push(store.set(`${type}-${id}`, data[type][id] ?? null));
        }
      }
      await Promise.all(writes);
    },
  };

  return {
    state: { creds, keys },
    saveCreds: () => credsStore.set('creds', creds),
  };
}

/** After a logout the old keys are useless; move them aside (kept for forensics) so the next start links afresh. */
export async function retireAuthDir(dir) {
  try {
    await fs.access(dir);
  } catch {
    return null;
  }
  const dest = `${dir}.loggedout-${new Date().toISOString().replace(/[:.]/g, '-')}`;
  await renameDurable(dir, dest);
  return dest;
}
