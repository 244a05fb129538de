// dashboard_browser.test.mjs - the operator's page in real headless Chromium (Debian's `chromium`,
// driven by playwright-core) against the real stack. Each test leaves a screenshot in
// build/artifacts/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { chromium } from 'playwright-core';
import {
  root, env, sim, bridge, uniquePhone, waitFor, send, key, services, metric, messagesFor, q, bothContact, ageContact,
  simCalls,
} from './lib.mjs';

const base = `http://${env.DASHBOARD_LISTEN}`;
const artifacts = path.join(root, 'build/artifacts');
fs.mkdirSync(artifacts, { recursive: true });
let browser;

before(async () => {
  browser = await chromium.launch({ executablePath: env.CHROMIUM ?? '/usr/bin/chromium', headless: true,
    args: ['--no-sandbox', '--disable-dev-shm-usage'] });
});
after(async () => { await browser?.close(); });

async function loggedIn() {
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  await page.goto(`${base}/`);
  await page.waitForURL(/\/login/);
  await page.fill('input[name=token]', env.DASHBOARD_TOKEN);
  await Promise.all([page.waitForURL(`${base}/`), page.press('input[name=token]', 'Enter')]);
  await page.waitForSelector('#live:has-text("live")', { timeout: 15000 });
  return page;
}

async function shot(page, name) {
  await page.screenshot({ path: path.join(artifacts, `dashboard-${name}.png`), fullPage: true });
}

async function openLead(page, phone) {
  await page.fill('#search', phone);
  const row = page.locator('.lead', { hasText: phone });
  await row.first().waitFor({ timeout: 15000 });
  await row.first().click();
  return row;
}

test('a request without the token is refused; a wrong token stays on the login page', async () => {
  const res = await fetch(`${base}/api/leads`);
  assert.equal(res.status, 401);
  const page = await browser.newPage();
  await page.goto(`${base}/`);
  assert.match(page.url(), /\/login$/);
  await page.fill('input[name=token]', 'not-the-token-at-all');
  await Promise.all([page.waitForURL(/error=1/), page.press('input[name=token]', 'Enter')]);
  await shot(page, 'login-refused');
  await page.close();
});

test('log in; Twilio and Baileys inbound messages appear live on their leads with their badges', async () => {
  const page = await loggedIn();
  const viaTwilio = uniquePhone();
  const viaBaileys = uniquePhone();
  // The first message of each makes the lead; the page is open before the second arrives.
  await sim('/sim/inbound', { from: viaTwilio, body: 'hello from Twilio' });
  await bridge('/dev/inbound', { from: viaBaileys, text: 'hello from WhatsApp Web' });
  await waitFor('both leads', async () => (await messagesFor(viaTwilio)).length === 1
    && (await messagesFor(viaBaileys)).length === 1);
  await openLead(page, viaTwilio);
  await sim('/sim/inbound', { from: viaTwilio, body: 'second, live' });
  const tmsg = page.locator('#timeline .msg', { hasText: 'second, live' });
  await tmsg.waitFor({ timeout: 15000 });
  assert.equal(await tmsg.getAttribute('data-provider'), 'twilio');
  assert.match(await tmsg.locator('.badge-provider').innerText(), /Twilio/);
  await shot(page, 'twilio-live');
  await openLead(page, viaBaileys);
  await bridge('/dev/inbound', { from: viaBaileys, text: 'another, live' });
  const bmsg = page.locator('#timeline .msg', { hasText: 'another, live' });
  await bmsg.waitFor({ timeout: 15000 });
  assert.equal(await bmsg.getAttribute('data-provider'), 'baileys');
  assert.match(await bmsg.locator('.badge-provider').innerText(), /Baileys/);
  await shot(page, 'baileys-live');
  await page.close();
});

test('a failover send shows its marker and moves the failover chart', async () => {
  const page = await loggedIn();
  const phone = await bothContact();
  await openLead(page, phone);
  const before = await page.locator('#failover-now').getAttribute('data-value');
  services('kill9', 'bridge');
  try {
    const r = await send({ to: phone, type: 'text', text: 'via the other road', idempotencyKey: key() });
    assert.equal(r.status, 202);
    const msg = page.locator(`#timeline .msg[data-message-id="${r.json.id}"]`);
    await msg.waitFor({ timeout: 15000 });
    await page.waitForFunction((id) => document.querySelector(`.msg[data-message-id="${id}"]`)
      ?.getAttribute('data-failover') === 'true', r.json.id, { timeout: 15000 });
    assert.equal(await msg.getAttribute('data-provider'), 'twilio');
    // The chart refreshes on the failover event: its headline figure changes (compared exactly:
    // rounded to 0.1 %, one failover more among a thousand sends would not show).
    await page.waitForFunction((b) => document.querySelector('#failover-now')?.dataset.value !== b, before,
      { timeout: 20000 });
    await shot(page, 'failover');
  } finally {
    services('start', 'bridge');
  }
  await waitFor('Baileys UP again', async () =>
    (await metric(`http://${env.ROUTER_LISTEN}`, 'wa_router_channel_up{channel="baileys"}')) === 1, { timeoutMs: 30000 });
  await page.close();
});

// A 1x1 PNG: a real image, so the browser must decode what storage serves.
const PNG_1X1 = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==';

test('acceptance 9: a stored image shows on the timeline, loaded from object storage', async () => {
  const page = await loggedIn();
  const phone = uniquePhone();
  const item = await sim('/sim/media', { base64: PNG_1X1, contentType: 'image/png' });
  const hook = await sim('/sim/inbound', { from: phone, body: 'photo of the flat', media: [{ sid: item.sid }] });
  assert.equal(hook.status, 204, JSON.stringify(hook));
  await waitFor('the image stored', async () => (await q(`select 1 from media d join messages m on m.id = d.message_id
    join contacts c on c.id = m.contact_id where c.phone = $1 and d.stored_at is not null`, [phone])).length === 1);
  await openLead(page, phone);
  const img = page.locator('#timeline .msg', { hasText: 'photo of the flat' }).locator('.media-image img');
  await img.waitFor({ timeout: 15000 });
  // Decoded by the browser: the bytes came back from storage whole.
  await page.waitForFunction((el) => el.complete && el.naturalWidth > 0, await img.elementHandle(), { timeout: 15000 });
  assert.equal(await img.evaluate((el) => el.naturalWidth), 1);
  assert.match(await img.evaluate((el) => el.currentSrc), /X-Amz-Signature=/);
  await shot(page, 'media');
  await page.close();
});

test('a message refused outside 24h shows its notice', async () => {
  const page = await loggedIn();
  const phone = uniquePhone();
  await sim('/sim/inbound', { from: phone, body: 'long ago' });
  await waitFor('the lead', async () => (await messagesFor(phone)).length === 1);
  await ageContact(phone, 25);
  await openLead(page, phone);
  // The lead's timeline is on screen before the send, so what follows must arrive live.
  await page.locator('#timeline .msg', { hasText: 'long ago' }).waitFor({ timeout: 15000 });
  const r = await send({ to: phone, type: 'text', text: 'too late', idempotencyKey: key() });
  const notice = page.locator(`#timeline .msg[data-message-id="${r.json.id}"] .notice`);
  await notice.waitFor({ timeout: 15000 });
  assert.match(await notice.innerText(), /outside 24h window, template required/i);
  await shot(page, 'outside-window');
  await page.close();
});

// The tests run with two Twilio numbers (scripts/e2e.sh).
const [FIRST, SECOND] = env.TWILIO_WA_FROM.split(',').map((n) => n.trim().replace(/^whatsapp:/, ''));

test('channels: each message shows the number it came to, and the lead a window countdown per number', async () => {
  assert.deepEqual([FIRST, SECOND], ['+14155238886', '+14155550199'], 'the numbers the labels below expect');
  const page = await loggedIn();
  const phone = uniquePhone();
  await sim('/sim/inbound', { from: phone, to: FIRST, body: 'to the first number' });
  await waitFor('the lead', async () => (await messagesFor(phone)).length === 1);
  const row = await openLead(page, phone);
  // The second number is written to while the lead is open: its window must appear live.
  await page.locator('#timeline .msg', { hasText: 'to the first number' }).waitFor({ timeout: 15000 });
  await sim('/sim/inbound', { from: phone, to: SECOND, body: 'to the second number' });
  const second = page.locator('#timeline .msg', { hasText: 'to the second number' });
  await second.waitFor({ timeout: 15000 });
  const first = page.locator('#timeline .msg', { hasText: 'to the first number' });
  for (const [msg, number, channel] of [[first, '+1 415 523 8886', FIRST], [second, '+1 415 555 0199', SECOND]]) {
    const label = msg.locator('.msg-head .badge-provider + .msg-channel');
    assert.equal(await label.innerText(), number);
    assert.equal(await label.getAttribute('data-channel'), `twilio:${channel}`);
  }
  const head = '#conv-head .window[data-channel]';
  await page.waitForFunction((s) => document.querySelectorAll(s).length === 2, head, { timeout: 15000 });
  const texts = await page.locator(head).allInnerTexts();
  // Newest first: the number written to last.
  assert.match(texts[0], /^Twilio \+1 415 555 0199 · 2[34]h \d+m$/);
  assert.match(texts[1], /^Twilio \+1 415 523 8886 · 2[34]h \d+m$/);
  assert.deepEqual(await page.locator(head).evaluateAll((els) => els.map((e) => e.dataset.open)), ['true', 'true']);
  // The leads list shows them too, once its row is refetched after the events.
  await page.waitForFunction((s) => document.querySelectorAll(s).length === 2,
    `.lead[data-lead-id="${await row.first().getAttribute('data-lead-id')}"] .window[data-channel]`, { timeout: 15000 });
  await shot(page, 'channels');
  await page.close();
});

test('opt-out: a STOP from the contact marks its lead and timeline, a reply is refused with the notice; START, and the next reply goes out', async () => {
  const page = await loggedIn();
  const phone = uniquePhone();
  await sim('/sim/inbound', { from: phone, to: FIRST, body: 'is the flat still free?' });
  await waitFor('the lead', async () => (await messagesFor(phone)).length === 1);
  const row = await openLead(page, phone);
  const leadId = await row.first().getAttribute('data-lead-id');
  await page.locator('#timeline .msg', { hasText: 'is the flat still free?' }).waitFor({ timeout: 15000 });
  // Everything below arrives live.
  await sim('/sim/inbound', { from: phone, to: FIRST, body: 'STOP' });
  const out = page.locator('#timeline .msg .consent-marker[data-action="optout"]');
  await out.waitFor({ timeout: 15000 });
  assert.equal(await out.innerText(), 'Opted out of Twilio +1 415 523 8886 (sent “STOP”)');
  const headBadge = page.locator(`#conv-head .optout[data-channel="twilio:${FIRST}"]`);
  await headBadge.waitFor({ timeout: 15000 });
  assert.equal(await headBadge.innerText(), 'Opted out · Twilio +1 415 523 8886');
  const rowBadge = page.locator(`.lead[data-lead-id="${leadId}"] .optout[data-channel="twilio:${FIRST}"]`);
  await rowBadge.waitFor({ timeout: 15000 });
  assert.equal(await page.locator(`.lead[data-lead-id="${leadId}"]`).getAttribute('data-opted-out'), 'true');

  const refused = await send({ to: phone, type: 'text', text: 'are you coming at 6?', idempotencyKey: key() });
  const notice = page.locator(`#timeline .msg[data-message-id="${refused.json.id}"] .notice`);
  await notice.waitFor({ timeout: 15000 });
  assert.equal(await notice.innerText(), 'Not sent: the contact opted out of Twilio +1 415 523 8886');
  assert.equal(await notice.getAttribute('data-code'), 'opted_out');
  await page.waitForFunction((id) => /Not sent: opted out/.test(document.querySelector(
    `.lead[data-lead-id="${id}"] .lead-snippet`)?.textContent ?? ''), leadId, { timeout: 15000 });
  await shot(page, 'opted-out');

  await sim('/sim/inbound', { from: phone, to: FIRST, body: 'Start' });
  const back = page.locator('#timeline .msg .consent-marker[data-action="optin"]');
  await back.waitFor({ timeout: 15000 });
  assert.equal(await back.innerText(), 'Opted back in to Twilio +1 415 523 8886 (sent “START”)');
  await page.waitForFunction(() => document.querySelectorAll('#conv-head .optout').length === 0, null,
    { timeout: 15000 });
  const reply = await send({ to: phone, type: 'text', text: 'see you at 6', idempotencyKey: key() });
  await page.waitForFunction((id) => ['sent', 'delivered', 'read'].includes(document.querySelector(
    `.msg[data-message-id="${id}"]`)?.dataset.status), reply.json.id, { timeout: 15000 });
  await page.waitForFunction((id) => document.querySelector(`.lead[data-lead-id="${id}"]`)
    ?.dataset.optedOut === 'false', leadId, { timeout: 15000 });
  await shot(page, 'opted-in');
  await page.close();
});

test('health per channel: a chip per number, live, and why one is DOWN', async () => {
  const channel = `twilio:${FIRST}`;
  const chip = `#health-now .health-chip[data-channel="${channel}"]`;
  const routerUp = () => metric(`http://${env.ROUTER_LISTEN}`, `wa_router_channel_up{channel="${channel}"}`);
  const phone = uniquePhone();
  await sim('/sim/inbound', { from: phone, to: FIRST, body: 'health, please' });
  await waitFor('the lead', async () => (await messagesFor(phone)).length === 1);
  const sent = await send({ to: phone, type: 'text', text: 'the number works', idempotencyKey: key() });
  assert.equal(sent.status, 202, sent.text);
  await waitFor(`${channel} UP at the router`, async () => (await routerUp()) === 1, { timeoutMs: 20000 });
  const page = await loggedIn();
  await page.waitForFunction((s) => document.querySelector(s)?.dataset.state === 'UP', chip, { timeout: 15000 });
  assert.match(await page.locator(chip).innerText(), /^Twilio \+1 415 523 8886: UP since /);
  // Baileys' bridge reports on its provider's default channel; a bare Twilio lane is gone.
  assert.match(await page.locator('#health-now .health-chip[data-channel="baileys"]').innerText(), /^Baileys: /);
  assert.equal(await page.locator('#health-now .health-chip[data-channel="twilio"]').count(), 0);
  // Twilio fails every call for this contact: three in a row and the chip turns DOWN, live, saying why.
  await sim('/sim/faults', { to: phone, status: 500, count: -1 });
  try {
    const r = await send({ to: phone, type: 'text', text: 'while Twilio fails', idempotencyKey: key() });
    assert.equal(r.status, 202, r.text);
    await page.waitForFunction((s) => document.querySelector(s)?.dataset.state === 'DOWN', chip, { timeout: 20000 });
    assert.match(await page.locator(chip).innerText(), /^Twilio \+1 415 523 8886: DOWN since .*: 3 sends failed in a row: HTTP 500/);
    await shot(page, 'health-down');
  } finally {
    await sim('/sim/faults', undefined, 'DELETE');
  }
  // The next retry passes.
  await page.waitForFunction((s) => document.querySelector(s)?.dataset.state === 'UP', chip, { timeout: 40000 });
  await page.close();
});

// ---- the reply box (issue #15) ---------------------------------------------------------------

const APPOINTMENT = 'HX0123456789abcdef0123456789abcdef'; // approved in the simulator's catalogue
const outboundOf = async (phone) => (await messagesFor(phone)).filter((m) => m.direction === 'outbound');

/** A lead who just wrote to the first number, open in a fresh page. */
async function openContact({ hoursAgo } = {}) {
  const phone = uniquePhone();
  await sim('/sim/inbound', { from: phone, to: FIRST, body: 'can I visit tomorrow?' });
  await waitFor('the lead', async () => (await messagesFor(phone)).length === 1);
  if (hoursAgo) await ageContact(phone, hoursAgo);
  const page = await loggedIn();
  await openLead(page, phone);
  await page.locator('#timeline .msg', { hasText: 'can I visit tomorrow?' }).waitFor({ timeout: 15000 });
  return { page, phone };
}

async function previewSays(page, re) {
  await page.waitForFunction((src) => new RegExp(src).test(document.querySelector('#reply-preview')?.textContent ?? ''),
    re.source, { timeout: 15000 });
  return page.locator('#reply-preview').innerText();
}

test('reply by text: the box says where it goes, the reply appears on the timeline live with its status', async () => {
  const { page, phone } = await openContact();
  assert.equal(await page.locator('#reply').isVisible(), true);
  const said = await previewSays(page, /^Goes via/);
  assert.match(said, /^Goes via Twilio \+1 415 523 8886: reply via source \(Twilio\) · window open, 2[34]h \d+m left\.$/);
  assert.equal(await page.locator('#reply-send').isDisabled(), true, 'nothing to send yet');
  await page.fill('#reply-text', 'yes, come at 10');
  await page.click('#reply-send');
  const result = page.locator('#reply-result');
  await page.waitForFunction(() => /^Sent to the router/.test(document.querySelector('#reply-result').textContent), null,
    { timeout: 15000 });
  assert.match(await result.innerText(), /^Sent to the router: (queued|sending|sent|delivered) via Twilio \+1 415 523 8886\.$/);
  assert.equal(await page.inputValue('#reply-text'), '', 'the box is emptied for the next message');
  const bubble = page.locator('#timeline .msg[data-direction="outbound"]', { hasText: 'yes, come at 10' });
  await bubble.waitFor({ timeout: 15000 });
  assert.equal(await bubble.getAttribute('data-provider'), 'twilio');
  await page.waitForFunction(() => ['sent', 'delivered', 'read'].includes(
    document.querySelector('#timeline .msg[data-direction="outbound"]')?.dataset.status), null, { timeout: 15000 });
  const [m] = await outboundOf(phone);
  assert.equal(m.body, 'yes, come at 10');
  assert.match(m.idempotency_key, /^dashboard:[0-9a-f-]{36}$/);
  await shot(page, 'reply-text');
  await page.close();
});

test('reply by template: an approved one, its values filled, shows what the contact reads and is sent', async () => {
  const { page, phone } = await openContact();
  await page.check('input[name=reply-kind][value=template]');
  assert.equal(await page.locator('#reply-text').isVisible(), false);
  // Only approved templates are offered.
  const offered = await page.locator('#reply-template option').evaluateAll((os) => os.map((o) => o.value).filter(Boolean));
  assert.ok(offered.includes(APPOINTMENT), JSON.stringify(offered));
  assert.ok(!offered.includes('HX00000000000000000000000000000003'), 'the rejected template is not offered');
  await page.selectOption('#reply-template', APPOINTMENT);
  await page.fill('#reply-vars input[data-var="1"]', 'Dana');
  assert.equal(await page.locator('#reply-send').isDisabled(), true, 'a value is missing');
  await page.fill('#reply-vars input[data-var="2"]', 'Tuesday');
  assert.equal(await page.locator('#reply-template-body').innerText(), 'Hello Dana, your appointment is on Tuesday.');
  await previewSays(page, /^Goes via Twilio \+1 415 523 8886: template via Twilio/);
  await page.click('#reply-send');
  await page.waitForFunction(() => /^Sent to the router/.test(document.querySelector('#reply-result').textContent), null,
    { timeout: 15000 });
  const [m] = await waitFor('the template in the CRM', async () => {
    const out = await outboundOf(phone);
    return out.length === 1 ? out : false;
  });
  assert.equal(m.type, 'template');
  assert.deepEqual(m.payload.template, { contentSid: APPOINTMENT, variables: { 1: 'Dana', 2: 'Tuesday' } });
  await page.locator(`#timeline .msg[data-message-id="${m.id}"]`).waitFor({ timeout: 15000 });
  await shot(page, 'reply-template');
  await page.close();
});

test('reply: a double click sends once, and the button is disabled while the reply is on its way', async () => {
  const { page, phone } = await openContact();
  await previewSays(page, /^Goes via/);
  // The dashboard's answer is held back a second, so the click lands while the first is on its way.
  let posts = 0;
  await page.route('**/api/leads/*/reply', async (route) => {
    posts += 1;
    await new Promise((r) => setTimeout(r, 1000));
    await route.continue();
  });
  await page.fill('#reply-text', 'only once, please');
  await page.dblclick('#reply-send');
  assert.equal(await page.locator('#reply-send').isDisabled(), true);
  assert.equal(await page.locator('#reply-send').innerText(), 'Sending…');
  await page.press('#reply-text', 'Enter'); // Enter sends too: not while one is on its way
  await page.waitForFunction(() => /^Sent to the router/.test(document.querySelector('#reply-result').textContent), null,
    { timeout: 15000 });
  await page.locator('#timeline .msg[data-direction="outbound"]', { hasText: 'only once, please' }).waitFor({ timeout: 15000 });
  await new Promise((r) => setTimeout(r, 1000)); // a second request, had there been one, would be stored by now
  assert.equal(posts, 1);
  assert.deepEqual((await outboundOf(phone)).map((m) => m.body), ['only once, please']);
  assert.equal(await page.locator('#timeline .msg[data-direction="outbound"]').count(), 1);
  await page.close();
});

test('reply outside the 24-hour window: the box asks for a template, and a template goes', async () => {
  const { page, phone } = await openContact({ hoursAgo: 25 });
  const said = await previewSays(page, /24-hour/);
  assert.equal(said, 'Outside the 24-hour window: pick a template.');
  assert.equal(await page.locator('#reply-preview').getAttribute('data-outcome'), 'refused');
  await page.fill('#reply-text', 'hello again?');
  assert.equal(await page.locator('#reply-send').isDisabled(), true, 'free text cannot go');
  await shot(page, 'reply-outside-window');
  await page.check('input[name=reply-kind][value=template]');
  await page.selectOption('#reply-template', APPOINTMENT);
  await page.fill('#reply-vars input[data-var="1"]', 'Noa');
  await page.fill('#reply-vars input[data-var="2"]', 'Friday');
  await previewSays(page, /^Goes via Twilio/);
  assert.equal(await page.locator('#reply-send').isDisabled(), false);
  await page.click('#reply-send');
  await page.waitForFunction(() => /^Sent to the router/.test(document.querySelector('#reply-result').textContent), null,
    { timeout: 15000 });
  const out = await waitFor('the template', async () => {
    const o = await outboundOf(phone);
    return o.length === 1 ? o : false;
  });
  assert.deepEqual(out.map((m) => [m.type, m.status === 'failed']), [['template', false]]);
  await page.close();
});

// ---- media replies from the box (issue #15) --------------------------------------------------

const LIMIT = Number(env.DASHBOARD_MEDIA_MAX_BYTES); // scripts/e2e.sh: 2 MB
const sha256 = (b) => crypto.createHash('sha256').update(b).digest('hex');

/** A real w×h PNG (a soft gradient, like a photo of a wall): the browser must decode it. */
function pngImage(w, h) {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (b) => {
    let c = 0xffffffff;
    for (const x of b) c = crcTable[(c ^ x) & 0xff] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type, data) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type), data]);
    const c = Buffer.alloc(4);
    c.writeUInt32BE(crc(td));
    return Buffer.concat([len, td, c]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr.set([8, 2, 0, 0, 0], 8); // 8-bit RGB
  const raw = Buffer.alloc((w * 3 + 1) * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const o = y * (w * 3 + 1) + 1 + x * 3;
      raw[o] = 120 + Math.round(100 * x / w);
      raw[o + 1] = 160 + Math.round(60 * y / h);
      raw[o + 2] = 200;
    }
  }
  return Buffer.concat([Buffer.from('89504e470d0a1a0a', 'hex'), chunk('IHDR', ihdr),
    chunk('IDAT', zlib.deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}

const uploadsOf = (k) => q('select id, source, sha256, mime, filename from media where upload_key = $1', [k]);

async function resultSays(page, re) {
  await page.waitForFunction((src) => new RegExp(src).test(document.querySelector('#reply-result')?.textContent ?? ''),
    re.source, { timeout: 20000 });
  return page.locator('#reply-result').innerText();
}

test('reply with a file: the image is uploaded, goes out with its caption to Twilio, and shows on the timeline', async () => {
  const { page, phone } = await openContact();
  await previewSays(page, /^Goes via Twilio/);
  const image = pngImage(320, 200);
  await page.setInputFiles('#reply-file', { name: 'balcony.png', mimeType: 'image/png', buffer: image });
  assert.equal(await page.locator('#reply-file-name').innerText(), `balcony.png · ${(image.length / 1e3).toFixed(1)} kB`);
  assert.equal(await page.locator('#reply-send').isDisabled(), false, 'a file alone may be sent');
  await page.fill('#reply-text', 'The balcony, this morning');
  await page.click('#reply-send');
  assert.match(await resultSays(page, /^Sent to the router/), /^Sent to the router: \w+ via Twilio \+1 415 523 8886\.$/);
  assert.equal(await page.locator('#reply-file-name').isVisible(), false, 'the box is emptied for the next message');
  const [m] = await waitFor('the media reply in the CRM', async () => {
    const out = await outboundOf(phone);
    return out.length === 1 ? out : false;
  });
  assert.equal(m.type, 'media');
  const rows = await uploadsOf(m.idempotency_key);
  assert.deepEqual(rows.map((r) => [String(r.id), r.source, r.sha256, r.mime, r.filename]),
    [[m.payload.media.mediaId, 'dashboard', sha256(image), 'image/png', 'balcony.png']]);
  // Twilio (the simulator) fetched the file from storage: the very bytes.
  const [call] = await waitFor('Twilio called with the media', async () => {
    const calls = await simCalls(phone);
    return calls.length === 1 && calls[0].media?.length === 1 ? calls : false;
  });
  assert.equal(call.params.Body, 'The balcony, this morning');
  assert.deepEqual([call.media[0].status, call.media[0].sha256], [200, sha256(image)]);
  // On the timeline: the image, decoded from storage, with its caption.
  const bubble = page.locator(`#timeline .msg[data-message-id="${m.id}"]`);
  const img = bubble.locator('.media-image img');
  await img.waitFor({ timeout: 15000 });
  await page.waitForFunction((el) => el.complete && el.naturalWidth > 0, await img.elementHandle(), { timeout: 15000 });
  assert.equal(await img.evaluate((el) => el.naturalWidth), 320);
  assert.match(await bubble.innerText(), /The balcony, this morning/);
  await page.waitForFunction((id) => ['sent', 'delivered', 'read'].includes(
    document.querySelector(`.msg[data-message-id="${id}"]`)?.dataset.status), m.id, { timeout: 15000 });
  // The template sent before it shows by name and words, not as "[template]".
  await page.check('input[name=reply-kind][value=template]');
  await page.selectOption('#reply-template', APPOINTMENT);
  await page.fill('#reply-vars input[data-var="1"]', 'Dana');
  await page.fill('#reply-vars input[data-var="2"]', 'Tuesday');
  await previewSays(page, /^Goes via Twilio/);
  await page.click('#reply-send');
  await resultSays(page, /^Sent to the router/);
  const tpl = page.locator('#timeline .msg[data-direction="outbound"] .msg-template-body');
  await tpl.waitFor({ timeout: 15000 });
  assert.equal(await tpl.innerText(), 'Hello Dana, your appointment is on Tuesday.');
  assert.match(await page.locator('#timeline .msg-template-name').innerText(), /^Template “.+”/);
  assert.equal(await page.locator('#timeline .msg-type', { hasText: '[template]' }).count(), 0);
  // What the README shows: a file and its caption on their way, the box ready for the next one.
  await page.check('input[name=reply-kind][value=text]');
  await page.setInputFiles('#reply-file', { name: 'floor-plan.pdf', mimeType: 'application/pdf',
    buffer: Buffer.from('%PDF-1.7\n1 0 obj\n<<>>\nendobj\n') });
  await page.fill('#reply-text', 'And the floor plan');
  await previewSays(page, /^Goes via Twilio .*: reply via source/);
  assert.equal(await page.locator('#reply-send').isDisabled(), false);
  // The lead's row names the template it was sent last.
  await page.waitForFunction((p) => [...document.querySelectorAll('.lead')].some((el) => el.textContent.includes(p)
    && /Template “/.test(el.querySelector('.lead-snippet')?.textContent ?? '')), phone, { timeout: 15000 });
  await shot(page, 'reply-media');
  await page.close();
});

test('reply with a file over the limit: refused in the box with the sizes, nothing sent', async () => {
  const { page, phone } = await openContact();
  await previewSays(page, /^Goes via/);
  const big = Buffer.concat([pngImage(8, 8), crypto.randomBytes(LIMIT + 1000000)]);
  await page.setInputFiles('#reply-file', { name: 'huge.png', mimeType: 'image/png', buffer: big });
  assert.equal(await page.locator('#reply-file-name').innerText(), 'huge.png · 3.0 MB');
  await page.fill('#reply-text', 'too big?');
  await page.click('#reply-send');
  const said = await resultSays(page, /^Not sent/);
  assert.equal(said, 'Not sent: the file is too large to send: 3.0 MB, the most is 2.0 MB.');
  assert.equal(await page.locator('#reply-result').getAttribute('data-state'), 'failed');
  assert.equal(await page.locator('#reply-result').getAttribute('data-code'), 'too_large');
  // The file and the text stay, so the operator can pick a smaller one.
  assert.equal(await page.inputValue('#reply-text'), 'too big?');
  assert.equal(await page.locator('#reply-send').isDisabled(), false);
  await shot(page, 'reply-too-large');
  await new Promise((r) => setTimeout(r, 500));
  assert.deepEqual(await outboundOf(phone), []);
  assert.deepEqual(await simCalls(phone), []);
  await page.close();
});

test('reply with a file of the wrong type: refused in the box, saying what its bytes are', async () => {
  const { page, phone } = await openContact();
  await previewSays(page, /^Goes via/);
  // Named and labelled a photo, but a program.
  await page.setInputFiles('#reply-file', { name: 'photo.jpg', mimeType: 'image/jpeg',
    buffer: Buffer.from('MZ\x90\x00\x03\x00\x00\x00 This program cannot be run in DOS mode', 'latin1') });
  await page.click('#reply-send');
  assert.equal(await resultSays(page, /^Not sent/),
    'Not sent: the file is not an image (JPEG, PNG, WebP), audio (OGG, MP3, AMR), video (MP4), PDF or Office document: its bytes are none of these.');
  assert.equal(await page.locator('#reply-result').getAttribute('data-code'), 'unsupported_media_type');
  // A PDF labelled as an image: the bytes win.
  await page.setInputFiles('#reply-file', { name: 'plan.png', mimeType: 'image/png', buffer: Buffer.from('%PDF-1.4\n') });
  await page.click('#reply-send');
  assert.equal(await resultSays(page, /but its bytes/),
    'Not sent: the file says it is image/png but its bytes are application/pdf.');
  await new Promise((r) => setTimeout(r, 500));
  assert.deepEqual(await outboundOf(phone), []);
  assert.deepEqual(await q(`select 1 from media where source = 'dashboard' and contact_id = (select id from contacts where phone = $1)`, [phone]), []);
  await page.close();
});

test('reply with a file: a double click uploads and sends once', async () => {
  const { page, phone } = await openContact();
  await previewSays(page, /^Goes via/);
  // Both requests are held back a moment, so the second click lands while the first is on its way.
  const posts = { media: 0, reply: 0 };
  for (const kind of ['media', 'reply']) {
    await page.route(`**/api/leads/*/${kind}`, async (route) => {
      posts[kind] += 1;
      await new Promise((r) => setTimeout(r, 700));
      await route.continue();
    });
  }
  const image = pngImage(64, 64);
  await page.setInputFiles('#reply-file', { name: 'door.png', mimeType: 'image/png', buffer: image });
  await page.dblclick('#reply-send');
  assert.equal(await page.locator('#reply-send').isDisabled(), true);
  await page.press('#reply-text', 'Enter'); // Enter sends too: not while one is on its way
  await resultSays(page, /^Sent to the router/);
  const [m] = await waitFor('the media reply', async () => {
    const out = await outboundOf(phone);
    return out.length === 1 ? out : false;
  });
  await page.locator(`#timeline .msg[data-message-id="${m.id}"] .media-image img`).waitFor({ timeout: 15000 });
  await new Promise((r) => setTimeout(r, 1000)); // a second request, had there been one, would be stored by now
  assert.deepEqual(posts, { media: 1, reply: 1 });
  assert.equal((await outboundOf(phone)).length, 1);
  assert.equal((await uploadsOf(m.idempotency_key)).length, 1);
  assert.equal((await simCalls(phone)).length, 1);
  await page.close();
});
