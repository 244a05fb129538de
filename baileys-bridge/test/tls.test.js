// An https INGRESS_URL: the certificate is verified, against Node's CA list plus
// BRIDGE_INGRESS_CA_FILE. A certificate that does not verify is a network error: the entry stays
// in the outbox and is retried, never parked.
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { createBridge } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { fakeIngress, tmpDir, call, waitFor, testConfig } from './helpers.js';

const tlsScript = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../scripts/tls.sh');

/** A CA and a server certificate for 127.0.0.1 (scripts/tls.sh, the one `make run` uses). */
async function makeCa(t) {
  const dir = path.join(await tmpDir(t), 'tls');
  execFileSync(tlsScript, [dir], { stdio: 'ignore' });
  const read = (f) => fs.readFile(path.join(dir, f), 'utf8');
  return { dir, caFile: path.join(dir, 'ca.pem'), cert: await read('server.pem'), key: await read('server.key') };
}

/** A bridge whose log lines (warn and above) are kept in `lines`. */
async function bridgeWithLog(t, env) {
  const lines = [];
  const logger = pino({ level: 'warn' }, { write: (s) => lines.push(JSON.parse(s)) });
  const bridge = await createBridge(testConfig(env), { logger });
  t.after(() => bridge.close());
  return { bridge, lines };
}

const outboxFiles = async (dir) => (await fs.readdir(path.join(dir, 'outbox'))).filter((f) => f.endsWith('.json'));

test('an https ingress whose certificate BRIDGE_INGRESS_CA_FILE vouches for gets the messages', async (t) => {
  const ca = await makeCa(t);
  const ingress = await fakeIngress(t, () => 204, { tls: { cert: ca.cert, key: ca.key } });
  assert.match(ingress.url, /^https:/);
  const state = await tmpDir(t);
  const { bridge } = await bridgeWithLog(t, { BRIDGE_STATE_DIR: state, INGRESS_URL: ingress.url, BRIDGE_INGRESS_CA_FILE: ca.caFile });
  const r = await call(bridge.url, 'POST', '/dev/inbound', { body: { from: '+972501234567', text: 'over tls' } });
  assert.equal(r.status, 200);
  await waitFor(() => ingress.received.length === 1, { what: 'the message at ingress' });
  assert.equal(ingress.received[0].body.text, 'over tls');
  assert.equal(ingress.received[0].body.messageId, r.json.messageId);
  await waitFor(async () => (await outboxFiles(state)).length === 0, { what: 'the outbox to empty' });
});

test('a certificate from another CA is refused: nothing delivered, the entry kept and retried, not parked', async (t) => {
  const served = await makeCa(t);
  const other = await makeCa(t); // trusted, but not the one that signed ingress's certificate
  const ingress = await fakeIngress(t, () => 204, { tls: { cert: served.cert, key: served.key } });
  const state = await tmpDir(t);
  const { bridge, lines } = await bridgeWithLog(t, { BRIDGE_STATE_DIR: state, INGRESS_URL: ingress.url, BRIDGE_INGRESS_CA_FILE: other.caFile });
  await call(bridge.url, 'POST', '/dev/inbound', { body: { from: '+972501234567', text: 'not to a stranger' } });
  const retries = () => lines.filter((l) => l.msg === 'outbox: delivery failed, will retry');
  await waitFor(() => retries().length >= 2, { what: 'two failed attempts' });
  assert.equal(ingress.received.length, 0);
  assert.match(retries()[0].reason, /CERT|SIGNATURE|ISSUER/i, 'the log names the certificate problem');
  assert.equal((await outboxFiles(state)).length, 1, 'the entry waits in the outbox');
  assert.deepEqual(await fs.readdir(path.join(state, 'outbox', 'rejected')), [], 'not parked');

  // Without any CA file the local CA is unknown too (Node's list only): still refused.
  const state2 = await tmpDir(t);
  const plain = await bridgeWithLog(t, { BRIDGE_STATE_DIR: state2, INGRESS_URL: ingress.url });
  await call(plain.bridge.url, 'POST', '/dev/inbound', { body: { from: '+972501234568', text: 'no ca' } });
  await waitFor(() => plain.lines.some((l) => l.msg === 'outbox: delivery failed, will retry'), { what: 'a failed attempt' });
  assert.equal(ingress.received.length, 0);
});

test('BRIDGE_INGRESS_CA_FILE must be a readable PEM certificate', async (t) => {
  const dir = await tmpDir(t);
  const env = { BAILEYS_WEBHOOK_SECRET: 'test-secret-123' };
  let { errors } = loadConfig({ ...env, BRIDGE_INGRESS_CA_FILE: path.join(dir, 'none.pem') });
  assert.deepEqual(errors, [`BRIDGE_INGRESS_CA_FILE: cannot read "${path.join(dir, 'none.pem')}": ENOENT`]);
  const junk = path.join(dir, 'junk.pem');
  await fs.writeFile(junk, 'hello\n');
  ({ errors } = loadConfig({ ...env, BRIDGE_INGRESS_CA_FILE: junk }));
  assert.deepEqual(errors, [`BRIDGE_INGRESS_CA_FILE: "${junk}" holds no PEM certificate (-----BEGIN CERTIFICATE-----)`]);
  const ca = await makeCa(t);
  const { config, errors: none } = loadConfig({ ...env, BRIDGE_INGRESS_CA_FILE: ca.caFile });
  assert.deepEqual(none, []);
  assert.match(config.ingressCa, /-----BEGIN CERTIFICATE-----/);
  assert.equal(config.ingressCaFile, ca.caFile);
});
