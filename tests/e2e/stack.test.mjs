// stack.test.mjs - the local stack (infra/stack.sh) comes up on a fresh state directory.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { root } from './lib.mjs';

// A fresh state's Kafka cluster id is 16 random bytes in URL-safe base64: one draw in 64 begins
// with '-'. StorageTool took such an id for an option and `make run` died on a fresh machine
// ("StorageTool format failed"); CI met it once. An id already stored that way must still start.
test('a fresh Kafka whose stored cluster id begins with "-" is formatted with it and starts', (t) => {
  const state = fs.mkdtempSync(path.join(os.tmpdir(), 'wa-stack-'));
  const env = { ...process.env, WA_STATE: state, WA_KAFKA_NODES: '1',
    // Ports of its own, so the suite's stack keeps running beside it.
    WA_KAFKA_PORT: '39192', WA_KAFKA_CONTROLLER_PORT: '39193' };
  const stack = (...args) => spawnSync(path.join(root, 'infra/stack.sh'), args,
    { env, encoding: 'utf8', timeout: 120000 });
  t.after(() => {
    stack('kafka-stop');
    fs.rmSync(state, { recursive: true, force: true });
  });
  const id = '-YKJ4vXklFL5p4wAKJojSA';
  fs.mkdirSync(path.join(state, 'kafka'), { recursive: true });
  fs.writeFileSync(path.join(state, 'kafka/cluster.id'), `${id}\n`);

  const r = stack('kafka-start');
  assert.equal(r.status, 0, `kafka-start: ${r.stderr}${r.stdout}`);
  const meta = fs.readFileSync(path.join(state, 'kafka/data/meta.properties'), 'utf8');
  assert.match(meta, new RegExp(`^cluster\\.id=${id}$`, 'm'));
  const md = spawnSync('kcat', ['-b', '127.0.0.1:39192', '-L', '-J'], { encoding: 'utf8', timeout: 20000 });
  assert.equal(md.status, 0, md.stderr);
  assert.deepEqual(JSON.parse(md.stdout).brokers.map((b) => b.id), [1]);
});
