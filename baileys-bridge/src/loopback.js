// Loopback WhatsApp: a simulated socket for tests and for running without an account.
// It is built from Baileys' own pieces, so the bridge's real handlers run unchanged:
//  - ev       : makeEventBuffer() — the same emitter a real socket has
//  - messages : real proto.WebMessageInfo objects
//  - media    : encrypted with Baileys' encryptedStream() and served from a local HTTP
//               server, so downloadMediaMessage really downloads and decrypts
//  - LIDs     : Baileys' LIDMappingStore over the bridge's durable key store
// Only enabled by BAILEYS_LOOPBACK=1.
import http from 'node:http';
import fs from 'node:fs/promises';
import { appendFileSync, readFileSync } from 'node:fs';
import crypto from 'node:crypto';
import { EventEmitter } from 'node:events';
import {
  proto, makeEventBuffer, encryptedStream, generateMessageIDV2, generateWAMessageFromContent,
  jidNormalizedUser, isLidUser,
} from 'baileys';
import { LIDMappingStore } from 'baileys/lib/Signal/lid-mapping.js';
import { toJid, HttpError } from './sender.js';

const STATUS_BY_NAME = { error: 0, pending: 1, sent: 2, server_ack: 2, delivered: 3, read: 4, played: 5 };
const MEDIA_KINDS = ['image', 'audio', 'video', 'document', 'sticker'];

export const LOOPBACK_WARNING = [
  '',
  '##################################################################',
  '#  WARNING: BAILEYS_LOOPBACK=1 — NOT CONNECTED TO WHATSAPP.       #',
  '#  Sends are recorded locally and never leave this machine.      #',
  '#  Inbound traffic only comes from the /dev/* endpoints.         #',
  '#  Never run this in production.                                 #',
  '##################################################################',
  '',
].join('\n');

function closedError() {
  const err = new Error('Connection Closed');
  err.output = { statusCode: 428, payload: { message: 'Connection Closed' } };
  err.isBoom = true;
  return err;
}

const bad = (reason) => new HttpError(400, { ok: false, error: 'bad_request', reason });

/** The sends recorded by earlier runs; a line torn by a crash is skipped. */
function readSentLog(file, link) {
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    if (e.code !== 'ENOENT') throw e;
  }
  for (const line of text.split('\n')) {
    if (!line) continue;
    let record;
    try {
      record = JSON.parse(line);
    } catch { continue; /* torn by a crash mid-write: that send never returned */ }
    addSent(link, record);
  }
}

/** What the recipient sees: WhatsApp clients drop a message whose id they already have, so a
 * repeat of (recipient, id) is counted on the first record (`repeats`) rather than shown again. */
function addSent(link, record) {
  const k = `${record.to}\n${record.messageId}`;
  const first = link.sentIndex.get(k);
  if (first) {
    first.repeats = (first.repeats ?? 0) + 1;
  } else {
    link.sent.push(record);
    link.sentIndex.set(k, record);
  }
}

/** A link with the same surface as WhatsAppLink (start/stop/connected/device/qr/state, 'socket' event). */
export class LoopbackLink extends EventEmitter {
  constructor({ logger, keys, selfPhone = '972500000001', sentLog = null }) {
    super();
    this.logger = logger;
    this.self = selfPhone;
    this.ev = makeEventBuffer(logger);
    // What "WhatsApp" received outlives the bridge, as the real network's copy does: a test that
    // restarts or kills the bridge still counts every send (sentLog: one JSON line per send).
    this.sentLog = sentLog;
    this.sent = [];
    this.sentIndex = new Map(); // recipient + id -> its record in this.sent
    if (sentLog) readSentLog(sentLog, this);
    // POST /dev/send-stall: the next `count` sends reach "WhatsApp" and then get no ack for
    // `ms` (the socket hangs after writing), as a real send can.
    this.stall = { ms: 0, count: 0 };
    this.connected = false;
    this.state = 'connecting';
    this.qr = null;
    this.pairingCode = null;
    this.files = new Map(); // token -> { path, failures }
    this.keyStore = { ...keys, transaction: (fn) => fn() };
    this.lidMapping = new LIDMappingStore(this.keyStore, logger, async () => undefined);
    const link = this;
    this.sock = {
      ev: this.ev,
      user: { id: `${selfPhone}:1@s.whatsapp.net`, name: 'Loopback' },
      authState: { creds: { me: { id: `${selfPhone}:1@s.whatsapp.net` }, registered: true } },
      signalRepository: { lidMapping: this.lidMapping },
      async sendMessage(jid, content, options = {}) {
        if (!link.connected) throw closedError();
        let message;
        if (typeof content.text === 'string') message = { conversation: content.text };
        else {
          const kind = ['image', 'video', 'audio', 'document', 'sticker'].find((k) => content[k]);
          if (!kind) throw new Error('loopback: unsupported content');
          message = { [`${kind}Message`]: { url: content[kind].url, mimetype: content.mimetype, caption: content.caption, fileName: content.fileName } };
        }
        const m = generateWAMessageFromContent(jid, proto.Message.fromObject(message), {
          userJid: this.user.id, messageId: options.messageId || generateMessageIDV2(this.user.id),
        });
        const record = { to: jid, messageId: m.key.id, content: JSON.parse(JSON.stringify(content)), at: Date.now() };
        addSent(link, record);
        // Written before the send returns, so a crash after it cannot lose what was "sent".
        if (link.sentLog) appendFileSync(link.sentLog, `${JSON.stringify(record)}\n`);
        link.logger.info({ to: jid, messageId: m.key.id }, 'loopback: send recorded (not sent to WhatsApp)');
        if (link.stall.count > 0) {
          link.stall.count -= 1;
          await new Promise((r) => setTimeout(r, link.stall.ms));
        }
        return m;
      },
      async updateMediaMessage(msg) {
        // a "re-upload": the same encrypted bytes under a fresh, working URL
        const copy = proto.WebMessageInfo.decode(proto.WebMessageInfo.encode(msg).finish());
        const content = copy.message[Object.keys(copy.message).find((k) => k.endsWith('Message'))];
        const oldToken = new URL(content.url).pathname.split('/').pop();
        const file = link.files.get(oldToken);
        if (!file) throw new Error('loopback: unknown media');
        const token = crypto.randomBytes(12).toString('hex');
        link.files.set(token, { path: file.path, failures: 0, status: file.status });
        content.url = `${link.mediaBase}/enc/${token}`;
        return copy;
      },
      end() {},
    };
  }

  get device() { return `+${this.self}`; }

  async start() {
    this.server = http.createServer((req, res) => {
      const token = (req.url || '').split('/').pop();
      const f = this.files.get(token);
      if (!f) { res.writeHead(404).end(); return; }
      if (f.status) { res.writeHead(f.status).end(); return; } // a file the "CDN" never serves
      if (f.failures > 0) { f.failures--; res.writeHead(410).end(); return; } // expired on the "CDN"
      fs.readFile(f.path).then((b) => res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(b),
        () => res.writeHead(404).end());
    });
    await new Promise((r) => this.server.listen(0, '127.0.0.1', r));
    this.mediaBase = `http://127.0.0.1:${this.server.address().port}`;
    this.emit('socket', this.sock);
    this.connect();
  }

  connect() {
    this.connected = true;
    this.state = 'open';
    this.ev.emit('connection.update', { connection: 'open' });
    this.emit('state', this.state);
  }

  disconnect() {
    this.connected = false;
    this.state = 'close';
    this.ev.emit('connection.update', { connection: 'close', lastDisconnect: { error: closedError(), date: new Date() } });
    this.emit('state', this.state);
  }

  async stop() {
    this.connected = false;
    this.lidMapping.close?.();
    this.server?.closeAllConnections?.();
    await new Promise((r) => (this.server ? this.server.close(() => r()) : r()));
    await Promise.all([...this.files.values()].map((f) => fs.rm(f.path, { force: true })));
    this.files.clear();
  }

  /** POST /dev/inbound */
  async inbound(body) {
    if (!body || typeof body !== 'object') throw bad('JSON object expected');
    const pnJid = body.from ? toJid(body.from) : null;
    const lid = body.lid ? String(body.lid) : null;
    if (lid && !isLidUser(lid)) throw bad('"lid" must end with @lid');
    if (!pnJid && !lid && !body.remoteJid) throw bad('"from" (E.164) or "lid" is required');
    if (lid && pnJid) await this.lidMapping.storeLIDPNMappings([{ lid: jidNormalizedUser(lid), pn: pnJid }]);
    const remoteJid = body.remoteJid || lid || pnJid;
    const key = { remoteJid, id: body.id || generateMessageIDV2(), fromMe: !!body.fromMe };
    if (body.participant) key.participant = body.participant;

    const type = body.type || (body.media ? 'image' : 'text');
    let message = null;
    if (type === 'text') message = { conversation: String(body.text ?? '') };
    else if (type === 'location') {
      const l = body.location || {};
      message = { locationMessage: { degreesLatitude: l.latitude, degreesLongitude: l.longitude, name: l.name, address: l.address } };
    } else if (type === 'reaction') {
      message = { reactionMessage: { key: { remoteJid, id: body.reactTo || 'X', fromMe: true }, text: body.text || '👍' } };
    } else if (MEDIA_KINDS.includes(type)) {
      const m = body.media;
      if (!m || typeof m.data !== 'string' || !m.mimetype) throw bad('"media" {mimetype, data (base64)} is required for media types');
      const failStatus = m.fail === undefined || m.fail === null ? null : Number(m.fail);
      if (failStatus !== null && !(Number.isInteger(failStatus) && failStatus >= 400 && failStatus <= 599)) throw bad('"media.fail" must be an HTTP status 400..599');
      if (m.fileLength !== undefined && m.fileLength !== null && !(Number.isSafeInteger(m.fileLength) && m.fileLength >= 0)) throw bad('"media.fileLength" must be a non-negative integer or null');
      const buf = Buffer.from(m.data, 'base64');
      const enc = await encryptedStream(buf, type, { logger: this.logger });
      const token = crypto.randomBytes(12).toString('hex');
      this.files.set(token, { path: enc.encFilePath, failures: m.expired ? 1 : 0, status: failStatus });
      message = {
        [`${type}Message`]: {
          url: `${this.mediaBase}/enc/${token}`, // no directPath: Baileys would prefer mmg.whatsapp.net
          mimetype: m.mimetype, mediaKey: enc.mediaKey, fileSha256: enc.fileSha256, fileEncSha256: enc.fileEncSha256,
          // fileLength: the real one, or what the test claims (null: not given, as some messages lack it)
          fileLength: m.fileLength === undefined ? enc.fileLength : (m.fileLength ?? undefined), caption: type === 'document' || type === 'sticker' || type === 'audio' ? undefined : body.text || undefined,
          fileName: type === 'document' ? m.fileName || 'file' : undefined,
        },
      };
    } else throw bad(`unsupported "type": ${type}`);

    const info = {
      key, messageTimestamp: body.timestamp || Math.floor(Date.now() / 1000), pushName: body.pushName || null,
    };
    if (body.stub) {
      info.messageStubType = proto.WebMessageInfo.StubType.CIPHERTEXT;
      info.messageStubParameters = ['No session found to decrypt message'];
    } else info.message = message;
    const msg = proto.WebMessageInfo.fromObject(info);
    // 7.x alt addressing is not a proto field: set it on the key like Baileys does
    if (lid && pnJid && !body.noAlt) msg.key.remoteJidAlt = pnJid;
    this.ev.emit('messages.upsert', { messages: [msg], type: body.upsertType === 'append' ? 'append' : 'notify' });
    return { ok: true, messageId: key.id, remoteJid };
  }

  /** POST /dev/receipt */
  receipt(body) {
    const status = STATUS_BY_NAME[body?.status];
    if (status === undefined) throw bad(`"status" must be one of ${Object.keys(STATUS_BY_NAME).join(', ')}`);
    if (typeof body.messageId !== 'string' || !body.messageId) throw bad('"messageId" is required');
    const remoteJid = toJid(body.to);
    const update = { status, messageTimestamp: Math.floor(Date.now() / 1000) };
    if (status === 0 && body.errorCode) update.messageStubParameters = [String(body.errorCode)];
    this.ev.emit('messages.update', [{ key: { remoteJid, id: body.messageId, fromMe: true }, update }]);
    return { ok: true };
  }
}
