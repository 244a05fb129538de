// smoke.mjs - the end-to-end check of a compose deployment, through what it publishes: the TLS
// proxy at PUBLIC_BASE_URL (webhooks signed by Twilio's own library land in the CRM once, a
// tampered copy and one signed for http:// are refused; the send API; the dashboard's login page
// and API; media links; /metrics and the bridge's paths are 404 there), the bridge's loopback
// (a Baileys inbound lands once), the Twilio simulator (each send of a batch reached it exactly
// once, with the senders and routers scaled to two), and the dashboard's own port.
// scripts/compose-test.sh runs it.
//
// Environment: PUBLIC_BASE_URL (the proxy's https URL; its CA in NODE_EXTRA_CA_CERTS),
// DASHBOARD_URL, BRIDGE_URL, TWILIO_SIM_URL (published addresses), TWILIO_SIM_MEDIA_BASE and
// TWILIO_SIM_CDN_BASE (the simulator's API and CDN as media-worker reaches them), TWILIO_AUTH_TOKEN,
// SEND_API_TOKEN, DASHBOARD_TOKEN, BAILEYS_WEBHOOK_SECRET (what the deployment was started with);
// SMOKE_SENDS (8): the batch that must reach the simulator once each.
import crypto from 'node:crypto';
import { inboundParams, postWebhook, sign } from '../../sim/twilio/webhook.mjs';

const env = process.env;
for (const k of ['PUBLIC_BASE_URL', 'DASHBOARD_URL', 'BRIDGE_URL', 'TWILIO_SIM_URL', 'TWILIO_SIM_MEDIA_BASE',
  'TWILIO_SIM_CDN_BASE', 'TWILIO_AUTH_TOKEN', 'SEND_API_TOKEN', 'DASHBOARD_TOKEN', 'BAILEYS_WEBHOOK_SECRET']) {
  if (!env[k]) { console.error(`smoke: ${k} is required`); process.exit(2); }
}
const PUBLIC = env.PUBLIC_BASE_URL.replace(/\/+$/, '');
if (!PUBLIC.startsWith('https://')) { console.error('smoke: PUBLIC_BASE_URL must be the proxy\'s https URL'); process.exit(2); }
const TWILIO_PATH = '/api/whatsapp/twilio';
const SENDS = Number(env.SMOKE_SENDS ?? 8);
const started = Date.now();

function step(what) { console.log(`smoke +${((Date.now() - started) / 1000).toFixed(1)}s: ${what}`); }
function fail(what) { throw new Error(what); }
const sleep = (ms) => new Promise((res) => setTimeout(res, ms));
const sha256 = (buf) => crypto.createHash('sha256').update(buf).digest('hex');

async function http(method, url, { token, body, headers: extra = {}, redirect = 'follow' } = {}) {
  const headers = { ...extra };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined && !headers['Content-Type']) headers['Content-Type'] = 'application/json';
  const res = await fetch(url, { method, headers, redirect,
    body: body === undefined || typeof body === 'string' ? body : JSON.stringify(body),
    signal: AbortSignal.timeout(10000) });
  const text = await res.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  return { status: res.status, json, text, headers: res.headers };
}

async function waitFor(what, fn, timeoutMs = 60000) {
  const end = Date.now() + timeoutMs;
  let last;
  while (Date.now() < end) {
    try { last = await fn(); } catch (e) { last = e.message; }
    if (last && typeof last !== 'string') return last;
    await sleep(250);
  }
  fail(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${JSON.stringify(last)})`);
}

// The dashboard's API through the proxy, as an operator's browser reaches it.
const dash = (p) => http('GET', PUBLIC + p, { token: env.DASHBOARD_TOKEN });
const uniquePhone = () => `+1555${crypto.randomInt(1e6, 1e7)}`;

// A Twilio webhook through the proxy, signed for the URL Twilio calls (PUBLIC_BASE_URL).
const postTwilio = (params, extra = {}) => postWebhook({ targetUrl: PUBLIC + TWILIO_PATH,
  publicUrl: PUBLIC + TWILIO_PATH, authToken: env.TWILIO_AUTH_TOKEN, params, ...extra });

async function leadOf(phone) {
  return waitFor(`the lead ${phone} in the dashboard`, async () => {
    const l = await dash(`/api/leads?q=${encodeURIComponent(phone)}`);
    return l.status === 200 ? l.json.leads.find((x) => x.phone === phone) ?? 'no lead yet' : `HTTP ${l.status}`;
  });
}
async function inboundOf(lead) {
  const m = await dash(`/api/leads/${lead.id}/messages`);
  if (m.status !== 200) return `HTTP ${m.status}`;
  return m.json.messages.filter((x) => x.direction === 'inbound');
}
// Exactly one inbound message with this text, after giving a duplicate the time to arrive.
async function landsOnce(phone, text, provider) {
  const lead = await leadOf(phone);
  await waitFor(`the inbound message of ${phone}`, async () => {
    const ins = await inboundOf(lead);
    return typeof ins !== 'string' && ins.length ? ins : 'no inbound message yet';
  });
  await sleep(2000);
  const ins = await inboundOf(lead);
  if (ins.length !== 1 || ins[0].text !== text || ins[0].provider !== provider) {
    fail(`expected one ${provider} inbound message "${text}" for ${phone}, got ${JSON.stringify(ins)}`);
  }
  return { lead, message: ins[0] };
}

// ---- the proxy: TLS with the suite's CA, the dashboard's login page, nothing internal -----------
let r = await http('GET', PUBLIC + '/login');
if (r.status !== 200 || !/<form/i.test(r.text)) fail(`login page through the proxy: ${r.status}`);
r = await http('POST', PUBLIC + '/login', { body: `token=${encodeURIComponent(env.DASHBOARD_TOKEN)}`,
  headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, redirect: 'manual' });
if (r.status !== 303 || !/;\s*Secure/i.test(r.headers.get('set-cookie') ?? '')) {
  fail(`login through the proxy: expected 303 with a Secure cookie, got ${r.status} ${r.headers.get('set-cookie')}`);
}
r = await http('GET', PUBLIC + '/api/leads');
if (r.status !== 401) fail(`dashboard API through the proxy without a token: expected 401, got ${r.status}`);
for (const p of ['/metrics', '/healthz', '/readyz', '/api/whatsapp/baileys', '/dev/inbound', '/send', '/health']) {
  r = await http('GET', PUBLIC + p);
  if (r.status !== 404) fail(`${p} through the proxy: expected 404, got ${r.status}`);
}
r = await http('POST', PUBLIC + '/api/whatsapp/baileys', { body: {} });
if (r.status !== 404) fail(`POST /api/whatsapp/baileys through the proxy: expected 404, got ${r.status}`);
// The dashboard's own port (the operator's network) still answers its health.
r = await http('GET', env.DASHBOARD_URL + '/healthz');
if (r.status !== 200) fail(`dashboard /healthz on its own port: ${r.status}`);
step('proxy: login page 200 and a Secure session cookie over HTTPS, API 401 without a token, '
  + '/metrics /healthz /readyz and the bridge\'s paths 404');

// ---- Twilio inbound through the proxy, signed for the https URL -----------------------------
const phone = uniquePhone();
const text = `compose smoke ${Date.now()}`;
const params = inboundParams({ from: phone, body: text, profileName: 'Compose Smoke' });
r = await postTwilio(params);
if (r.status !== 204) fail(`signed webhook: expected 204, got ${r.status} ${r.body}`);
// Twilio retries a webhook it thinks failed: the same MessageSid again must not add a row.
r = await postTwilio(params);
if (r.status !== 204) fail(`the same webhook again: expected 204, got ${r.status} ${r.body}`);
// The first webhook's signature on a body with one character changed.
r = await postTwilio({ ...params, Body: text + '.' }, { signature: sign(env.TWILIO_AUTH_TOKEN, PUBLIC + TWILIO_PATH, params) });
if (r.status !== 403) fail(`tampered webhook: expected 403, got ${r.status} ${r.body}`);
// Signed for the plain-http URL: not the one Twilio is told to call.
r = await postTwilio(inboundParams({ from: phone, body: 'over http' }),
  { publicUrl: PUBLIC.replace(/^https:/, 'http:') + TWILIO_PATH });
if (r.status !== 403) fail(`webhook signed for http://: expected 403, got ${r.status} ${r.body}`);
step(`webhook for ${phone} through the proxy accepted twice (204); tampered and http://-signed copies refused (403)`);
const { lead } = await landsOnce(phone, text, 'twilio');
step(`CRM: lead ${lead.id} has exactly one inbound message`);

// ---- Baileys inbound through the bridge's loopback ------------------------------------------
const bphone = uniquePhone();
const btext = `compose smoke via the bridge ${Date.now()}`;
r = await http('POST', env.BRIDGE_URL + '/dev/inbound', { body: { from: bphone, text: btext, pushName: 'Bridge Smoke' },
  headers: { 'X-BAILEYS-SECRET': env.BAILEYS_WEBHOOK_SECRET } });
if (r.status !== 200) fail(`bridge /dev/inbound: expected 200, got ${r.status} ${r.text}`);
const { lead: blead } = await landsOnce(bphone, btext, 'baileys');
step(`Baileys inbound for ${bphone} (the bridge's loopback): lead ${blead.id}, exactly one message`);

// ---- media: a Twilio image from the simulator's CDN, stored, its link fetched via the proxy ----
const item = (await http('POST', env.TWILIO_SIM_URL + '/sim/media', { body: { kind: 'jpeg', size: 20000,
  seed: String(Date.now()), publicBase: env.TWILIO_SIM_MEDIA_BASE, cdnPublicBase: env.TWILIO_SIM_CDN_BASE } })).json;
if (!item?.url) fail('the simulator did not host the media item');
const mphone = uniquePhone();
r = await postTwilio(inboundParams({ from: mphone, body: 'a photo', messageSid: item.messageSid,
  media: [{ url: item.url, mime: 'image/jpeg' }] }));
if (r.status !== 204) fail(`media webhook: expected 204, got ${r.status} ${r.body}`);
const mlead = await leadOf(mphone);
const media = await waitFor('the stored media in the dashboard\'s API', async () => {
  const ins = await inboundOf(mlead);
  if (typeof ins === 'string') return ins;
  const d = ins[0]?.media?.[0];
  return d?.url ? d : `media: ${JSON.stringify(ins[0]?.media ?? null)}`;
}, 90000);
if (!media.url.startsWith(PUBLIC + '/')) fail(`the dashboard's media link is not on the proxy's origin: ${media.url}`);
{
  const res = await fetch(media.url, { signal: AbortSignal.timeout(10000) });
  const bytes = Buffer.from(await res.arrayBuffer());
  if (res.status !== 200 || sha256(bytes) !== item.sha256) {
    fail(`media link via the proxy: ${res.status}, ${bytes.length} bytes, sha256 ${sha256(bytes)} (expected ${item.sha256})`);
  }
  // The link is a presigned GET: the same path unsigned is refused by S3.
  const bare = await fetch(media.url.split('?')[0], { signal: AbortSignal.timeout(10000) });
  if (bare.status !== 403) fail(`the media path without its signature: expected 403, got ${bare.status}`);
}
step(`media: ${item.size} bytes stored in S3; the dashboard's link fetched through the proxy, same sha256`);

// ---- outbound: each send of a batch reaches the simulator exactly once ----------------------
// One contact each (so the batch spreads over the partitions, the routers and the senders), each
// with an inbound first: WhatsApp's 24-hour window is open for them in the CRM and the simulator.
const batch = [];
for (let i = 0; i < SENDS; i++) {
  const to = uniquePhone();
  r = await postTwilio(inboundParams({ from: to, body: `hello ${i}` }));
  if (r.status !== 204) fail(`inbound before send ${i}: ${r.status} ${r.body}`);
  r = await http('POST', env.TWILIO_SIM_URL + '/sim/window', { body: { user: to, lastInboundAtMs: Date.now() } });
  if (r.status >= 300) fail(`simulator /sim/window: ${r.status} ${r.text}`);
  batch.push({ to, body: `compose smoke reply ${i}` });
}
await Promise.all(batch.map((b) => leadOf(b.to)));
for (const [i, b] of batch.entries()) {
  r = await http('POST', PUBLIC + '/api/whatsapp/send', { token: env.SEND_API_TOKEN,
    body: { to: b.to, type: 'text', text: b.body, idempotencyKey: `compose-smoke-${started}-${i}` } });
  if (r.status !== 202 || !r.json?.id) fail(`send API ${i}: expected 202 with an id, got ${r.status} ${r.text}`);
  b.id = r.json.id;
}
const callsTo = async (to) => {
  const c = await http('GET', `${env.TWILIO_SIM_URL}/sim/calls?to=${encodeURIComponent('whatsapp:' + to)}`);
  return (c.json?.calls ?? []).filter((x) => x.method === 'POST' && x.path.endsWith('/Messages.json'));
};
const providers = new Set();
for (const b of batch) {
  const sent = await waitFor(`send ${b.id} delivered (status callbacks back through ingress)`, async () => {
    const m = await http('GET', `${PUBLIC}/api/whatsapp/messages/${b.id}`, { token: env.SEND_API_TOKEN });
    return m.status === 200 && ['delivered', 'read'].includes(m.json.status) ? m.json : `status ${m.json?.status ?? m.status}`;
  });
  providers.add(sent.provider);
}
// Give a duplicate the time to arrive before counting.
await sleep(2000);
for (const b of batch) {
  const calls = await callsTo(b.to);
  if (calls.length !== 1 || calls[0].responseStatus !== 201 || calls[0].params.Body !== b.body) {
    fail(`send ${b.id} to ${b.to}: expected exactly one accepted call at the simulator, got ${JSON.stringify(calls)}`);
  }
}
step(`${SENDS} sends through the proxy's send API: each reached the Twilio simulator exactly once and came back delivered (provider ${[...providers].join(', ')})`);
step('ok');
