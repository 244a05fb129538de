// Wires the bridge together. createBridge() is what main.js and the tests call.
import path from 'node:path';
import pino from 'pino';
import { bridgeMetrics } from './metrics.js';
import { acquireLock } from './fsutil.js';
import { Outbox } from './outbox.js';
import { ParkedReporter, ingressDispatcher } from './parked.js';
import { MediaCache } from './media.js';
import { createInbound } from './handlers.js';
import { createSender } from './sender.js';
import { createHttpServer } from './http.js';
import { WhatsAppLink, authDirOf } from './whatsapp.js';
import { LoopbackLink, LOOPBACK_WARNING } from './loopback.js';
import { useDurableAuthState } from './auth-store.js';

export function makeLogger(level = 'info') {
  return pino({
    level,
    base: { service: 'baileys-bridge' },
    redact: { paths: ['secret', '*.secret', 'headers["x-baileys-secret"]', '*.headers["x-baileys-secret"]', 'config.secret'], censor: '[redacted]' },
  });
}

/**
 * @param {object} config  from loadConfig()
 * @param {object} [opts]  { logger, socketOptions (real link), backoff }
 */
export async function createBridge(config, opts = {}) {
  const logger = opts.logger || makeLogger(config.logLevel);
  const stateDir = path.resolve(config.stateDir);
  const release = acquireLock(stateDir);
  const metrics = bridgeMetrics();
  const cleanups = [release];
  try {
    let link;
    let loopback = null;
    let publicUrl = config.publicUrl;
    const mediaUrl = (id) => `${publicUrl}/media/${id}`;

    const sender = createSender({
      stateDir, rate: config.sendRate, logger: logger.child({ module: 'send' }), metrics,
      getSock: () => link.sock, isConnected: () => !!link.connected,
    });

    if (config.loopback) {
      process.stderr.write(LOOPBACK_WARNING);
      logger.warn('BAILEYS_LOOPBACK=1: simulated WhatsApp, nothing is sent to or received from WhatsApp');
      const { state } = await useDurableAuthState(authDirOf(stateDir));
      link = loopback = new LoopbackLink({ logger: logger.child({ module: 'loopback' }), keys: state.keys,
        selfPhone: config.loopbackSelf, sentLog: path.join(stateDir, 'loopback-sent.jsonl') });
    } else {
      link = new WhatsAppLink({
        config, logger: logger.child({ module: 'whatsapp' }), metrics, authDir: authDirOf(stateDir),
        getMessage: sender.getMessage, socketOptions: opts.socketOptions, backoff: opts.backoff,
      });
    }
    link.on('state', (s) => metrics.set('bridge_connected', s === 'open' ? 1 : 0));

    const media = new MediaCache({
      dir: path.join(stateDir, 'media'), ttlS: config.mediaTtlS, maxBytes: config.inboundMediaMaxBytes, logger: logger.child({ module: 'media' }), metrics,
    });
    cleanups.push(() => media.close());

    let inbound;
    const outboxDir = path.join(stateDir, 'outbox');
    // An https INGRESS_URL is verified; BRIDGE_INGRESS_CA_FILE adds a CA to trust for it.
    const dispatcher = ingressDispatcher(config.ingressCa);
    if (dispatcher) cleanups.push(() => dispatcher.close());
    const parked = new ParkedReporter({
      dir: outboxDir, url: `${config.ingressUrl}/api/whatsapp/baileys/parked`, secret: config.secret, dispatcher,
      logger: logger.child({ module: 'parked' }), metrics,
      baseBackoffMs: config.outboxBaseBackoffMs, maxBackoffMs: config.outboxMaxBackoffMs,
    });
    cleanups.push(() => parked.close());
    const outbox = new Outbox({
      dir: outboxDir, url: `${config.ingressUrl}/api/whatsapp/baileys`, secret: config.secret, dispatcher,
      logger: logger.child({ module: 'outbox' }), metrics, prepare: (e, a) => inbound.prepare(e, a),
      onParked: (name) => parked.add(name),
      baseBackoffMs: config.outboxBaseBackoffMs, maxBackoffMs: config.outboxMaxBackoffMs,
    });
    cleanups.push(() => outbox.close());
    inbound = createInbound({ getSock: () => link.sock, outbox, config, logger: logger.child({ module: 'inbound' }), metrics, mediaUrl, media, keyFor: sender.keyFor });
    link.on('socket', (sock) => inbound.attach(sock.ev));
    // On a stop, after the socket and the HTTP server are closed (no new events) and before the
    // outbox: the handlers finish writing what they took. WhatsApp does not send a receipt or a
    // message again once Baileys has acknowledged it, so one still in a handler would be lost.
    cleanups.push(() => inbound.idle());

    const server = createHttpServer({ config, logger: logger.child({ module: 'http' }), metrics, link, sender, media, loopback,
      handled: () => inbound.idle() });
    await new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(config.listen.port, config.listen.host, resolve);
    });
    const addr = server.address();
    const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
    const url = `http://${host}:${addr.port}`;
    if (!publicUrl) publicUrl = url;
    cleanups.push(() => new Promise((r) => { server.closeAllConnections?.(); server.close(() => r()); }));
    logger.info({ listen: url, ingress: config.ingressUrl, ...(config.ingressCaFile ? { ingressCa: config.ingressCaFile } : {}),
      loopback: config.loopback, stateDir,
      ...(config.loopback ? { loopbackSelf: `+${config.loopbackSelf}` } : {}) }, 'baileys-bridge listening');

    await parked.open(); // report what a previous run parked but did not report
    await outbox.open(); // re-send whatever it left
    await link.start();
    cleanups.push(() => link.stop());

    let closed = false;
    return {
      url, server, link, loopback, outbox, parked, inbound, metrics, logger,
      async close() {
        if (closed) return;
        closed = true;
        for (const c of cleanups.reverse()) await c();
      },
    };
  } catch (err) {
    for (const c of cleanups.reverse()) await c();
    throw err;
  }
}
