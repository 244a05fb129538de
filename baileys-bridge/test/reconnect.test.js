// Reconnect policy as a table, one real Baileys socket against a closed local port,
// config validation (exit 78), the auth store and the state-dir lock.
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { initAuthCreds, BufferJSON, makeEventBuffer } from 'baileys';
import { reconnectPolicy, WhatsAppLink } from '../src/whatsapp.js';
import { loadConfig } from '../src/config.js';
import { useDurableAuthState } from '../src/auth-store.js';
import { acquireLock } from '../src/fsutil.js';
import { bridgeMetrics } from '../src/metrics.js';
import { silent, tmpDir, closedPort, waitFor, testConfig } from './helpers.js';

const mid = () => 0.5;

test('reconnect policy table', () => {
  const table = [
    [401, { action: 'stop', reason: 'logged_out', relink: true }],
    [403, { action: 'stop', reason: 'forbidden', relink: true }],
    [440, { action: 'stop', reason: 'connection_replaced' }],
    [515, { action: 'reconnect', delayMs: 0, reason: 'restart_required' }],
  ];
  for (const [code, want] of table) assert.deepEqual(reconnectPolicy(code, 3, { random: mid }), want, String(code));
  for (const code of [408, 428, 500, 503, 411, null]) {
    const d = [0, 1, 2, 10].map((a) => reconnectPolicy(code, a, { baseMs: 1000, maxMs: 60000, random: mid }));
    assert.ok(d.every((x) => x.action === 'reconnect' && x.reason === 'backoff'), String(code));
    assert.deepEqual(d.map((x) => x.delayMs), [750, 1500, 3000, 45000]); // exponential, capped at 60 s (±jitter)
  }
  const lo = reconnectPolicy(408, 20, { random: () => 0 }).delayMs;
  const hi = reconnectPolicy(408, 20, { random: () => 0.999999 }).delayMs;
  assert.ok(lo >= 30000 && hi <= 60000 && hi > lo, 'jitter within [cap/2, cap]');
  assert.equal(reconnectPolicy(405, 0, { random: mid }).reason, 'wa_version_rejected');
});

test('a real Baileys socket against a closed local port: 408, then backoff reconnects', async (t) => {
  const dir = await tmpDir(t);
  const port = await closedPort();
  const metrics = bridgeMetrics();
  const link = new WhatsAppLink({
    config: testConfig(), logger: silent, metrics, authDir: path.join(dir, 'auth'), getMessage: async () => undefined,
    socketOptions: { waWebSocketUrl: `ws://127.0.0.1:${port}/ws/chat` }, backoff: { baseMs: 20, maxMs: 50 },
  });
  const codes = [];
  link.on('socket', (sock) => sock.ev.on('connection.update', (u) => u.connection === 'close' && codes.push(u.lastDisconnect?.error?.output?.statusCode)));
  t.after(() => link.stop());
  await link.start();
  await waitFor(() => metrics.get('bridge_reconnects_total', { reason: 'backoff' }) >= 2, { what: 'two reconnects' });
  assert.equal(link.connected, false);
  assert.equal(codes[0], 408);
  await link.stop();
});

test('close codes on the link: 515 reconnects at once, 401 stops and moves auth aside, 440 stops', async (t) => {
  const dir = await tmpDir(t);
  const authDir = path.join(dir, 'auth');
  const socks = [];
  const makeSocket = (opts) => {
    const ev = makeEventBuffer(silent);
    let ended = false;
    const s = { ev, authState: opts.auth, user: null, end() { if (!ended) { ended = true; ev.emit('connection.update', { connection: 'close' }); } } };
    socks.push(s);
    return s;
  };
  const link = new WhatsAppLink({ config: testConfig(), logger: silent, metrics: bridgeMetrics(), authDir, getMessage: async () => undefined,
    makeSocket, backoff: { baseMs: 60000, maxMs: 60000 } });
  t.after(() => link.stop());
  const close = (code) => socks.at(-1).ev.emit('connection.update', { connection: 'close', lastDisconnect: { error: Object.assign(new Error(`code ${code}`), { output: { statusCode: code } }) } });
  await link.start();
  socks[0].ev.emit('connection.update', { connection: 'open' });
  assert.equal(link.connected, true);
  close(515);
  await waitFor(() => socks.length === 2, { what: 'immediate reconnect after 515' });
  await fs.writeFile(path.join(authDir, 'marker'), 'x');
  close(401);
  await waitFor(() => link.state === 'logged_out', { what: 'logged_out' });
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(socks.length, 2, 'no reconnect after 401');
  assert.equal(link.timer, null);
  assert.ok((await fs.readdir(dir)).some((n) => n.startsWith('auth.loggedout-')));

  const link2 = new WhatsAppLink({ config: testConfig(), logger: silent, metrics: bridgeMetrics(), authDir, getMessage: async () => undefined, makeSocket, backoff: { baseMs: 60000, maxMs: 60000 } });
  t.after(() => link2.stop());
  await link2.start();
  close(440);
  await waitFor(() => link2.state === 'connection_replaced', { what: 'connection_replaced' });
  assert.equal(socks.length, 3, 'no reconnect after 440');
});

test('config: every problem on its own line, exit code 78', () => {
  const { errors } = loadConfig({ BRIDGE_LISTEN: 'nope', INGRESS_URL: 'ftp://x', BRIDGE_SEND_RATE: '-1', BAILEYS_WA_VERSION: '2.3000', BAILEYS_LOOPBACK: 'yes' });
  assert.equal(errors.length, 6);
  assert.ok(errors.some((e) => e.startsWith('BAILEYS_WEBHOOK_SECRET:')));
  const { config } = loadConfig({ BAILEYS_WEBHOOK_SECRET: 'abcdefgh', BAILEYS_WA_VERSION: '2,3000,1027934701' });
  assert.deepEqual(config.waVersion, [2, 3000, 1027934701]);
  assert.deepEqual(config.listen, { host: '127.0.0.1', port: 3001 });
  assert.equal(config.ingressUrl, 'http://127.0.0.1:8080');
  assert.equal(config.sendRate, 5);
  assert.equal(config.mediaTtlS, 86400);
  assert.equal(config.loopback, false);
  const main = fileURLToPath(new URL('../src/main.js', import.meta.url));
  const r = spawnSync(process.execPath, [main], { env: { PATH: process.env.PATH, BRIDGE_SEND_RATE: 'x' }, encoding: 'utf8', timeout: 20000 });
  assert.equal(r.status, 78);
  assert.match(r.stderr, /config error: BAILEYS_WEBHOOK_SECRET: required/);
  assert.match(r.stderr, /config error: BRIDGE_SEND_RATE:/);
});

test('config: BRIDGE_INBOUND_MEDIA_MAX_BYTES defaults to 100 MiB, takes a positive integer, refuses anything else (exit 78)', () => {
  assert.equal(loadConfig({ BAILEYS_WEBHOOK_SECRET: 'abcdefgh' }).config.inboundMediaMaxBytes, 104857600);
  const ok = loadConfig({ BAILEYS_WEBHOOK_SECRET: 'abcdefgh', BRIDGE_INBOUND_MEDIA_MAX_BYTES: '16777216' });
  assert.deepEqual(ok.errors, []);
  assert.equal(ok.config.inboundMediaMaxBytes, 16777216);
  for (const bad of ['0', '-1', '1.5', 'abc', '100MB', 'Infinity']) {
    const { errors } = loadConfig({ BAILEYS_WEBHOOK_SECRET: 'abcdefgh', BRIDGE_INBOUND_MEDIA_MAX_BYTES: bad });
    assert.equal(errors.length, 1, bad);
    assert.match(errors[0], /^BRIDGE_INBOUND_MEDIA_MAX_BYTES: expected a positive integer/);
  }
  const main = fileURLToPath(new URL('../src/main.js', import.meta.url));
  const r = spawnSync(process.execPath, [main], { env: { PATH: process.env.PATH, BAILEYS_WEBHOOK_SECRET: 'abcdefgh', BRIDGE_INBOUND_MEDIA_MAX_BYTES: 'lots' }, encoding: 'utf8', timeout: 20000 });
  assert.equal(r.status, 78);
  assert.match(r.stderr, /config error: BRIDGE_INBOUND_MEDIA_MAX_BYTES:/);
});

test('config: BAILEYS_LOOPBACK_SELF takes +E.164 or digits (8 to 15), defaults to 972500000001, refuses anything else (exit 78)', () => {
  const base = { BAILEYS_WEBHOOK_SECRET: 'abcdefgh' };
  assert.equal(loadConfig(base).config.loopbackSelf, '972500000001');
  for (const [v, want] of [['+972500000002', '972500000002'], ['972500000002', '972500000002'], ['+14155550100', '14155550100']]) {
    const { config, errors } = loadConfig({ ...base, BAILEYS_LOOPBACK_SELF: v });
    assert.deepEqual(errors, [], v);
    assert.equal(config.loopbackSelf, want, v);
  }
  for (const bad of ['abc', '+0972500000002', '1234567', '+1234567890123456', '972-50-000-0002', '+ 972500000002', '++972500000002', '972500000002@s.whatsapp.net']) {
    const { errors } = loadConfig({ ...base, BAILEYS_LOOPBACK_SELF: bad });
    assert.equal(errors.length, 1, bad);
    assert.match(errors[0], /^BAILEYS_LOOPBACK_SELF: expected a phone number in E\.164/);
  }
  const main = fileURLToPath(new URL('../src/main.js', import.meta.url));
  const r = spawnSync(process.execPath, [main], { env: { PATH: process.env.PATH, ...base, BAILEYS_LOOPBACK: '1', BAILEYS_LOOPBACK_SELF: '+12' }, encoding: 'utf8', timeout: 20000 });
  assert.equal(r.status, 78);
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  assert.match(r.stderr, /^config error: BAILEYS_LOOPBACK_SELF: .*got "\+12"/);
});

test('auth store: creds and keys survive a reload; null deletes', async (t) => {
  const dir = path.join(await tmpDir(t), 'auth');
  const a = await useDurableAuthState(dir);
  a.state.creds.me = { id: '972500000001:3@s.whatsapp.net' };
  await a.saveCreds();
  await a.state.keys.set({ 'pre-key': { 1: { public: Buffer.from('pub'), private: Buffer.from('priv') } }, 'lid-mapping': { '972500000001': '123', '123_reverse': '972500000001' } });
  const b = await useDurableAuthState(dir);
  assert.equal(b.state.creds.me.id, '972500000001:3@s.whatsapp.net');
  assert.deepEqual(JSON.stringify(b.state.creds.noiseKey, BufferJSON.replacer), JSON.stringify(a.state.creds.noiseKey, BufferJSON.replacer));
  const got = await b.state.keys.get('pre-key', ['1', '2']);
  assert.deepEqual(got['1'].private, Buffer.from('priv'));
  assert.equal(got['2'], undefined);
  assert.deepEqual(await b.state.keys.get('lid-mapping', ['123_reverse']), { '123_reverse': '972500000001' });
  await b.state.keys.set({ 'pre-key': { 1: null } });
  assert.deepEqual(await b.state.keys.get('pre-key', ['1']), {});
  assert.ok(initAuthCreds().registered === false);
  assert.deepEqual((await fs.readdir(dir)).filter((n) => n.endsWith('.tmp')), []);
});

test('lock: held lock refuses; a stale lock (dead pid) is taken over', async (t) => {
  const dir = await tmpDir(t);
  const release = acquireLock(dir);
  assert.throws(() => acquireLock(dir), /already locked/);
  release();
  const os = await import('node:os');
  const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  await fs.writeFile(path.join(dir, 'bridge.lock'), JSON.stringify({ pid: Number(dead.stdout), hostname: os.hostname(), startedAt: 'then' }));
  const r2 = acquireLock(dir);
  assert.equal(JSON.parse(await fs.readFile(path.join(dir, 'bridge.lock'), 'utf8')).pid, process.pid);
  r2();
  await fs.writeFile(path.join(dir, 'bridge.lock'), JSON.stringify({ pid: 1, hostname: os.hostname(), startedAt: 'then' }));
  if (process.pid !== 1) assert.throws(() => acquireLock(dir), /locked by pid 1/);
});
