// templates.test.mjs - the approved-template catalogue: synced from Twilio's Content API (the
// simulator's GET /v1/ContentAndApprovals) by sender-twilio, on a schedule and when the operator
// asks; a template the catalogue knows is not approved for WhatsApp is refused before anything
// is sent.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { env, sim, simCalls, twilioContact, send, key, waitMessage, waitFor, topicRecords, uniquePhone, q } from './lib.mjs';

const base = `http://${env.DASHBOARD_LISTEN}`;
const auth = { Authorization: `Bearer ${env.DASHBOARD_TOKEN}` };
const APPROVED = 'HX0123456789abcdef0123456789abcdef';
const REJECTED = 'HX00000000000000000000000000000003';
const UNSUBMITTED = 'HX00000000000000000000000000000004';

async function catalogue() {
  const res = await fetch(`${base}/api/templates`, { headers: auth });
  assert.equal(res.status, 200);
  return res.json();
}

const entry = async (sid) => (await catalogue()).templates.find((t) => t.sid === sid);

test('the catalogue is synced from the Content API, with each template\'s WhatsApp approval', async () => {
  const c = await waitFor('the first sync', async () => {
    const x = await catalogue();
    return x.sync?.syncedAtMs && x.templates.length >= 5 ? x : false;
  }, { timeoutMs: 30000, logs: ['sender-twilio'] });
  const bySid = Object.fromEntries(c.templates.map((t) => [t.sid, t]));
  assert.equal(bySid[APPROVED].status, 'approved');
  assert.equal(bySid[APPROVED].name, 'appointment_reminder');
  assert.equal(bySid[APPROVED].category, 'UTILITY');
  assert.equal(bySid[APPROVED].body, 'Hello {{1}}, your appointment is on {{2}}.');
  assert.deepEqual(bySid[APPROVED].variables, { 1: 'Dana', 2: '12/1' });
  assert.equal(bySid[REJECTED].status, 'rejected');
  assert.equal(bySid[REJECTED].rejectionReason, 'Template content violates WhatsApp policy');
  assert.equal(bySid[UNSUBMITTED].status, 'unsubmitted');
  // Approved ones come first: what an operator can send.
  assert.equal(c.templates[0].status, 'approved');
  const events = (await topicRecords('wa.events')).map((r) => JSON.parse(r.value))
    .filter((e) => e.type === 'template.sync');
  assert.ok(events.length >= 1, 'a template.sync event');
  assert.ok(events.at(-1).listed >= 5);
});

test('on request: a new template and a changed approval arrive at the next sync', async () => {
  const sid = `HX${crypto.randomBytes(16).toString('hex')}`;
  const name = `order_update_${sid.slice(-6)}`;
  assert.equal((await sim('/sim/templates', { sid, name, category: 'UTILITY', status: 'pending',
    body: 'Order {{1}} is on its way', variables: { 1: '42' } })).sid, sid);
  const before = (await catalogue()).sync.syncedAtMs;
  const r = await fetch(`${base}/api/templates/sync`, { method: 'POST', headers: auth });
  assert.equal(r.status, 202);
  assert.equal((await r.json()).requested, true);
  const t = await waitFor('the new template in the catalogue', async () => (await entry(sid)) ?? false,
    { timeoutMs: 15000, logs: ['sender-twilio'] });
  assert.equal(t.status, 'pending');
  assert.ok((await catalogue()).sync.syncedAtMs > before);
  // WhatsApp approves it.
  await sim('/sim/templates', { sid, name, category: 'UTILITY', status: 'approved', body: 'Order {{1}} is on its way' });
  await fetch(`${base}/api/templates/sync`, { method: 'POST', headers: auth });
  await waitFor('its approval synced', async () => (await entry(sid))?.status === 'approved',
    { timeoutMs: 15000, logs: ['sender-twilio'] });
  // Only a POST asks: a GET of the same path is refused.
  assert.equal((await fetch(`${base}/api/templates/sync`, { headers: auth })).status, 405);
  assert.equal((await fetch(`${base}/api/templates/sync`, { method: 'POST' })).status, 401);
  // Removed from Twilio: gone from the catalogue at the next sync.
  await sim(`/sim/templates?sid=${sid}`, undefined, 'DELETE');
  await fetch(`${base}/api/templates/sync`, { method: 'POST', headers: auth });
  await waitFor('the removed template gone', async () => !(await entry(sid)), { timeoutMs: 15000 });
});

test('a template WhatsApp rejected is refused before anything is sent; an approved one goes out', async () => {
  await waitFor('the catalogue synced', async () => (await entry(REJECTED))?.status === 'rejected',
    { timeoutMs: 30000 });
  const phone = await twilioContact();
  const refused = await send({ to: phone, type: 'template', idempotencyKey: key(),
    template: { contentSid: REJECTED, variables: { 1: 'a gift' } } }, { headers: { Prefer: 'wait=3' } });
  assert.equal(refused.status, 200, refused.text);
  assert.equal(refused.json.status, 'failed');
  assert.equal(refused.json.errorCode, 'template_not_approved');
  assert.match(refused.json.errorText, /win_back.*rejected for WhatsApp: Template content violates WhatsApp policy/);
  const ok = await send({ to: phone, type: 'template', idempotencyKey: key(),
    template: { contentSid: APPROVED, variables: { 1: 'Dana', 2: '12/1' } } });
  assert.equal(ok.status, 202, ok.text);
  await waitMessage(ok.json.id, 'the approved template sent', (m) => ['sent', 'delivered', 'read'].includes(m.status));
  const calls = await simCalls(phone);
  assert.deepEqual(calls.map((c) => c.params.ContentSid), [APPROVED], 'only the approved template reached Twilio');
  // The refusal is on wa.error for whoever watches it.
  const errors = (await topicRecords('wa.error')).map((r) => r.value).filter((v) => v.includes(refused.json.id));
  assert.ok(errors.some((v) => v.includes('template_not_approved')), 'wa.error names it');
  // A template the catalogue has never heard of is let through to Twilio (the catalogue may lag).
  const unknownSid = `HX${crypto.randomBytes(16).toString('hex')}`;
  const other = uniquePhone();
  const u = await send({ to: other, type: 'template', idempotencyKey: key(), template: { contentSid: unknownSid } });
  const m = await waitMessage(u.json.id, 'the unknown template routed', (x) => x.status !== 'queued');
  assert.notEqual(m.errorCode, 'template_not_approved');
  assert.equal((await q('select count(*)::int n from templates where sid = $1', [unknownSid]))[0].n, 0);
});
