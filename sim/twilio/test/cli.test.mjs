// cli.test.mjs - the server as a process: "listening <host:port>", SIGTERM, a missing spec.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

const SERVER = fileURLToPath(new URL('../server.mjs', import.meta.url));

test('prints listening <host:port> and cdn <host:port>, serves, exits 0 on SIGTERM', async () => {
  const child = spawn(process.execPath, [SERVER], {
    env: { ...process.env, TWILIO_SIM_LISTEN: '127.0.0.1:0', TWILIO_SIM_CDN_LISTEN: '127.0.0.1:0' },
    stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stderr.on('data', (d) => { err += d; });
  const addr = await new Promise((resolve, reject) => {
    child.stdout.on('data', (d) => {
      out += d;
      const m = /^listening (\S+)\ncdn (\S+)\n/.exec(out);
      if (m) resolve(m[1]);
    });
    child.once('exit', () => reject(new Error(`exited early: ${err}`)));
  });
  assert.match(addr, /^127\.0\.0\.1:\d+$/);
  const res = await fetch(`http://${addr}/sim/health`);
  assert.equal(res.status, 200);
  const health = await res.json();
  assert.equal(health.accountSid, 'AC00000000000000000000000000000000');
  const cdn = /^cdn (\S+)$/m.exec(out)[1];
  assert.match(cdn, /^127\.0\.0\.1:\d+$/);
  assert.equal(health.cdn, `http://${cdn}`);
  assert.equal((await fetch(`http://${cdn}/cdn/unknown`)).status, 404);
  child.kill('SIGTERM');
  const [code] = await once(child, 'exit');
  assert.equal(code, 0);
  assert.match(err, /twilio-sim GET \/sim\/health -> 200/); // one log line per request
});

test('a missing spec is one clear line on stderr and a non-zero exit', async () => {
  const child = spawn(process.execPath, [SERVER], {
    env: { ...process.env, TWILIO_SIM_LISTEN: '127.0.0.1:0', TWILIO_OAI_SPEC: '/nonexistent/spec.json' },
    stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d) => { err += d; });
  const [code] = await once(child, 'exit');
  assert.notEqual(code, 0);
  assert.equal(err.trim().split('\n').length, 1);
  assert.match(err, /spec.*\/nonexistent\/spec\.json.*TWILIO_OAI_SPEC/);
});
