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

test('the senders refuse to start without their provider settings', () => {
  const t = start('sender-twilio', { DATABASE_URL: 'postgresql://x@127.0.0.1:1/x', PUBLIC_BASE_URL: 'http://x',
    TWILIO_API_BASE: 'not a url', TWILIO_RATE_PER_SECOND: '0' });
  assert.equal(t.status, 78);
  for (const re of [/TWILIO_ACCOUNT_SID is required/, /TWILIO_AUTH_TOKEN is required/,
    /TWILIO_WA_FROM is required/, /TWILIO_API_BASE=not a url/, /TWILIO_RATE_PER_SECOND=0 is out of range/]) {
    assert.match(t.stderr, re);
  }
  const from = start('sender-twilio', { DATABASE_URL: 'postgresql://x@127.0.0.1:1/x', PUBLIC_BASE_URL: 'http://x',
    TWILIO_ACCOUNT_SID: 'AC1', TWILIO_AUTH_TOKEN: 'tok', TWILIO_WA_FROM: 'sandbox' });
  assert.equal(from.status, 78);
  assert.match(from.stderr, /TWILIO_ACCOUNT_SID=AC1 is not AC followed by 32 hex digits/);
  const from2 = start('sender-twilio', { DATABASE_URL: 'postgresql://x@127.0.0.1:1/x', PUBLIC_BASE_URL: 'http://x',
    TWILIO_ACCOUNT_SID: `AC${'0'.repeat(32)}`, TWILIO_AUTH_TOKEN: 'tok', TWILIO_WA_FROM: 'sandbox' });
  assert.equal(from2.status, 78);
  assert.match(from2.stderr, /TWILIO_WA_FROM: "sandbox" is not a number in E.164/);
  // Several numbers: each is checked, and the router says so too.
  const from3 = start('sender-twilio', { DATABASE_URL: 'postgresql://x@127.0.0.1:1/x', PUBLIC_BASE_URL: 'http://x',
    TWILIO_ACCOUNT_SID: `AC${'0'.repeat(32)}`, TWILIO_AUTH_TOKEN: 'tok',
    TWILIO_WA_FROM: 'whatsapp:+14155238886,whatsapp:+1415' });
  assert.equal(from3.status, 78);
  assert.match(from3.stderr, /TWILIO_WA_FROM: "whatsapp:\+1415" is not a number in E.164/);
  const router = start('router', { DATABASE_URL: 'postgresql://x@127.0.0.1:1/x',
    TWILIO_WA_FROM: 'whatsapp:+14155238886,whatsapp:+14155238886' });
  assert.equal(router.status, 78);
  assert.match(router.stderr, /TWILIO_WA_FROM: "whatsapp:\+14155238886" is listed twice/);
  const b = start('sender-baileys', { DATABASE_URL: 'postgresql://x@127.0.0.1:1/x', BAILEYS_DOWN_HOLD_S: '-1' });
  assert.equal(b.status, 78);
  assert.match(b.stderr, /BAILEYS_WEBHOOK_SECRET is required/);
  assert.match(b.stderr, /BAILEYS_DOWN_HOLD_S=-1 is out of range/);
  // Its name on wa.provider goes into a Kafka key beside the channel's: no '/', nothing odd.
  const inst = start('sender-baileys', { DATABASE_URL: 'postgresql://x@127.0.0.1:1/x', BAILEYS_WEBHOOK_SECRET: 's',
    SENDER_INSTANCE: 'web 1/eu' });
  assert.equal(inst.status, 78);
  assert.match(inst.stderr, /SENDER_INSTANCE=web 1\/eu must be 1 to 64 letters, digits/);
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
