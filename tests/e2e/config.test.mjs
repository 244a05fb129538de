// config.test.mjs - a service with bad configuration says what is wrong, one line each, and exits 78.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { root } from './lib.mjs';

function start(bin, env) {
  return spawnSync(path.join(root, 'build/bin', bin), [], { env: { PATH: process.env.PATH, ...env },
    encoding: 'utf8', timeout: 10000 });
}

test('ingress refuses to start with a bad configuration, naming every problem', () => {
  const r = start('ingress', { INGRESS_MAX_BODY: 'lots', INGRESS_LISTEN: '8080', LOG_LEVEL: 'loud',
    TWILIO_AUTH_TOKEN: 'x' });
  assert.equal(r.status, 78);
  const lines = r.stderr.trim().split('\n');
  assert.deepEqual(lines.map((l) => l.split('=')[0].split(' ')[1]).sort(),
    ['BAILEYS_WEBHOOK_SECRET', 'INGRESS_LISTEN', 'INGRESS_MAX_BODY', 'LOG_LEVEL', 'PUBLIC_BASE_URL'].sort());
  assert.match(r.stderr, /config: PUBLIC_BASE_URL is required/);
  assert.match(r.stderr, /config: INGRESS_MAX_BODY=lots is not a whole number/);
  assert.doesNotMatch(r.stderr, /\bx\b.*token/i, 'secrets are not echoed');
});

test('router refuses to start without DATABASE_URL', () => {
  const r = start('router', { WHATSAPP_PROVIDER: 'smoke-signals' });
  assert.equal(r.status, 78);
  assert.match(r.stderr, /config: DATABASE_URL is required/);
  assert.match(r.stderr, /config: WHATSAPP_PROVIDER=smoke-signals must be one of auto\|twilio\|baileys/);
});

test('the effective configuration is logged with secrets masked', () => {
  const r = spawnSync(path.join(root, 'build/bin', 'ingress'), [], {
    env: { PATH: process.env.PATH, PUBLIC_BASE_URL: 'http://127.0.0.1:1', TWILIO_AUTH_TOKEN: 'tok-SECRET-123',
      BAILEYS_WEBHOOK_SECRET: 'bridge-SECRET-456', INGRESS_LISTEN: '203.0.113.1:8080', KAFKA_BROKERS: '127.0.0.1:1' },
    encoding: 'utf8', timeout: 10000 });
  // 203.0.113.1 is not this machine's: it fails to listen, after logging its configuration.
  assert.match(r.stderr, /config TWILIO_AUTH_TOKEN=\*\*\*\*/);
  assert.doesNotMatch(r.stderr, /SECRET-123|SECRET-456/);
});
