// lib.mjs - what the end-to-end tests share: the stack's addresses, the CRM, Kafka, the services.
import { execFile as execFileCb, spawn, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import fs, { readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { inboundParams, postWebhook, newMessageSid } from '../../sim/twilio/webhook.mjs';

const execFile = promisify(execFileCb);
export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const env = process.env;
export const ingressUrl = env.INGRESS_URL;
export const publicBase = env.PUBLIC_BASE_URL.replace(/\/+$/, '');
export const token = env.TWILIO_AUTH_TOKEN;
export const TWILIO_PATH = '/api/whatsapp/twilio';
export { inboundParams, newMessageSid };

export const db = new pg.Pool({ connectionString: env.DATABASE_URL, max: 4 });
// A test that restarts Postgres breaks the idle connections; the pool drops them and opens new ones.
db.on('error', () => {});
export async function q(sql, args = []) {
  return (await db.query(sql, args)).rows;
}

// A phone number no other test uses: tests share one CRM. +1 555 is fictional. Drawn at random,
// so it may be one the CRM already knows: a helper that counts a contact's messages draws with
// newPhones.
export function uniquePhone() {
  return `+1555${Math.floor(1e6 + Math.random() * 8.999e6)}`;
}

// n phones new to the CRM: a benchmark's database, or a test state used before, keeps the
// contacts of earlier runs, and a number drawn again would already have messages.
export async function newPhones(n) {
  let phones = [];
  while (phones.length < n) {
    const drawn = [...new Set(Array.from({ length: n - phones.length }, () => uniquePhone()))]
      .filter((p) => !phones.includes(p));
    const known = new Set((await q('select phone from contacts where phone = any($1)', [drawn])).map((r) => r.phone));
    phones = phones.concat(drawn.filter((p) => !known.has(p)));
  }
  return phones;
}

export async function sendInbound(opts, post = {}) {
  const params = opts.params ?? inboundParams(opts);
  return {
    params,
    ...(await postWebhook({ targetUrl: ingressUrl + TWILIO_PATH, publicUrl: publicBase + TWILIO_PATH,
      authToken: token, params, ...post })),
  };
}

// Polls fn until it returns something truthy. `logs` names services whose last
// log lines go into the timeout message, so a failure on CI explains itself.
export async function waitFor(what, fn, { timeoutMs = 15000, everyMs = 100, logs = [] } = {}) {
  const end = Date.now() + timeoutMs;
  let last;
  while (Date.now() < end) {
    last = await fn();
    if (last) return last;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  const tails = logs.map((s) => `\n--- ${s} (${serviceState(s)}), last lines:\n${logTail(s)}`).join('');
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${JSON.stringify(last)})${tails}`);
}

// The last n lines a service logged itself (librdkafka's raw '%N|' lines are
// repeated as our own 'kafka log' lines, so they are skipped).
export function logTail(service, n = 8) {
  try {
    const text = readFileSync(path.join(env.WA_STATE, 'log', `${service}.log`), 'utf8');
    return text.split('\n').filter((l) => l && !l.startsWith('%')).slice(-n)
      .map((l) => (l.length > 240 ? l.slice(0, 240) + '...' : l)).join('\n');
  } catch (e) {
    return `(no log: ${e.message})`;
  }
}

// Child processes get a deadline too: a helper that hangs fails its test instead of holding the
// run. Stopping or starting one service or broker waits at most about 90 s by itself.
const CHILD_TIMEOUT_MS = 150000;
const KCAT_TIMEOUT_MS = 30000;

function run(cmd, args) {
  const r = spawnSync(path.join(root, cmd), args, { encoding: 'utf8', timeout: CHILD_TIMEOUT_MS,
    killSignal: 'SIGKILL' });
  if (r.error?.code === 'ETIMEDOUT') throw new Error(`${cmd} ${args.join(' ')}: no answer in ${CHILD_TIMEOUT_MS} ms`);
  return r;
}

function serviceState(service) {
  if (service === 'kafka') return 'broker';
  const r = run('scripts/services.sh', ['status', service]);
  return /: running/.test(r.stdout || '') ? 'running' : 'NOT running';
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export async function messagesFor(phone) {
  return q(`select m.*, c.phone, c.wa_id, c.profile_name, c.last_inbound_provider, c.last_inbound_at
              from messages m join contacts c on c.id = m.contact_id where c.phone = $1
             order by m.created_at`, [phone]);
}

// The records of a topic, read with kcat (Debian's librdkafka): every one from the beginning, or
// with fromMs those written since then. Each with its key, value and Kafka timestamp (ts, ms).
export async function topicRecords(topic, { fromMs } = {}) {
  const from = fromMs === undefined ? 'beginning' : `s@${Math.floor(fromMs)}`;
  const { stdout } = await execFile('kcat', ['-b', env.KAFKA_BROKERS, '-C', '-t', topic, '-o', from,
    '-e', '-q', '-f', '%k\t%T\t%s\n'], { maxBuffer: 256 << 20, timeout: KCAT_TIMEOUT_MS });
  return stdout.split('\n').filter(Boolean).map((line) => {
    const i = line.indexOf('\t');
    const j = line.indexOf('\t', i + 1);
    return { key: line.slice(0, i), ts: Number(line.slice(i + 1, j)), value: line.slice(j + 1) };
  });
}

export function services(...args) {
  const r = run('scripts/services.sh', args);
  if (r.status !== 0) throw new Error(`services.sh ${args.join(' ')}: ${r.stderr}${r.stdout}`);
  return r.stdout;
}

export function stack(...args) {
  const r = run('infra/stack.sh', args);
  if (r.status !== 0) throw new Error(`stack.sh ${args.join(' ')}: ${r.stderr}${r.stdout}`);
  return r.stdout;
}

// stack.sh without blocking this event loop: load generators keep running while a broker restarts.
export async function stackAsync(...args) {
  try {
    const { stdout } = await execFile(path.join(root, 'infra/stack.sh'), args,
      { timeout: CHILD_TIMEOUT_MS, killSignal: 'SIGKILL' });
    return stdout;
  } catch (e) {
    throw new Error(`stack.sh ${args.join(' ')}: ${e.stderr ?? ''}${e.stdout ?? ''}${e.message}`);
  }
}

// The cluster's metadata as kcat prints it (-J): brokers, and each topic's partitions with their
// leader, replicas and in-sync replicas.
export async function kafkaMetadata() {
  const { stdout } = await execFile('kcat', ['-b', env.KAFKA_BROKERS, '-L', '-J', '-m', '5'],
    { maxBuffer: 16 << 20, timeout: KCAT_TIMEOUT_MS });
  return JSON.parse(stdout);
}

// One sample of /metrics by its exact name and labels, e.g. 'x_total{result="ok"}'.
export async function metric(base, sample) {
  const text = await (await fetch(`${base}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(sample + ' '));
  return line ? Number(line.split(' ').pop()) : 0;
}

export async function metricSum(base, prefix) {
  const text = await (await fetch(`${base}/metrics`)).text();
  return text.split('\n').filter((l) => l.startsWith(prefix)).reduce((s, l) => s + Number(l.split(' ').pop()), 0);
}

// ---- evidence that a repeat was handled ---------------------------------------------------------
// A "nothing doubled" check must not simply wait a while: a lagging consumer would pass it. These
// wait for proof that the repeat went through the service, then the test counts.
export const routerUrl = `http://${env.ROUTER_LISTEN}`;
export const senderTwilioUrl = `http://${env.SENDER_TWILIO_LISTEN}`;
export const senderBaileysUrl = `http://${env.SENDER_BAILEYS_LISTEN}`;
export const mediaWorkerUrl = `http://${env.MEDIA_WORKER_LISTEN}`;

// Counters whose samples start with `prefix`, summed, e.g. 'wa_router_inbound_total{result="duplicate"}'.
// Returns a function that waits until they grew by n since now.
export async function counterFrom(base, prefix) {
  const before = await metricSum(base, prefix);
  return (n, what, opts = {}) => waitFor(`${what} (${prefix} +${n})`, async () => {
    const now = await metricSum(base, prefix);
    return now >= before + n ? now - before : false;
  }, { timeoutMs: 30000, ...opts });
}

// One contact's records share a partition and the router handles them in order: once a later
// message of the same contact is in the CRM, every earlier record of that contact (repeats
// included) has been handled. Returns the barrier's MessageSid, for tests to leave it out.
export async function inboundBarrier(phone) {
  const params = inboundParams({ from: phone, body: 'barrier' });
  const r = await sendInbound({ params });
  if (r.status !== 204) throw new Error(`barrier webhook: ${r.status} ${r.body}`);
  await waitFor('the barrier message in the CRM', async () =>
    (await q('select 1 from messages where provider_message_id = $1', [params.MessageSid])).length === 1,
  { timeoutMs: 60000, logs: ['router'] });
  return params.MessageSid;
}

// Posts a body to ingress exactly as the Baileys bridge does.
export async function postBridge(body, { secret = env.BAILEYS_WEBHOOK_SECRET, raw } = {}) {
  const headers = { 'Content-Type': 'application/json' };
  if (secret !== null) headers['X-BAILEYS-SECRET'] = secret;
  const res = await fetch(`${ingressUrl}/api/whatsapp/baileys`, { method: 'POST', headers,
    body: raw ?? JSON.stringify(body) });
  return { status: res.status, body: await res.text() };
}

export function bridgeMessage(phone, over = {}) {
  return { event: 'message', remoteJid: `${phone.slice(1)}@s.whatsapp.net`,
    messageId: `3EB0${Math.random().toString(16).slice(2, 14).toUpperCase()}`,
    timestamp: Math.floor(Date.now() / 1000), type: 'text', text: 'hello from WhatsApp Web',
    media: null, pushName: 'Bridge User', phone, lid: null, fromMe: false, ...over };
}

export const bridgeUrl = `http://${env.BRIDGE_LISTEN}`;
// bridge@2, a second Baileys session (another channel), not started by default:
// `services('start', 'bridge@2')`. Its address is scripts/env.sh's WA_BRIDGE2_LISTEN (10 ports
// above the first); its own state dir and loopback number (+972500000002; the first's is
// +972500000001; /health names each as `device`).
export const bridge2Url = `http://${env.WA_BRIDGE2_LISTEN}`;

// Calls the bridge with the shared secret (its /dev/* endpoints exist in loopback mode only).
export const bridge = (path, body) => bridgeAt(bridgeUrl, path, body);
export const bridge2 = (path, body) => bridgeAt(bridge2Url, path, body);

export async function bridgeAt(base, path, body) {
  const res = await fetch(base + path, { method: body === undefined ? 'GET' : 'POST',
    headers: { 'X-BAILEYS-SECRET': env.BAILEYS_WEBHOOK_SECRET, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  return { status: res.status, json, text };
}

// ---- outbound -------------------------------------------------------------------------------
export const sendToken = env.SEND_API_TOKEN;

// Calls the send API (or any ingress path) with the bearer token unless told otherwise.
export async function api(method, p, body, { token = sendToken, contentType = 'application/json', headers: extra = {} } = {}) {
  const headers = { ...extra };
  if (token !== null) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers['Content-Type'] = contentType;
  const res = await fetch(ingressUrl + p, { method, headers,
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body) });
  const text = await res.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  return { status: res.status, json, text };
}

export const send = (body, opts) => api('POST', '/api/whatsapp/send', body, opts);
export const message = (id) => api('GET', `/api/whatsapp/messages/${id}`);

export async function waitMessage(id, what, pred, opts) {
  return waitFor(what, async () => {
    const r = await message(id);
    return r.status === 200 && pred(r.json) ? r.json : false;
  }, opts);
}

export const simUrl = `http://${env.TWILIO_SIM_LISTEN}`;
export async function sim(p, body, method) {
  const res = await fetch(simUrl + p, { method: method ?? (body === undefined ? 'GET' : 'POST'),
    headers: { 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body) });
  return res.json();
}
// The Messages API calls the simulator received for one recipient.
export async function simCalls(to) {
  return (await sim(`/sim/calls?to=${encodeURIComponent(to)}`)).calls
    .filter((c) => c.path.endsWith('/Messages.json') && c.method === 'POST');
}

// What the loopback bridge handed to "WhatsApp" for one recipient.
export async function bridgeSent(phone) {
  const r = await bridge('/dev/sent');
  return (r.json?.sent ?? []).filter((s) => s.to === `${phone.slice(1)}@s.whatsapp.net`);
}

// After a failover test the bridge is back and both sender-baileys and the router see it UP.
export async function baileysUp() {
  await waitFor('Baileys UP at sender-baileys and the router', async () =>
    (await metric(senderBaileysUrl, 'wa_sender_baileys_up{channel="baileys"}')) === 1 &&
    (await metric(routerUrl, 'wa_router_channel_up{channel="baileys"}')) === 1, { timeoutMs: 30000 });
}

// Restarts a service with extra settings (the scripts hand this process's environment on).
// Returns a function that restarts it with the usual ones.
export function restartWith(service, vars) {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, env[k]]));
  services('stop', service);
  Object.assign(env, vars);
  services('start', service);
  return () => {
    services('stop', service);
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete env[k];
      else env[k] = v;
    }
    services('start', service);
  };
}

// A contact who just wrote through Twilio (the simulator knows the window too).
export async function twilioContact() {
  const [phone] = await newPhones(1);
  const r = await sim('/sim/inbound', { from: phone, body: 'hello' });
  if (r.status !== 204) throw new Error(`inbound through the simulator: ${JSON.stringify(r)}`);
  await waitFor('the inbound message in the CRM', async () => (await messagesFor(phone)).length === 1);
  return phone;
}

// A contact who just wrote through Baileys (the loopback bridge).
export async function baileysContact() {
  const [phone] = await newPhones(1);
  const r = await bridge('/dev/inbound', { from: phone, text: 'hello from WhatsApp Web' });
  if (r.status !== 200) throw new Error(`bridge inbound: ${r.text}`);
  await waitFor('the inbound message in the CRM', async () => (await messagesFor(phone)).length === 1);
  return phone;
}

// A contact who wrote to both business numbers, Twilio's first and Baileys' last: replies go
// through Baileys, and a failover to Twilio is inside that number's window too (WhatsApp keeps
// the window per business number; so do the CRM and the simulator).
export async function bothContact() {
  const phone = await twilioContact();
  const r = await bridge('/dev/inbound', { from: phone, text: 'hello from WhatsApp Web' });
  if (r.status !== 200) throw new Error(`bridge inbound: ${r.text}`);
  await waitFor('the Baileys inbound in the CRM', async () => (await messagesFor(phone)).length === 2);
  return phone;
}

// Moves a contact's last message (on every number) back by `hours`, as if it wrote that long ago:
// the window the router reads is per number (contact_channels), the lead's summary per contact.
export async function ageContact(phone, hours) {
  await q(`update contacts set last_inbound_at = now() - make_interval(hours => $2) where phone = $1`, [phone, hours]);
  await q(`update contact_channels w set last_inbound_at = now() - make_interval(hours => $2)
    from contacts c where c.id = w.contact_id and c.phone = $1`, [phone, hours]);
}

export function key() {
  return `e2e-${Date.now()}-${Math.random().toString(16).slice(2)}`;
}

// Produces one record with kcat, as any other producer would.
export async function produce(topic, k, value) {
  await new Promise((resolve, reject) => {
    const p = execFileCb('kcat', ['-b', env.KAFKA_BROKERS, '-P', '-t', topic, '-k', k],
      { timeout: KCAT_TIMEOUT_MS }, (err) => (err ? reject(err) : resolve()));
    p.stdin.end(value);
  });
}

// Produces records in one kcat call, each keyed by its contact's phone without the '+', as
// ingress keys them: a stopped consumer finds them together, in this order per contact.
export async function produceByContact(topic, records) {
  await new Promise((resolve, reject) => {
    const p = execFileCb('kcat', ['-b', env.KAFKA_BROKERS, '-P', '-t', topic, '-K', '\t'],
      { timeout: KCAT_TIMEOUT_MS }, (err) => (err ? reject(err) : resolve()));
    p.stdin.end(records.map((r) => `${r.contact.phone.slice(1)}\t${JSON.stringify(r)}`).join('\n') + '\n');
  });
}

// Pacing (pacing.test.mjs, bench/pacing.mjs).
// Contacts who wrote to `to` (the window that lets free text go out from it).
export async function contactsOf(to, n) {
  const phones = await newPhones(n);
  for (const phone of phones) {
    const r = await sim('/sim/inbound', { from: phone, to, body: 'hello' });
    if (r.status !== 204) throw new Error(`inbound through the simulator: ${JSON.stringify(r)}`);
  }
  await waitFor('the contacts in the CRM', async () =>
    (await Promise.all(phones.map(messagesFor))).every((m) => m.length === 1));
  return phones;
}

// The Messages API calls the simulator took for phones, sorted by when, with their From.
export async function callsTo(phones, n, { timeoutMs = 60000 } = {}) {
  let calls = [];
  await waitFor(`${n} calls at the simulator`, async () => {
    calls = (await Promise.all(phones.map(simCalls))).flat().filter((c) => c.responseStatus === 201);
    return calls.length >= n;
  }, { timeoutMs, everyMs: 1000 });
  return calls.sort((a, b) => a.receivedAtMs - b.receivedAtMs);
}

// Sends a second over the whole burst, and the most in any one second.
export function pace(calls) {
  const t = calls.map((c) => c.receivedAtMs);
  let most = 0;
  for (let i = 0, j = 0; i < t.length; i++) {
    while (t[i] - t[j] >= 1000) j++;
    most = Math.max(most, i - j + 1);
  }
  return { rate: (t.length - 1) / ((t.at(-1) - t[0]) / 1000), most };
}


// Starts the instances of a worker and waits until each has partitions of its own and the group
// has been quiet for 3 s (no assignment or revoke logged: a rebalance while a burst drains would
// move commands between them). Each instance runs several consumers, each logging its own.
export async function startWithPartitions(names) {
  const logOf = (name) => {
    try {
      return readFileSync(path.join(env.WA_STATE, 'log', `${name}.log`), 'utf8');
    } catch {
      return '';
    }
  };
  const from = names.map((n) => logOf(n).length);
  services('start', ...names);
  await waitFor(`${names.join(' and ')} with partitions of their own`, async () => {
    let last = 0;
    for (const [i, n] of names.entries()) {
      const events = [...logOf(n).slice(from[i]).matchAll(/^(\S+) .*kafka (assigned|revoked) partitions=(\d+)/gm)];
      if (!events.some((m) => m[2] === 'assigned' && Number(m[3]) > 0)) return false;
      last = Math.max(last, ...events.map((m) => Date.parse(m[1])));
    }
    return Date.now() - last >= 3000;
  }, { timeoutMs: 60000, everyMs: 500 });
}

// Posts every body to the send API, `width` requests at a time, as a busy app would; the ids in
// order. Throws on any answer but 202.
export async function sendAll(bodies, width = 16) {
  const ids = new Array(bodies.length);
  let next = 0;
  await Promise.all(Array.from({ length: width }, async () => {
    while (next < bodies.length) {
      const i = next++;
      const r = await send(bodies[i]);
      if (r.status !== 202) throw new Error(`send: ${r.status} ${r.text}`);
      ids[i] = r.json.id;
    }
  }));
  return ids;
}

/** A port nothing listens on now (bound, then closed). */
export async function freePort() {
  const s = net.createServer();
  await new Promise((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address();
  await new Promise((r) => s.close(r));
  return port;
}

const extraChildren = [];
/**
 * Starts a second build/bin/NAME beside the stack's, with the stack's environment plus extra; its
 * log goes to $WA_STATE/log/NAME-TAG.log. Resolves the child once ready() says so; stopExtra()
 * stops every one started.
 */
export async function startExtra(name, tag, extra, ready) {
  const log = path.join(env.WA_STATE, 'log', `${name}-${tag}.log`);
  const out = fs.openSync(log, 'a');
  const child = spawn(path.join(root, 'build/bin', name), [], { env: { ...env, ...extra }, stdio: ['ignore', out, out] });
  fs.closeSync(out);
  extraChildren.push(child);
  await waitFor(`${name} (${tag}) ready`, async () => {
    if (child.exitCode !== null) throw new Error(`${name} exited ${child.exitCode}: ${fs.readFileSync(log, 'utf8').slice(-2000)}`);
    try {
      return await ready();
    } catch {
      return false;
    }
  }, { timeoutMs: 30000 });
  return child;
}

export async function stopExtra() {
  for (const c of extraChildren.splice(0)) {
    if (c.exitCode !== null || c.signalCode !== null) continue;
    const gone = new Promise((r) => c.once('exit', r));
    c.kill('SIGTERM');
    await gone;
  }
}
