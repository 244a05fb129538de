// Who may read GET /metrics: the issue was that anyone who could reach the bridge could.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { metricsRefused } from '../src/http.js';

const config = { secret: 'bridge-secret-1', metricsToken: 'metrics-token-1' };
const req = (remoteAddress, headers = {}) => ({ socket: { remoteAddress }, headers });

test('a client on this machine reads the metrics without credentials', () => {
  for (const a of ['127.0.0.1', '::1', '::ffff:127.0.0.1']) assert.equal(metricsRefused(req(a), config), null, a);
});

test('another machine needs the secret or the metrics token', () => {
  for (const a of ['10.0.0.7', '::ffff:10.0.0.7', '2001:db8::7', undefined]) {
    const r = metricsRefused(req(a), config);
    assert.equal(r.status, 403, String(a));
    assert.equal(r.body.error, 'metrics_local_only');
  }
  assert.equal(metricsRefused(req('10.0.0.7', { 'x-baileys-secret': 'bridge-secret-1' }), config), null);
  assert.equal(metricsRefused(req('10.0.0.7', { 'x-baileys-secret': 'wrong' }), config).status, 403);
  assert.equal(metricsRefused(req('10.0.0.7', { authorization: 'Bearer metrics-token-1' }), config), null);
  assert.equal(metricsRefused(req('10.0.0.7', { authorization: 'Bearer nope' }), config).status, 403);
});

test('without METRICS_TOKEN a bearer token opens nothing', () => {
  const r = metricsRefused(req('10.0.0.7', { authorization: 'Bearer ' }), { ...config, metricsToken: '' });
  assert.equal(r.body.error, 'metrics_local_only');
});
