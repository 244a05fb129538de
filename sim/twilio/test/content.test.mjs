// content.test.mjs - the Content API catalogue (GET /v1/ContentAndApprovals): every page is
// checked against Twilio's content_v1 OpenAPI document, and the catalogue changes through /sim.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { ACCOUNT, basic, simJson, startSim } from './helpers.mjs';
import { loadContentSpec, SEED } from '../lib/templates.mjs';

let sim;
const validate = loadContentSpec();
before(async () => { sim = await startSim(); });
after(() => sim.close());

async function list(query = '', auth = basic()) {
  const res = await fetch(`${sim.url}/v1/ContentAndApprovals${query}`, { headers: auth ? { Authorization: auth } : {} });
  return { status: res.status, body: await res.json() };
}

test('the seeded catalogue, as Twilio lists it: templates with their WhatsApp approval', async () => {
  const r = await list();
  assert.equal(r.status, 200);
  const v = validate(r.body);
  assert.ok(v.ok, JSON.stringify(v.errors));
  assert.equal(r.body.contents.length, SEED.length);
  const reminder = r.body.contents.find((c) => c.friendly_name === 'appointment_reminder');
  assert.equal(reminder.sid, 'HX0123456789abcdef0123456789abcdef');
  assert.equal(reminder.account_sid, ACCOUNT);
  assert.deepEqual(reminder.types, { 'twilio/text': { body: 'Hello {{1}}, your appointment is on {{2}}.' } });
  assert.equal(reminder.approval_requests.status, 'approved');
  assert.equal(reminder.approval_requests.category, 'UTILITY');
  const rejected = r.body.contents.find((c) => c.approval_requests.status === 'rejected');
  assert.ok(rejected.approval_requests.rejection_reason);
  assert.equal(r.body.meta.key, 'contents');
  assert.equal(r.body.meta.next_page_url, null);
});

test('pages follow next_page_url to the end, each valid', async () => {
  const seen = [];
  let next = '?PageSize=2';
  for (let i = 0; next && i < 10; i++) {
    const r = await list(next);
    assert.equal(r.status, 200);
    assert.ok(validate(r.body).ok);
    assert.ok(r.body.contents.length <= 2);
    seen.push(...r.body.contents.map((c) => c.sid));
    next = r.body.meta.next_page_url ? new URL(r.body.meta.next_page_url).search : null;
  }
  assert.equal(new Set(seen).size, SEED.length);
});

test('no credentials -> 401; another method -> 405', async () => {
  assert.equal((await list('', null)).status, 401);
  const res = await fetch(`${sim.url}/v1/ContentAndApprovals`, { method: 'POST', headers: { Authorization: basic() } });
  assert.equal(res.status, 405);
});

test('/sim/templates adds and changes a template, its approval too; bad input is refused', async () => {
  const sid = 'HX' + 'ab'.repeat(16);
  const add = await simJson(sim, 'POST', '/sim/templates', { sid, name: 'order_update', category: 'UTILITY',
    status: 'pending', body: 'Order {{1}} is on its way', variables: { 1: '42' } });
  assert.equal(add.status, 200, JSON.stringify(add.body));
  let item = (await list('?PageSize=1000')).body.contents.find((c) => c.sid === sid);
  assert.equal(item.approval_requests.status, 'pending');
  await simJson(sim, 'POST', '/sim/templates', { sid, name: 'order_update', status: 'approved', body: 'Order {{1}} is on its way' });
  item = (await list('?PageSize=1000')).body.contents.find((c) => c.sid === sid);
  assert.equal(item.approval_requests.status, 'approved');
  assert.ok(validate((await list('?PageSize=1000')).body).ok);
  assert.equal((await simJson(sim, 'POST', '/sim/templates', { sid: 'HX12', name: 'x', body: 'y' })).status, 400);
  assert.equal((await simJson(sim, 'POST', '/sim/templates', { sid, name: 'Bad Name', body: 'y' })).status, 400);
  assert.equal((await simJson(sim, 'POST', '/sim/templates', { sid, name: 'x', body: 'y', status: 'great' })).status, 400);
  assert.equal((await simJson(sim, 'DELETE', `/sim/templates?sid=${sid}`)).body.removed, true);
});
