// The real WhatsApp Web link: one Baileys socket at a time, the reconnect policy,
// QR / pairing-code login. Sockets are single-use: every reconnect builds a new one
// (same auth) and the old one is ended so its listeners cannot double-dispatch.
import { EventEmitter } from 'node:events';
import path from 'node:path';
import qrcode from 'qrcode-terminal';
import { makeWASocket, makeCacheableSignalKeyStore, Browsers, jidNormalizedUser } from 'baileys';
import { useDurableAuthState, retireAuthDir } from './auth-store.js';
import { backoffDelay } from './backoff.js';
import { createMediaDispatcher } from './fetchguard.js';

/**
 * Pure reconnect policy (Baileys' connection.update and DisconnectReason, src/Types/index.ts), tested as a table.
 * @returns {{action:'reconnect', delayMs:number, reason:string} | {action:'stop', reason:string, relink?:boolean}}
 */
export function reconnectPolicy(statusCode, attempt, { baseMs = 1000, maxMs = 60000, random = Math.random } = {}) {
  switch (statusCode) {
    case 401: return { action: 'stop', reason: 'logged_out', relink: true };
    case 403: return { action: 'stop', reason: 'forbidden', relink: true };
    case 440: return { action: 'stop', reason: 'connection_replaced' };
    case 515: return { action: 'reconnect', delayMs: 0, reason: 'restart_required' };
    case 405: return { action: 'reconnect', delayMs: backoffDelay(attempt, { baseMs: Math.max(baseMs, 30000), maxMs: Math.max(maxMs, 300000), random }), reason: 'wa_version_rejected' };
    default: return { action: 'reconnect', delayMs: backoffDelay(attempt, { baseMs, maxMs, random }), reason: 'backoff' };
  }
}

/** A small CacheStore (get/set/del/flushAll) that outlives sockets, for msgRetryCounterCache. */
class RetryCounterCache extends Map {
  del(k) { return this.delete(k); }
  flushAll() { this.clear(); }
  set(k, v) { if (this.size > 10000) this.delete(this.keys().next().value); return super.set(k, v); }
}

export class WhatsAppLink extends EventEmitter {
  constructor({ config, logger, metrics, authDir, getMessage, socketOptions = {}, backoff = {}, makeSocket = makeWASocket }) {
    super();
    Object.assign(this, { config, logger, metrics, authDir, getMessage, socketOptions, backoff, makeSocket });
    this.sock = null;
    this.connected = false;
    this.state = 'connecting';
    this.qr = null;
    this.pairingCode = null;
    this.attempt = 0;
    this.timer = null;
    this.stopped = false;
    this.retryCache = new RetryCounterCache();
    this.mediaDispatcher = createMediaDispatcher({
      privateHosts: config.mediaPrivateHosts ?? [], maxBytes: config.mediaMaxBytes ?? 105906176,
    });
    this.baileysLogger = logger.child({ module: 'baileys' }, { level: config.logLevel === 'debug' || config.logLevel === 'trace' ? config.logLevel : 'warn' });
  }

  get device() {
    return this.sock?.user?.id ? jidNormalizedUser(this.sock.user.id) : null;
  }

  async start() {
    await this.#connect();
  }

  async #connect() {
    if (this.stopped) return;
    if (!this.auth) this.auth = await useDurableAuthState(this.authDir);
    const { state, saveCreds } = this.auth;
    const opts = {
      auth: { creds: state.creds, keys: makeCacheableSignalKeyStore(state.keys, this.baileysLogger) },
      logger: this.baileysLogger,
      browser: Browsers.ubuntu('wa-broker'),
      markOnlineOnConnect: false,
      syncFullHistory: false,
      // keep Baileys' default shouldSyncHistoryMessage (skips only FULL): disabling every
      // history sync loses the initial LID mappings (rc14 logs a DANGER warning)
      getMessage: this.getMessage,
      msgRetryCounterCache: this.retryCache,
      // Media URLs from /send are fetched through the SSRF guard, with a size limit.
      options: { dispatcher: this.mediaDispatcher },
      ...this.socketOptions,
    };
    if (this.config.waVersion) opts.version = this.config.waVersion;
    this.state = 'connecting';
    this.pairingRequested = false;
    const sock = this.makeSocket(opts);
    this.sock = sock;
    sock.ev.on('creds.update', () => saveCreds().catch((err) => this.logger.error({ err: err.message }, 'could not persist creds')));
    sock.ev.on('connection.update', (u) => this.#onUpdate(sock, u));
    this.emit('socket', sock);
  }

  async #onUpdate(sock, u) {
    if (sock !== this.sock) return; // a stale socket
    if (u.qr) {
      this.qr = u.qr;
      if (this.config.pairingPhone && !sock.authState.creds.registered && !this.pairingRequested) {
        this.pairingRequested = true;
        try {
          this.pairingCode = await sock.requestPairingCode(this.config.pairingPhone);
          this.logger.warn({ pairingCode: this.pairingCode }, `LOGIN: on the phone open Linked devices → Link with phone number instead, enter code ${this.pairingCode}`);
        } catch (err) {
          this.logger.error({ err: err.message }, 'pairing code request failed');
        }
      } else if (!this.config.pairingPhone) {
        this.logger.warn('LOGIN: scan this QR with WhatsApp → Linked devices (also at GET /qr)');
        qrcode.generate(u.qr, { small: true }, (ascii) => process.stderr.write(ascii + '\n'));
      }
    }
    if (u.connection === 'open') {
      this.connected = true;
      this.state = 'open';
      this.attempt = 0;
      this.qr = null;
      this.pairingCode = null;
      this.metrics?.set('bridge_connected', 1);
      this.logger.info({ device: this.device }, 'WhatsApp connection open');
      this.emit('state', this.state);
    }
    if (u.connection === 'close') {
      this.connected = false;
      this.metrics?.set('bridge_connected', 0);
      const code = u.lastDisconnect?.error?.output?.statusCode ?? null;
      const decision = reconnectPolicy(code, this.attempt, this.backoff);
      this.sock = null; // first: end() emits another 'close' for this socket, which must be ignored
      try { sock.end(undefined); } catch { /* already ended */ }
      if (decision.action === 'stop') {
        this.state = decision.reason;
        if (decision.relink) {
          const moved = await retireAuthDir(this.authDir).catch(() => null);
          this.auth = null;
          this.logger.fatal({ statusCode: code, oldAuth: moved },
            '!!! WHATSAPP LOGGED OUT: this device was unlinked. Not reconnecting. Restart the bridge to link again with a new QR / pairing code. !!!');
        } else {
          this.logger.fatal({ statusCode: code },
            '!!! WHATSAPP SESSION REPLACED (440): another process/client uses this account. Not reconnecting, to avoid an eviction loop. Stop the other one, then restart this bridge. !!!');
        }
        this.emit('state', this.state);
        return;
      }
      this.state = 'reconnecting';
      this.attempt++;
      this.metrics?.inc('bridge_reconnects_total', { reason: decision.reason });
      const log = decision.reason === 'wa_version_rejected' ? 'error' : 'warn';
      this.logger[log]({ statusCode: code, reason: decision.reason, retryInMs: decision.delayMs, error: u.lastDisconnect?.error?.message },
        decision.reason === 'wa_version_rejected' ? 'WhatsApp rejected the WA Web version (405): set BAILEYS_WA_VERSION to a current one' : 'WhatsApp connection closed; reconnecting');
      this.emit('state', this.state);
      clearTimeout(this.timer);
      this.timer = setTimeout(() => { this.timer = null; this.#connect().catch((err) => this.logger.error({ err: err.message }, 'reconnect failed')); }, decision.delayMs);
    }
  }

  async stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    const sock = this.sock;
    this.sock = null;
    this.connected = false;
    try { sock?.end(undefined); } catch { /* ignore */ }
    await this.mediaDispatcher.close().catch(() => {});
  }
}

export const authDirOf = (stateDir) => path.join(stateDir, 'auth');
