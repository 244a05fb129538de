// smoke.mjs - the end-to-end check of a compose deployment, through its published ports only:
// a webhook signed by Twilio's own library lands in the CRM once (a retry of it too), a tampered
// copy is refused, a send goes out through the Twilio simulator and its status callbacks come
// back, and the dashboard answers (its API shows the conversation). scripts/compose-test.sh runs it.
//
// Environment: INGRESS_URL, DASHBOARD_URL, TWILIO_SIM_URL (the published addresses), PUBLIC_BASE_URL,
// TWILIO_AUTH_TOKEN, SEND_API_TOKEN, DASHBOARD_TOKEN (what the deployment was started with).
import { inboundParams, postWebhook, sign } from '../../sim/twilio/webhook.mjs';

const env = process.env;
for (const k of ['INGRESS_URL', 'DASHBOARD_URL', 'TWILIO_SIM_URL', 'PUBLIC_BASE_URL', 'TWILIO_AUTH_TOKEN',
  'SEND_API_TOKEN', 'DASHBOARD_TOKEN']) {
  if (!env[k]) { console.error(`smoke: ${k} is required`); process.exit(2); }
}
const TWILIO_PATH = '/api/whatsapp/twilio';
const started = Date.now();

function step(what) { console.log(`smoke +${((Date.now() - started) / 1000).toFixed(1)}s: ${what}`); }
function fail(what) { throw new Error(what); }

async function http(method, url, { token, body } = {}) {
  const headers = {};
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(10000) });
  const text = await res.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  return { status: res.status, json, text };
}

async function waitFor(what, fn, timeoutMs = 60000) {
  const end = Date.now() + timeoutMs;
  let last;
  while (Date.now() < end) {
    try { last = await fn(); } catch (e) { last = e.message; }
    if (last && typeof last !== 'string') return last;
    await new Promise((r) => setTimeout(r, 250));
  }
  fail(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${JSON.stringify(last)})`);
}

const dash = (p) => http('GET', env.DASHBOARD_URL + p, { token: env.DASHBOARD_TOKEN });

// ---- the dashboard answers, and only with its token ------------------------------------------
let r = await http('GET', env.DASHBOARD_URL + '/healthz');
if (r.status !== 200) fail(`dashboard /healthz: ${r.status} ${r.text}`);
r = await http('GET', env.DASHBOARD_URL + '/api/leads');
if (r.status !== 401) fail(`dashboard /api/leads without a token: expected 401, got ${r.status}`);
r = await dash('/');
if (r.status !== 200 || !/<html/i.test(r.text)) fail(`dashboard page: ${r.status}`);
step('dashboard answers (healthz 200, API 401 without its token, page 200)');

// ---- inbound: signed by Twilio's library, posted to ingress's published port ------------------
const phone = `+1555${Math.floor(1e6 + Math.random() * 8.999e6)}`;
const text = `compose smoke ${Date.now()}`;
const params = inboundParams({ from: phone, body: text, profileName: 'Compose Smoke' });
const post = (p, extra = {}) => postWebhook({ targetUrl: env.INGRESS_URL + TWILIO_PATH,
  publicUrl: env.PUBLIC_BASE_URL.replace(/\/+$/, '') + TWILIO_PATH, authToken: env.TWILIO_AUTH_TOKEN,
  params: p, ...extra });
r = await post(params);
if (r.status !== 204) fail(`signed webhook: expected 204, got ${r.status} ${r.body}`);
// Twilio retries a webhook it thinks failed: the same MessageSid again must not add a row.
r = await post(params);
if (r.status !== 204) fail(`the same webhook again: expected 204, got ${r.status} ${r.body}`);
// The first webhook's signature on a body with one character changed.
r = await post({ ...params, Body: text + '.' }, { signature: sign(env.TWILIO_AUTH_TOKEN,
  env.PUBLIC_BASE_URL.replace(/\/+$/, '') + TWILIO_PATH, params) });
if (r.status !== 403) fail(`tampered webhook: expected 403, got ${r.status} ${r.body}`);
step(`webhook for ${phone} accepted twice (204), tampered copy refused (403)`);

// The CRM, as the dashboard reads it: one lead, one inbound message.
const lead = await waitFor('the lead in the dashboard', async () => {
  const l = await dash(`/api/leads?q=${encodeURIComponent(phone)}`);
  return l.status === 200 ? l.json.leads.find((x) => x.phone === phone) ?? 'no lead yet' : `HTTP ${l.status}`;
});
const inbound = await waitFor('the inbound message in the lead\'s timeline', async () => {
  const m = await dash(`/api/leads/${lead.id}/messages`);
  if (m.status !== 200) return `HTTP ${m.status}`;
  const ins = m.json.messages.filter((x) => x.direction === 'inbound');
  return ins.length ? ins : 'no inbound message yet';
});
// Give a duplicate the time to arrive before counting.
await new Promise((res) => setTimeout(res, 2000));
{
  const m = await dash(`/api/leads/${lead.id}/messages`);
  const ins = m.json.messages.filter((x) => x.direction === 'inbound');
  if (ins.length !== 1 || ins[0].text !== text) fail(`expected one inbound message "${text}", got ${JSON.stringify(ins)}`);
}
step(`CRM: lead ${lead.id} has exactly one inbound message (${inbound.length} seen)`);

// ---- outbound: the send API, the Twilio simulator, the status callbacks ----------------------
// The simulator enforces WhatsApp's 24-hour window: tell it the contact just wrote (the webhook
// above went to ingress directly, not through the simulator).
r = await http('POST', env.TWILIO_SIM_URL + '/sim/window', { body: { user: phone, lastInboundAtMs: Date.now() } });
if (r.status >= 300) fail(`simulator /sim/window: ${r.status} ${r.text}`);
r = await http('POST', env.INGRESS_URL + '/api/whatsapp/send', { token: env.SEND_API_TOKEN,
  body: { to: phone, type: 'text', text: 'compose smoke reply', idempotencyKey: `compose-smoke-${Date.now()}` } });
if (r.status !== 202 || !r.json?.id) fail(`send API: expected 202 with an id, got ${r.status} ${r.text}`);
const id = r.json.id;
const calls = await waitFor('the send at the Twilio simulator', async () => {
  const c = await http('GET', `${env.TWILIO_SIM_URL}/sim/calls?to=${encodeURIComponent('whatsapp:' + phone)}`);
  const sends = (c.json?.calls ?? []).filter((x) => x.method === 'POST' && x.path.endsWith('/Messages.json'));
  return sends.length ? sends : 'no call yet';
});
if (calls[0].responseStatus !== 201 || calls[0].params.Body !== 'compose smoke reply') {
  fail(`the simulator's call: ${JSON.stringify(calls[0])}`);
}
const sent = await waitFor('the message delivered (status callbacks back through ingress)', async () => {
  const m = await http('GET', `${env.INGRESS_URL}/api/whatsapp/messages/${id}`, { token: env.SEND_API_TOKEN });
  return m.status === 200 && ['delivered', 'read'].includes(m.json.status) ? m.json : `status ${m.json?.status ?? m.status}`;
});
step(`send ${id}: Twilio simulator answered 201 (${calls.length} call), provider ${sent.provider}, status ${sent.status}`);
step('ok');
