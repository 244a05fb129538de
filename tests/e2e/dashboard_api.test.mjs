// dashboard_api.test.mjs - the dashboard's API on the real stack: the token, pagination, search,
// bad parameters, the charts' figures, and live events.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import {
  sendInbound, uniquePhone, waitFor, messagesFor, env, q, sim, twilioContact, send, key, waitMessage,
  services, stack, ageContact, simCalls, baileysContact, restartWith, metric, bridgeSent,
} from './lib.mjs';

const base = `http://${env.DASHBOARD_LISTEN}`;
const token = env.DASHBOARD_TOKEN;
const auth = { Authorization: `Bearer ${token}` };

async function get(path, headers = auth) {
  const res = await fetch(base + path, { headers, redirect: 'manual' });
  const text = await res.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* a page */ }
  return { status: res.status, json, text, headers: res.headers };
}

async function badRequests() {
  const text = await (await fetch(`${base}/metrics`)).text();
  return Number(/^wa_dashboard_bad_requests_total (\d+)/m.exec(text)?.[1] ?? NaN);
}

async function leadOf(phone) {
  const r = await get(`/api/leads?q=${encodeURIComponent(phone)}`);
  assert.equal(r.status, 200, r.text);
  return r.json.leads.find((l) => l.phone === phone);
}

test('nothing answers without the token; a login with it gives a session cookie', async () => {
  for (const p of ['/api/leads', '/api/stats', '/api/events', '/api/leads/1/messages']) {
    const r = await get(p, {});
    assert.equal(r.status, 401, p);
  }
  const page = await get('/', {});
  assert.equal(page.status, 303);
  assert.equal(page.headers.get('location'), '/login');
  assert.equal((await get('/api/leads', { Authorization: 'Bearer wrong-token-xxxx' })).status, 401);
  const bad = await fetch(`${base}/login`, { method: 'POST', redirect: 'manual',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: 'token=nope' });
  assert.equal(bad.status, 303);
  assert.equal(bad.headers.get('location'), '/login?error=1');
  assert.equal(bad.headers.get('set-cookie'), null);
  // A body too large for a login form: a clear 413, counted, and no cookie.
  const before = await badRequests();
  const huge = await fetch(`${base}/login`, { method: 'POST', redirect: 'manual',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: `token=${encodeURIComponent(token)}&pad=${'x'.repeat(8000)}` });
  assert.equal(huge.status, 413);
  assert.equal((await huge.json()).error, 'too_large');
  assert.equal(huge.headers.get('set-cookie'), null);
  assert.equal(await badRequests(), before + 1);
  const ok = await fetch(`${base}/login`, { method: 'POST', redirect: 'manual',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: `token=${encodeURIComponent(token)}` });
  assert.equal(ok.status, 303);
  const cookie = ok.headers.get('set-cookie');
  assert.match(cookie, /HttpOnly/);
  assert.match(cookie, /SameSite=Strict/);
  const withCookie = await get('/api/leads?limit=1', { Cookie: cookie.split(';')[0] });
  assert.equal(withCookie.status, 200);
  assert.ok(Array.isArray(withCookie.json.leads));
  assert.equal((await get('/healthz', {})).status, 200);
});

const login = (t) => fetch(`${base}/login`, { method: 'POST', redirect: 'manual',
  headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: `token=${encodeURIComponent(t)}` });

test('sessions are the server\'s: each login its own random cookie, and logout ends it for every copy', async () => {
  const a = (await login(token)).headers.get('set-cookie').split(';')[0];
  const b = (await login(token)).headers.get('set-cookie').split(';')[0];
  assert.notEqual(a, b, 'a fresh cookie per login, not one value derived from the token');
  assert.match(a, /^wa_dash=[0-9a-f]{64}$/);
  assert.equal((await get('/api/leads?limit=1', { Cookie: a })).status, 200);
  const out = await fetch(`${base}/logout`, { headers: { Cookie: a }, redirect: 'manual' });
  assert.equal(out.status, 303);
  // The copy of the cookie someone kept is refused now; the other session lives on.
  assert.equal((await get('/api/leads?limit=1', { Cookie: a })).status, 401);
  assert.equal((await get('/api/leads?limit=1', { Cookie: b })).status, 200);
  assert.equal((await get('/api/leads?limit=1', { Cookie: `wa_dash=${'0'.repeat(64)}` })).status, 401);
  const [row] = await q(`select count(*)::int n from dashboard_sessions where revoked_at is not null`);
  assert.ok(row.n >= 1);
});

test('a session also ends after DASHBOARD_SESSION_IDLE_S without a request; each request moves that clock', async () => {
  const c = (await login(token)).headers.get('set-cookie').split(';')[0];
  const id = crypto.createHash('sha256').update(c.split('=')[1]).digest('hex');
  const idle = Number(env.DASHBOARD_SESSION_IDLE_S || 7200);
  // Last used a minute inside the limit: still in, and this use starts the clock again.
  await q(`update dashboard_sessions set last_seen_at = now() - make_interval(secs => $2) where id_sha256 = $1`, [id, idle - 60]);
  assert.equal((await get('/api/leads?limit=1', { Cookie: c })).status, 200);
  const [fresh] = await q(`select extract(epoch from now() - last_seen_at)::int s from dashboard_sessions where id_sha256 = $1`, [id]);
  assert.ok(fresh.s < 30, `last_seen_at ${fresh.s} s ago`);
  // Unused past the limit, though far from its absolute expiry: out.
  await q(`update dashboard_sessions set last_seen_at = now() - make_interval(secs => $2) where id_sha256 = $1`, [id, idle + 1]);
  assert.equal((await get('/api/leads?limit=1', { Cookie: c })).status, 401);
  const [row] = await q(`select expires_at > now() live from dashboard_sessions where id_sha256 = $1`, [id]);
  assert.equal(row.live, true);
});

test('wrong tokens from one address are throttled: the sixth try waits, even with the right token', async () => {
  try {
    for (let i = 0; i < 5; i++) {
      const r = await login(`wrong-${i}-xxxxxxxx`);
      assert.equal(r.status, 303, `attempt ${i + 1}`);
      assert.equal(r.headers.get('location'), '/login?error=1');
    }
    const sixth = await login(token);
    assert.equal(sixth.status, 429);
    const body = await sixth.json();
    assert.equal(body.error, 'too_many_attempts');
    assert.match(body.message, /try again in \d+ s/);
    assert.equal(sixth.headers.get('set-cookie'), null);
    // The API's Bearer token is not a login: it still works.
    assert.equal((await get('/api/leads?limit=1')).status, 200);
  } finally {
    // The block is this instance's memory: a restart lifts it for the tests that follow.
    services('stop', 'dashboard');
    services('start', 'dashboard');
  }
  // A kept-alive connection to the old process fails once: ask until the new one answers.
  await waitFor('the restarted dashboard to take a login', async () => {
    try {
      return (await login(token)).status === 303;
    } catch {
      return false;
    }
  }, { logs: ['dashboard'] });
});

test('after a Postgres restart the first API call is answered, not 503: a broken pooled connection is replaced', async () => {
  // Every pooled connection is used once, so each is open when Postgres goes away.
  await Promise.all(Array.from({ length: 8 }, () => get('/api/leads?limit=1')));
  stack('pg-stop');
  stack('pg-start');
  for (let i = 0; i < 8; i++) {
    const r = await get('/api/leads?limit=1');
    assert.equal(r.status, 200, `call ${i + 1}: ${r.text}`);
  }
});

test('a timeline pages by cursor, newest first, without gaps or repeats', async () => {
  const phone = uniquePhone();
  for (let i = 0; i < 7; i++) await sendInbound({ from: phone, body: `message ${i}` });
  await waitFor('7 messages in the CRM', async () => (await messagesFor(phone)).length === 7);
  const lead = await leadOf(phone);
  assert.ok(lead, 'the lead is found by its phone');
  assert.equal(lead.last_inbound_provider, 'twilio');
  assert.equal(lead.window_open, true);
  assert.ok(lead.window_closes_ms > Date.now() + 23 * 3600e3);
  assert.equal(lead.last_message.text, 'message 6');
  const seen = [];
  let cursor = null;
  for (let page = 0; page < 3; page++) {
    const r = await get(`/api/leads/${lead.id}/messages?limit=3${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.contact.phone, phone);
    seen.push(...r.json.messages);
    cursor = r.json.next;
    if (page < 2) assert.ok(cursor);
  }
  assert.equal(cursor, null);
  assert.deepEqual(seen.map((m) => m.text), [6, 5, 4, 3, 2, 1, 0].map((i) => `message ${i}`));
  assert.equal(new Set(seen.map((m) => m.id)).size, 7);
  for (const m of seen) {
    assert.equal(m.provider, 'twilio');
    assert.equal(m.direction, 'inbound');
  }
});

// The tests run with two Twilio numbers (scripts/e2e.sh).
const [FIRST, SECOND] = env.TWILIO_WA_FROM.split(',').map((n) => n.trim().replace(/^whatsapp:/, ''));

test('channels: a contact who wrote to two Twilio numbers has a window per number, newest first, and each message names its channel', async () => {
  assert.ok(SECOND, 'the tests configure two Twilio numbers');
  const phone = uniquePhone();
  for (const [i, to] of [FIRST, SECOND].entries()) {
    const r = await sim('/sim/inbound', { from: phone, to, body: `to number ${i + 1}` });
    assert.equal(r.status, 204, JSON.stringify(r));
    await waitFor(`message ${i + 1}`, async () => (await messagesFor(phone)).length === i + 1);
  }
  const lead = await leadOf(phone);
  assert.deepEqual(lead.windows.map((w) => [w.channel, w.provider, w.number, w.open]), [
    [`twilio:${SECOND}`, 'twilio', SECOND, true],
    [`twilio:${FIRST}`, 'twilio', FIRST, true],
  ]);
  assert.ok(lead.windows[0].closes_ms > lead.windows[1].closes_ms, JSON.stringify(lead.windows));
  assert.ok(lead.windows[1].closes_ms > Date.now() + 23 * 3600e3);
  // The contact-level window (kept for older clients) is the latest channel's.
  assert.equal(lead.window_closes_ms, lead.windows[0].closes_ms);
  // A bare provider name (a row from before channels) has no number; long ago, its window is closed.
  await q(`insert into contact_channels (contact_id, channel, provider, last_inbound_at)
    values ($1, 'twilio', 'twilio', now() - interval '25 hours')`, [lead.id]);
  const t = await get(`/api/leads/${lead.id}/messages`);
  assert.equal(t.status, 200, t.text);
  const windows = t.json.contact.windows;
  assert.equal(windows.length, 3, JSON.stringify(windows));
  assert.deepEqual(windows.slice(0, 2), lead.windows);
  assert.deepEqual([windows[2].channel, windows[2].number, windows[2].open], ['twilio', null, false]);
  assert.ok(windows[2].closes_ms < Date.now());
  assert.deepEqual(t.json.messages.map((m) => [m.text, m.channel]),
    [['to number 2', `twilio:${SECOND}`], ['to number 1', `twilio:${FIRST}`]]);
});

test('consent: a lead lists the numbers it opted out of, the messages that changed it say so, and a refused send names the number', async () => {
  const phone = uniquePhone();
  const say = async (to, body) => {
    const r = await sim('/sim/inbound', { from: phone, to, body });
    assert.equal(r.status, 204, JSON.stringify(r));
  };
  await say(SECOND, 'hello');
  await say(FIRST, 'STOP');
  const lead = await waitFor('the opt-out on the lead', async () => {
    const l = await leadOf(phone);
    return l?.optouts?.length === 1 ? l : false;
  });
  assert.equal(lead.optouts.length, 1);
  const [o] = lead.optouts;
  assert.deepEqual([o.channel, o.provider, o.number, o.source, o.keyword],
    [`twilio:${FIRST}`, 'twilio', FIRST, 'keyword', 'STOP']);
  assert.ok(Math.abs(o.since_ms - Date.now()) < 60000, JSON.stringify(o));
  const r = await send({ to: phone, type: 'text', text: 'still there?', idempotencyKey: key() });
  await waitMessage(r.json.id, 'refused', (m) => m.status === 'failed');
  let t = await get(`/api/leads/${lead.id}/messages`);
  assert.equal(t.status, 200, t.text);
  assert.deepEqual(t.json.contact.optouts, lead.optouts);
  const [refused, stop, hello] = t.json.messages;
  assert.deepEqual([refused.status, refused.error_code, refused.provider, refused.channel, refused.consent],
    ['failed', 'opted_out', null, `twilio:${FIRST}`, null]);
  assert.deepEqual(stop.consent, { action: 'optout', channel: `twilio:${FIRST}`, source: 'keyword', keyword: 'STOP' });
  assert.equal(hello.consent, null);
  assert.equal((await leadOf(phone)).last_message.error_code, 'opted_out');

  await say(FIRST, 'start');
  await waitFor('the opt-in on the lead', async () => (await leadOf(phone)).optouts.length === 0);
  t = await get(`/api/leads/${lead.id}/messages`);
  assert.deepEqual(t.json.messages[0].consent, { action: 'optin', channel: `twilio:${FIRST}`, source: 'keyword', keyword: 'START' });
  assert.deepEqual(t.json.contact.optouts, []);
});

test('leads are found by phone or name; the rest are not', async () => {
  const phone = uniquePhone();
  const name = `Zelda${Math.floor(Math.random() * 1e6)}`;
  await sendInbound({ from: phone, body: 'hi', profileName: name });
  await waitFor('the lead', async () => (await messagesFor(phone)).length === 1);
  const byName = await get(`/api/leads?q=${encodeURIComponent(name.toLowerCase())}`);
  assert.deepEqual(byName.json.leads.map((l) => l.phone), [phone]);
  const byDigits = await get(`/api/leads?q=${phone.slice(4)}`);
  assert.ok(byDigits.json.leads.some((l) => l.phone === phone));
  const none = await get('/api/leads?q=no-such-lead-anywhere');
  assert.deepEqual(none.json.leads, []);
  assert.equal(none.json.next, null);
});

test('bad parameters get 400 with the reason; an unknown lead 404', async () => {
  const cases = [
    ['/api/leads?limit=0', /limit/], ['/api/leads?limit=abc', /limit/], ['/api/leads?limit=201', /limit/],
    ['/api/leads?cursor=garbage', /cursor/], [`/api/leads?q=${'x'.repeat(101)}`, /q is longer/],
    ['/api/leads/abc/messages', /lead id/], ['/api/leads/1/messages?cursor=2026|nope', /cursor/],
    ['/api/leads/1/messages?cursor=x%27%3B--|00000000-0000-4000-8000-000000000000', /cursor/],
    ['/api/stats?minutes=0', /minutes/], ['/api/stats?minutes=99999', /minutes/],
  ];
  for (const [p, re] of cases) {
    const r = await get(p);
    assert.equal(r.status, 400, `${p}: ${r.text}`);
    assert.match(r.json.message, re);
  }
  assert.equal((await get('/api/leads/999999999/messages')).status, 404);
  assert.equal((await get('/api/nothing')).status, 404);
});

test('the charts\' figures cover every minute of the window, and a message just sent has its latency', async () => {
  // A send of this test's own, so the latency chart has something to show whatever ran before.
  const phone = await twilioContact();
  const s = await send({ to: phone, type: 'text', text: 'for the chart', idempotencyKey: key() });
  assert.equal(s.status, 202, s.text);
  await waitMessage(s.json.id, 'sent', (x) => ['sent', 'delivered', 'read'].includes(x.status));
  const [row] = await q(`select latency_ms, (extract(epoch from date_trunc('minute', created_at)) * 1000)::bigint
    as minute_ms from messages where id = $1`, [s.json.id]);
  assert.ok(row.latency_ms !== null, 'the sender recorded its latency');
  const r = await get('/api/stats?minutes=30');
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.buckets_ms.length, 30);
  assert.equal(r.json.failover_pct.length, 30);
  assert.equal(r.json.latency.twilio.p50.length, 30);
  assert.equal(r.json.latency.baileys.p95.length, 30);
  for (const e of r.json.errors) assert.equal(e.counts.length, 30);
  // The minute the message was made in has a Twilio latency.
  const i = r.json.buckets_ms.indexOf(Number(row.minute_ms));
  assert.ok(i >= 0, `the message's minute ${row.minute_ms} is in the window ${r.json.buckets_ms}`);
  assert.notEqual(r.json.latency.twilio.p50[i], null, JSON.stringify(r.json.latency.twilio));
  // Health per channel: the number that sent it is UP, from sender-twilio's send results.
  const [{ channel }] = await q('select channel from messages where id = $1', [s.json.id]);
  assert.match(channel, /^twilio:\+\d+$/);
  const line = await waitFor(`${channel} UP among the health lines`, async () => {
    const health = (await get('/api/stats?minutes=30')).json.health;
    for (const e of health) assert.ok(e.channel && e.provider && e.state, JSON.stringify(e));
    const own = health.filter((e) => e.channel === channel);
    return own.at(-1)?.state === 'UP' ? own.at(-1) : false;
  });
  assert.equal(line.provider, 'twilio');
  assert.equal(line.number, channel.slice('twilio:'.length));
});

test('acceptance 9: stored media is on the timeline with its type and size, and its link serves the bytes', async () => {
  const phone = uniquePhone();
  const item = await sim('/sim/media', { kind: 'png', size: 20000, contentType: 'image/png' });
  const hook = await sim('/sim/inbound', { from: phone, body: 'the flat', media: [{ sid: item.sid }] });
  assert.equal(hook.status, 204, JSON.stringify(hook));
  await waitFor('the media stored', async () => (await q(`select 1 from media d join messages m on m.id = d.message_id
    join contacts c on c.id = m.contact_id where c.phone = $1 and d.stored_at is not null`, [phone])).length === 1);
  const lead = await leadOf(phone);
  const t = await get(`/api/leads/${lead.id}/messages`);
  assert.equal(t.status, 200, t.text);
  const m = t.json.messages.find((x) => x.text === 'the flat');
  assert.ok(m, JSON.stringify(t.json.messages));
  assert.equal(m.provider, 'twilio');
  assert.equal(m.media.length, 1);
  assert.equal(m.media[0].mime, 'image/png');
  assert.equal(Number(m.media[0].size), 20000);
  const res = await fetch(m.media[0].url);
  assert.equal(res.status, 200);
  const bytes = Buffer.from(await res.arrayBuffer());
  assert.equal(crypto.createHash('sha256').update(bytes).digest('hex'), item.sha256);
});

test('live: a new message reaches a connected browser as a server-sent event', async () => {
  const ctl = new AbortController();
  const res = await fetch(`${base}/api/events`, { headers: auth, signal: ctl.signal });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type'), /text\/event-stream/);
  const reader = res.body.getReader();
  const phone = uniquePhone();
  let buf = '';
  const got = (async () => {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return null;
      buf += Buffer.from(value).toString('utf8');
      for (const block of buf.split('\n\n')) {
        if (block.includes('event: wa.inbound') && block.includes(phone)) return block;
      }
    }
  })();
  await new Promise((r) => setTimeout(r, 500)); // the consumer has its partitions by now
  await sendInbound({ from: phone, body: 'live one' });
  const block = await Promise.race([got, new Promise((r) => setTimeout(() => r(null), 15000))]);
  ctl.abort();
  assert.ok(block, 'no event within 15 s');
  const data = JSON.parse(block.split('\n').find((l) => l.startsWith('data: ')).slice(6));
  assert.equal(data.type, 'wa.inbound');
  assert.equal(data.provider, 'twilio');
  assert.equal(data.contact.phone, phone);
  assert.equal(data.message.text, 'live one');
});

// ---- replies from the timeline (issue #15) ---------------------------------------------------

const APPOINTMENT = 'HX0123456789abcdef0123456789abcdef'; // approved in the simulator's catalogue

async function preview(leadId, params = {}) {
  const r = await get(`/api/leads/${leadId}/preview?${new URLSearchParams(params)}`);
  assert.equal(r.status, 200, r.text);
  return r.json;
}

async function reply(leadId, body, headers = auth) {
  const res = await fetch(`${base}/api/leads/${leadId}/reply`, {
    method: 'POST', headers: { 'Content-Type': 'application/json', ...headers }, body: JSON.stringify(body),
  });
  const text = await res.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  return { status: res.status, json, text };
}

test('reply preview: the router\'s plan for the lead, inside the window, outside it, and opted out', async () => {
  const phone = await twilioContact();
  const lead = await leadOf(phone);
  // Inside the window: a text goes where the contact wrote, the number named.
  let p = await preview(lead.id, { kind: 'text' });
  assert.deepEqual([p.outcome, p.provider, p.channel, p.code, p.to, p.replies],
    ['send', 'twilio', `twilio:${FIRST}`, null, phone, true], JSON.stringify(p));
  assert.match(p.reason, /reply via source/);
  assert.ok(p.window_until_ms > Date.now() + 23 * 3600e3);
  assert.deepEqual(p.channels.slice(0, 2), [`twilio:${FIRST}`, `twilio:${SECOND}`]);
  // A channel named: that number, where the contact never wrote, is outside its window.
  p = await preview(lead.id, { kind: 'text', channel: `twilio:${SECOND}` });
  assert.deepEqual([p.outcome, p.code, p.channel], ['refused', 'outside_window', null], JSON.stringify(p));
  // Outside the window: a text is refused (re-engagement is off in the tests); a template goes.
  await ageContact(phone, 25);
  p = await preview(lead.id, { kind: 'text' });
  assert.deepEqual([p.outcome, p.code, p.outside_window], ['refused', 'outside_window', true], JSON.stringify(p));
  assert.match(p.reason, /template required/);
  p = await preview(lead.id, { kind: 'template', template: APPOINTMENT });
  assert.deepEqual([p.outcome, p.provider, p.code], ['send', 'twilio', null], JSON.stringify(p));
  // A template the catalogue has but WhatsApp rejected: refused, as the router refuses it.
  p = await preview(lead.id, { kind: 'template', template: 'HX00000000000000000000000000000003' });
  assert.deepEqual([p.outcome, p.code], ['refused', 'template_not_approved'], JSON.stringify(p));
  // Opted out of the number it wrote to: nothing can be sent there.
  const stopper = uniquePhone();
  const r = await sim('/sim/inbound', { from: stopper, to: FIRST, body: 'STOP' });
  assert.equal(r.status, 204, JSON.stringify(r));
  const out = await waitFor('the opt-out on the lead', async () => {
    const l = await leadOf(stopper);
    return l?.optouts?.length === 1 ? l : false;
  });
  p = await preview(out.id, { kind: 'text' });
  assert.deepEqual([p.outcome, p.code, p.channel], ['refused', 'opted_out', `twilio:${FIRST}`], JSON.stringify(p));
  // Bad parameters: 400 with the reason; an unknown lead 404.
  for (const [params, re] of [[{ kind: 'media' }, /kind/], [{ channel: 'sms:+1' }, /channel/],
    [{ kind: 'template', template: "HX'--" }, /template/]]) {
    const b = await get(`/api/leads/${lead.id}/preview?${new URLSearchParams(params)}`);
    assert.equal(b.status, 400, b.text);
    assert.match(b.json.message, re);
  }
  assert.equal((await get('/api/leads/999999999/preview')).status, 404);
});

test('reply preview: a contact of the Baileys session is answered there; with re-engagement on, late free text is held', async () => {
  const phone = await baileysContact();
  let p = await preview((await leadOf(phone)).id, { kind: 'text' });
  // The session it wrote to, by the number the bridge reports as its own.
  const [{ channel }] = await q(`select w.channel from contact_channels w join contacts c on c.id = w.contact_id
    where c.phone = $1`, [phone]);
  assert.match(channel, /^baileys/);
  assert.deepEqual([p.outcome, p.provider, p.channel, p.failover_channel, p.reason],
    ['send', 'baileys', channel, `twilio:${FIRST}`, 'reply via source (Baileys)'], JSON.stringify(p));
  // The reply may name that session as the contact knows it: it is offered with the configured ones.
  assert.ok(p.channels.includes(channel), JSON.stringify(p.channels));
  // Templates are Twilio's only: one forced onto the Baileys session cannot go.
  p = await preview((await leadOf(phone)).id, { kind: 'template', template: APPOINTMENT, channel });
  assert.deepEqual([p.outcome, p.code], ['refused', 'provider_refused'], JSON.stringify(p));
  assert.match(p.reason, /templates are sent by Twilio only/);
  // The dashboard plans with the router's settings: with a re-engagement template configured,
  // free text outside the window is held, not refused (only the dashboard is restarted here).
  const late = await twilioContact();
  await ageContact(late, 25);
  const lead = await leadOf(late);
  const restore = restartWith('dashboard', { REENGAGE_CONTENT_SID: 'HX00000000000000000000000000000001' });
  try {
    p = await waitFor('the restarted dashboard', async () => {
      try {
        const r = await get(`/api/leads/${lead.id}/preview?kind=text`);
        return r.status === 200 ? r.json : false;
      } catch {
        return false;
      }
    }, { logs: ['dashboard'] });
    assert.deepEqual([p.outcome, p.provider, p.channel, p.code, p.outside_window], ['hold', 'twilio', `twilio:${FIRST}`, null, true],
      JSON.stringify(p));
    assert.match(p.reason, /held until the contact replies/);
  } finally {
    restore();
  }
  await waitFor('the dashboard back', async () => {
    try {
      return (await get('/api/leads?limit=1')).status === 200;
    } catch {
      return false;
    }
  }, { logs: ['dashboard'] });
});

test('reply preview: a session\'s old state (UNKNOWN, no live instance) gives way to the bridge reporting as "baileys"', async () => {
  const phone = await baileysContact();
  const [{ channel }] = await q(`select w.channel from contact_channels w join contacts c on c.id = w.contact_id
    where c.phone = $1`, [phone]);
  assert.match(channel, /^baileys:/);
  // What a run with BAILEYS_CHANNELS leaves behind when the installation goes back to one bridge:
  // the session's last state, newer than anything the bare "baileys" channel has recorded.
  const [{ id }] = await q(`insert into provider_health (provider, state, reason, since, channel)
    values ('baileys', 'UNKNOWN', 'no live report from any instance', now(), $1) returning id`, [channel]);
  try {
    const p = await preview((await leadOf(phone)).id, { kind: 'text' });
    assert.deepEqual([p.outcome, p.provider, p.channel], ['send', 'baileys', channel], JSON.stringify(p));
  } finally {
    await q('delete from provider_health where id = $1', [id]);
  }
});

test('reply: handed to the send API and routed like any request; a repeated key sends once', async () => {
  const phone = await twilioContact();
  const lead = await leadOf(phone);
  const k = crypto.randomUUID();
  const first = await reply(lead.id, { idempotencyKey: k, type: 'text', text: 'reply from the dashboard' });
  assert.equal(first.status, 200, first.text);
  assert.equal(first.json.decided, true, first.text);
  assert.deepEqual([first.json.to, first.json.provider, first.json.channel, first.json.idempotencyKey],
    [phone, 'twilio', `twilio:${FIRST}`, `dashboard:${k}`]);
  const again = await reply(lead.id, { idempotencyKey: k, type: 'text', text: 'reply from the dashboard' });
  assert.equal(again.status, 200, again.text);
  assert.equal(again.json.duplicate, true);
  assert.equal(again.json.id, first.json.id);
  await waitMessage(first.json.id, 'sent', (m) => ['sent', 'delivered', 'read'].includes(m.status));
  const out = (await messagesFor(phone)).filter((m) => m.direction === 'outbound');
  assert.deepEqual(out.map((m) => [m.body, m.idempotency_key]), [['reply from the dashboard', `dashboard:${k}`]]);
  // The simulator got it once.
  assert.equal((await simCalls(phone)).length, 1);
  // A template, with its values, through the number named.
  const t = await reply(lead.id, { idempotencyKey: crypto.randomUUID(), type: 'template', channel: `twilio:${FIRST}`,
    template: { contentSid: APPOINTMENT, variables: { 1: 'Dana', 2: '3/12' } } });
  assert.equal(t.status, 200, t.text);
  assert.deepEqual([t.json.type, t.json.provider, t.json.channel], ['template', 'twilio', `twilio:${FIRST}`]);
  // A refusal comes back as the router's decision.
  await ageContact(phone, 25);
  const late = await reply(lead.id, { idempotencyKey: crypto.randomUUID(), type: 'text', text: 'too late' });
  assert.equal(late.status, 200, late.text);
  assert.deepEqual([late.json.status, late.json.errorCode], ['failed', 'outside_window'], late.text);
  // A body the send API would refuse is refused here, with the reason, and nothing is sent.
  for (const [body, re] of [[{ type: 'text', text: 'x' }, /idempotencyKey/],
    [{ idempotencyKey: crypto.randomUUID(), type: 'text', text: '   ' }, /text is required/],
    [{ idempotencyKey: crypto.randomUUID(), type: 'text', text: 'x', to: '+15550000000' }, /unknown field to/]]) {
    const b = await reply(lead.id, body);
    assert.equal(b.status, 400, b.text);
    assert.match(b.json.message, re);
  }
  assert.equal((await reply(999999999, { idempotencyKey: crypto.randomUUID(), type: 'text', text: 'x' })).status, 404);
  assert.equal((await messagesFor(phone)).filter((m) => m.direction === 'outbound').length, 3);
});

test('reply: a POST riding on the session cookie needs the page\'s header and its own origin', async () => {
  const phone = await twilioContact();
  const lead = await leadOf(phone);
  const cookie = (await login(token)).headers.get('set-cookie').split(';')[0];
  const body = { idempotencyKey: crypto.randomUUID(), type: 'text', text: 'forged?' };
  // What a form or a script on another site can send: refused, nothing sent.
  let r = await reply(lead.id, body, { Cookie: cookie });
  assert.equal(r.status, 403, r.text);
  assert.equal(r.json.error, 'cross_site_refused');
  r = await reply(lead.id, body, { Cookie: cookie, 'X-WA-Dashboard': '1', Origin: 'https://evil.example' });
  assert.equal(r.status, 403, r.text);
  // The template sync, the other change, is guarded the same way.
  const sync = await fetch(`${base}/api/templates/sync`, { method: 'POST', headers: { Cookie: cookie } });
  assert.equal(sync.status, 403);
  assert.equal((await messagesFor(phone)).filter((m) => m.direction === 'outbound').length, 0);
  // The page's own request.
  r = await reply(lead.id, body, { Cookie: cookie, 'X-WA-Dashboard': '1', Origin: base });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.status === 'failed', false, r.text);
});

// ---- media replies: the operator's file, stored, then sent as media.mediaId (issue #15) --------

const LIMIT = Number(env.DASHBOARD_MEDIA_MAX_BYTES); // scripts/e2e.sh: 2 MB
const pngBytes = (n) => Buffer.concat([Buffer.from('89504e470d0a1a0a', 'hex'), crypto.randomBytes(n - 8)]);
const sha256 = (b) => crypto.createHash('sha256').update(b).digest('hex');

async function upload(leadId, bytes, { k, type = 'image/png', headers = auth, chunked = false, name } = {}) {
  const res = await fetch(`${base}/api/leads/${leadId}/media`, {
    method: 'POST',
    headers: { 'Content-Type': type, ...(k ? { 'Idempotency-Key': k } : {}),
      ...(name ? { 'X-File-Name': encodeURIComponent(name) } : {}), ...headers },
    // A stream has no length: sent chunked, so the limit is met while the body is read.
    body: chunked ? new Blob([bytes]).stream() : bytes,
    ...(chunked ? { duplex: 'half' } : {}),
  });
  const text = await res.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  return { status: res.status, json, text };
}

const uploadsOf = (k) => q(`select id, message_id, contact_id, source, mime, size, sha256, object_key
  from media where upload_key = $1`, [`dashboard:${k}`]);

test('media reply: the file is stored under the reply\'s key and goes out as its mediaId; Twilio fetches the same bytes', async () => {
  const phone = await twilioContact();
  const lead = await leadOf(phone);
  const k = crypto.randomUUID();
  const file = pngBytes(300000);
  const stored = await metric(base, 'wa_dashboard_uploads_total');
  const up = await upload(lead.id, file, { k });
  assert.equal(up.status, 200, up.text);
  assert.equal(await metric(base, 'wa_dashboard_uploads_total'), stored + 1);
  assert.deepEqual([up.json.mime, up.json.size, up.json.sha256, up.json.duplicate], ['image/png', file.length, sha256(file), false]);
  const [row] = await uploadsOf(k);
  assert.deepEqual([String(row.id), row.message_id, String(row.contact_id), row.source, row.sha256],
    [up.json.mediaId, null, String(lead.id), 'dashboard', sha256(file)]);
  const r = await reply(lead.id, { idempotencyKey: k, type: 'media', media: { mediaId: up.json.mediaId, caption: 'the flat, from the balcony' } });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual([r.json.type, r.json.provider, r.json.channel, r.json.status === 'failed'], ['media', 'twilio', `twilio:${FIRST}`, false], r.text);
  // Stored as the reply's own item: media/<its message id>/0.png.
  assert.equal(row.object_key, `media/${r.json.id}/0.png`);
  await waitMessage(r.json.id, 'sent', (m) => ['sent', 'delivered', 'read'].includes(m.status));
  const calls = await simCalls(phone);
  assert.equal(calls.length, 1);
  assert.equal(calls[0].params.Body, 'the flat, from the balcony');
  assert.match(calls[0].params.MediaUrl, /X-Amz-Signature=/);
  // The simulator fetched the presigned URL as Twilio does: the bytes the operator uploaded.
  assert.deepEqual(calls[0].media.map((m) => [m.status, m.contentType, m.bytes, m.sha256]),
    [[200, 'image/png', file.length, sha256(file)]]);
  // The timeline shows the file on the reply.
  const t = await get(`/api/leads/${lead.id}/messages`);
  const m = t.json.messages.find((x) => x.id === r.json.id);
  assert.deepEqual([m.type, m.text, m.media.length, m.media[0].mime, m.media[0].size], ['media', 'the flat, from the balcony', 1, 'image/png', file.length]);
  const served = await fetch(m.media[0].url);
  assert.equal(sha256(Buffer.from(await served.arrayBuffer())), sha256(file));
});

test('media reply: to a contact of the Baileys session, a PDF goes through the bridge as a document with its name and caption', async () => {
  const phone = await baileysContact();
  const lead = await leadOf(phone);
  const k = crypto.randomUUID();
  const pdf = Buffer.from('%PDF-1.7\n1 0 obj\n<<>>\nendobj\n');
  const up = await upload(lead.id, pdf, { k, type: 'application/pdf', name: 'חוזה שכירות (v2).pdf' });
  assert.equal(up.status, 200, up.text);
  const r = await reply(lead.id, { idempotencyKey: k, type: 'media', media: { mediaId: up.json.mediaId, caption: 'the contract' } });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.provider, 'baileys', r.text);
  const [sent] = await waitFor('the bridge sent it', async () => {
    const s = await bridgeSent(phone);
    return s.length === 1 ? s : false;
  });
  assert.equal(sent.content.mimetype, 'application/pdf');
  assert.equal(sent.content.caption, 'the contract');
  // The contact's phone shows the document by the name the operator's file had.
  assert.equal(sent.content.fileName, 'חוזה שכירות (v2).pdf');
  assert.match(sent.content.document.url, new RegExp(`/media/${r.json.id}/0\\.pdf\\?X-Amz-Algorithm=`));
});

test('media reply: a file over the limit is refused with 413 and says so, announced or not; nothing is stored', async () => {
  const lead = await leadOf(await twilioContact());
  const big = pngBytes(LIMIT + 1);
  const k = crypto.randomUUID();
  // Announced: nothing is stored, the body is read to its end and dropped, and the answer says
  // why (refused at once instead, a client still sending would see a broken connection).
  let r = await upload(lead.id, big, { k });
  assert.equal(r.status, 413, r.text);
  assert.equal(r.json.error, 'too_large');
  assert.match(r.json.message, /^the file is too large to send: 2000001 bytes, the most is 2000000 bytes$/);
  r = await upload(lead.id, pngBytes(3 * LIMIT), { k });
  assert.equal(r.json.message, 'the file is too large to send: 6.0 MB, the most is 2.0 MB');
  // Not announced (chunked): read up to the limit, the rest dropped, then refused.
  r = await upload(lead.id, big, { k, chunked: true });
  assert.equal(r.status, 413, r.text);
  assert.equal(r.json.message, 'the file is too large to send: over 2.0 MB, the most');
  assert.deepEqual(await uploadsOf(k), []);
  // Exactly the limit is taken.
  r = await upload(lead.id, pngBytes(LIMIT), { k });
  assert.equal(r.status, 200, r.text);
});

test('media reply: a file whose bytes are not what WhatsApp carries, or not what it says, is refused with 415; nothing is stored', async () => {
  const lead = await leadOf(await twilioContact());
  const k = crypto.randomUUID();
  for (const [bytes, type, re] of [
    [Buffer.from('MZ\x90\x00 a program named photo.jpg', 'latin1'), 'image/jpeg', /^the file is not an image .*: its bytes are none of these$/],
    [Buffer.from('<html><script>alert(1)</script></html>'), 'text/html', /its bytes are none of these/],
    [Buffer.from('GIF89a\x01\x00\x01\x00', 'latin1'), 'image/gif', /its bytes are image\/gif$/],
    [Buffer.from('%PDF-1.7\n%…', 'latin1'), 'image/png', /^the file says it is image\/png but its bytes are application\/pdf$/],
  ]) {
    const r = await upload(lead.id, bytes, { k, type });
    assert.equal(r.status, 415, r.text);
    assert.equal(r.json.error, 'unsupported_media_type');
    assert.match(r.json.message, re);
  }
  assert.deepEqual(await uploadsOf(k), []);
  // A PDF is a document WhatsApp carries.
  const r = await upload(lead.id, Buffer.from('%PDF-1.7\n1 0 obj\n'), { k, type: 'application/pdf' });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.mime, 'application/pdf');
});

test('media reply: sent twice at once (a double click), the file is stored once and the reply sent once', async () => {
  const phone = await twilioContact();
  const lead = await leadOf(phone);
  const k = crypto.randomUUID();
  const file = pngBytes(200000);
  const ups = await Promise.all([upload(lead.id, file, { k }), upload(lead.id, file, { k })]);
  assert.deepEqual(ups.map((u) => u.status), [200, 200], ups.map((u) => u.text).join('\n'));
  assert.equal(ups[0].json.mediaId, ups[1].json.mediaId);
  assert.equal((await uploadsOf(k)).length, 1);
  const body = { idempotencyKey: k, type: 'media', media: { mediaId: ups[0].json.mediaId } };
  const rs = await Promise.all([reply(lead.id, body), reply(lead.id, body)]);
  assert.deepEqual(rs.map((r) => r.status), [200, 200], rs.map((r) => r.text).join('\n'));
  assert.equal(rs[0].json.id, rs[1].json.id);
  // Once more after it was sent: the same file and message, nothing new.
  const again = await upload(lead.id, file, { k });
  assert.deepEqual([again.status, again.json.mediaId, again.json.duplicate], [200, ups[0].json.mediaId, true]);
  await waitMessage(rs[0].json.id, 'sent', (m) => ['sent', 'delivered', 'read'].includes(m.status));
  await new Promise((res) => setTimeout(res, 500));
  assert.equal((await simCalls(phone)).length, 1);
  assert.equal((await messagesFor(phone)).filter((m) => m.direction === 'outbound').length, 1);
  // Another file under the same key is not what the key names: refused.
  const other = await upload(lead.id, pngBytes(1000), { k });
  assert.equal(other.status, 409, other.text);
  assert.equal(other.json.error, 'key_reused');
});

test('media reply: the upload needs the login, the page\'s header and origin, and the reply\'s key', async () => {
  const lead = await leadOf(await twilioContact());
  const cookie = (await login(token)).headers.get('set-cookie').split(';')[0];
  const k = crypto.randomUUID();
  const file = pngBytes(1000);
  let r = await upload(lead.id, file, { k, headers: {} });
  assert.equal(r.status, 401, r.text);
  r = await upload(lead.id, file, { k, headers: { Cookie: cookie } });
  assert.deepEqual([r.status, r.json.error], [403, 'cross_site_refused'], r.text);
  r = await upload(lead.id, file, { k, headers: { Cookie: cookie, 'X-WA-Dashboard': '1', Origin: 'https://evil.example' } });
  assert.equal(r.status, 403, r.text);
  assert.deepEqual(await uploadsOf(k), []);
  r = await upload(lead.id, file, { headers: { Cookie: cookie, 'X-WA-Dashboard': '1', Origin: base } });
  assert.equal(r.status, 400, r.text);
  assert.match(r.json.message, /Idempotency-Key/);
  assert.equal((await upload(999999999, file, { k })).status, 404);
  r = await upload(lead.id, file, { k, headers: { Cookie: cookie, 'X-WA-Dashboard': '1', Origin: base } });
  assert.equal(r.status, 200, r.text);
  // A media reply names an upload's id, nothing else.
  const bad = await reply(lead.id, { idempotencyKey: k, type: 'media', media: { url: 'https://example.com/a.jpg' } });
  assert.equal(bad.status, 400, bad.text);
  assert.match(bad.json.message, /unknown field url/);
});

test('a template on the timeline shows its name and its body with the values sent', async () => {
  const phone = await twilioContact();
  const lead = await leadOf(phone);
  const r = await reply(lead.id, { idempotencyKey: crypto.randomUUID(), type: 'template',
    template: { contentSid: APPOINTMENT, variables: { 1: 'Dana', 2: 'Tuesday' } } });
  assert.equal(r.status, 200, r.text);
  const t = await get(`/api/leads/${lead.id}/messages`);
  const m = t.json.messages.find((x) => x.id === r.json.id);
  assert.equal(m.type, 'template');
  const [cat] = await q('select name, body, language from templates where sid = $1', [APPOINTMENT]);
  assert.deepEqual(m.template, { sid: APPOINTMENT, variables: { 1: 'Dana', 2: 'Tuesday' }, name: cat.name,
    language: cat.language, body: cat.body });
  assert.match(cat.body, /\{\{1\}\}/);
  // Other messages carry none.
  assert.equal(t.json.messages.find((x) => x.direction === 'inbound').template, null);
});
