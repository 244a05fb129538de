// media.test.mjs - inbound media from both providers lands once in object storage (s3proxy),
// byte for byte, with one row of one shape; limits and the host allowlist refuse what they must.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { execFile as execFileCb } from 'node:child_process';
import { promisify } from 'node:util';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import {
  sim, bridge, q, waitFor, sleep, services, topicRecords, uniquePhone, messagesFor, env, send, key,
  simCalls, waitMessage, counterFrom, routerUrl,
} from './lib.mjs';

const execFile = promisify(execFileCb);

// The stored object, read back with curl's own SigV4 (not our code).
async function s3Get(key) {
  const { stdout } = await execFile('curl', ['-sf', '--aws-sigv4', `aws:amz:${env.S3_REGION}:s3`,
    '-u', `${env.S3_ACCESS_KEY}:${env.S3_SECRET_KEY}`, '-H', 'x-amz-content-sha256: UNSIGNED-PAYLOAD',
    `${env.S3_ENDPOINT}/${env.S3_BUCKET}/${key}`], { encoding: 'buffer', maxBuffer: 64 << 20, timeout: 30000 });
  return stdout;
}
async function s3Keys(prefix) {
  const { stdout } = await execFile('curl', ['-sf', '--aws-sigv4', `aws:amz:${env.S3_REGION}:s3`,
    '-u', `${env.S3_ACCESS_KEY}:${env.S3_SECRET_KEY}`, '-H', 'x-amz-content-sha256: UNSIGNED-PAYLOAD',
    `${env.S3_ENDPOINT}/${env.S3_BUCKET}?prefix=${encodeURIComponent(prefix)}`], { timeout: 30000 });
  return [...stdout.matchAll(/<Key>([^<]+)<\/Key>/g)].map((m) => m[1]);
}
// The headers storage serves the object with (a GET, as a browser following a link would).
async function s3Headers(key) {
  const { stdout } = await execFile('curl', ['-sf', '-D', '-', '-o', '/dev/null', '--aws-sigv4', `aws:amz:${env.S3_REGION}:s3`,
    '-u', `${env.S3_ACCESS_KEY}:${env.S3_SECRET_KEY}`, '-H', 'x-amz-content-sha256: UNSIGNED-PAYLOAD',
    `${env.S3_ENDPOINT}/${env.S3_BUCKET}/${key}`], { timeout: 30000 });
  const h = {};
  for (const line of stdout.split('\r\n').slice(1)) {
    const i = line.indexOf(':');
    if (i > 0) h[line.slice(0, i).toLowerCase()] = line.slice(i + 1).trim();
  }
  return h;
}
const sha = (b) => crypto.createHash('sha256').update(b).digest('hex');

async function mediaRows(phone) {
  return q(`select d.*, m.id as mid from media d join messages m on m.id = d.message_id
              join contacts c on c.id = m.contact_id where c.phone = $1 order by d.idx`, [phone]);
}

async function errorsFor(messageId) {
  return (await topicRecords('wa.error')).map((r) => JSON.parse(r.value))
    .filter((e) => e.stage === 'media-worker' && e.payload?.includes(messageId));
}

async function twilioMedia(phone, opts) {
  const item = await sim('/sim/media', opts);
  const r = await sim('/sim/inbound', { from: phone, body: 'see attached', media: [{ sid: item.sid }] });
  assert.equal(r.status, 204, JSON.stringify(r));
  const [m] = await waitFor('the message', async () => {
    const ms = await messagesFor(phone);
    return ms.length ? ms : false;
  });
  return { item, message: m, webhook: r };
}

test('a Twilio image behind basic auth and a 307 to a CDN is stored once, byte for byte', async () => {
  const phone = uniquePhone();
  const { item, message } = await twilioMedia(phone, { kind: 'jpeg', size: 300000, contentType: 'image/jpeg' });
  const [row] = await waitFor('the media row', async () => {
    const rows = await mediaRows(phone);
    return rows.length && rows[0].stored_at ? rows : false;
  });
  assert.equal(row.message_id, message.id);
  assert.equal(row.idx, 0);
  assert.equal(row.source, 'twilio');
  assert.equal(row.source_url, item.url);
  assert.equal(row.mime_declared, 'image/jpeg');
  assert.equal(row.mime, 'image/jpeg');
  assert.equal(Number(row.size), item.size);
  assert.equal(row.sha256, item.sha256);
  assert.equal(row.bucket, env.S3_BUCKET);
  assert.equal(row.object_key, `media/${message.id}/0.jpg`);
  const bytes = await s3Get(row.object_key);
  assert.equal(bytes.length, item.size);
  assert.equal(sha(bytes), item.sha256);
  // Twilio's URL saw our credentials; the CDN it redirected to did not.
  const api = (await sim(`/sim/media-requests?sid=${item.sid}`)).requests;
  assert.ok(api.length >= 1 && api.every((x) => x.authOk), JSON.stringify(api));
  const cdn = (await sim(`/sim/cdn-requests?sid=${item.sid}`)).requests;
  assert.ok(cdn.length >= 1);
  for (const r of cdn) assert.equal(r.headers.authorization, undefined, 'credentials leaked to the CDN');
  // The timeline hears of it.
  await waitFor('the wa.media event', async () => (await topicRecords('wa.events')).map((r) => JSON.parse(r.value))
    .some((e) => e.type === 'wa.media' && e.message_id === message.id && e.sha256 === item.sha256));
});

test('a Baileys document (real WhatsApp media encryption in the loopback) is stored the same way', async () => {
  const phone = uniquePhone();
  const pdf = Buffer.concat([Buffer.from('%PDF-1.4\n'), crypto.randomBytes(50000)]);
  const r = await bridge('/dev/inbound', { from: phone, type: 'document', text: 'the contract',
    media: { mimetype: 'application/pdf', fileName: 'contract.pdf', data: pdf.toString('base64') } });
  assert.equal(r.status, 200, r.text);
  const [row] = await waitFor('the media row', async () => {
    const rows = await mediaRows(phone);
    return rows.length && rows[0].stored_at ? rows : false;
  });
  assert.equal(row.source, 'baileys');
  assert.equal(row.mime, 'application/pdf');
  assert.equal(Number(row.size), pdf.length);
  assert.equal(row.sha256, sha(pdf));
  assert.equal(row.object_key, `media/${row.message_id}/0.pdf`);
  assert.equal(sha(await s3Get(row.object_key)), sha(pdf));
  // One shape for both providers.
  const twilioRow = (await q(`select * from media where source = 'twilio' and stored_at is not null limit 1`))[0];
  if (twilioRow) assert.deepEqual(Object.keys(row).filter((k) => k !== 'mid').sort(), Object.keys(twilioRow).sort());
});

test('the same media webhook posted twice gives one object and one row', async () => {
  // A Twilio retry is the same MessageSid again.
  const phone = uniquePhone();
  const item = await sim('/sim/media', { kind: 'png', size: 30000, contentType: 'image/png' });
  const repeats = await counterFrom(routerUrl, 'wa_router_inbound_total{result="duplicate"}');
  const first = await sim('/sim/inbound', { from: phone, body: '', media: [{ sid: item.sid }] });
  const again = await sim('/sim/inbound', { from: phone, body: '', media: [{ sid: item.sid }],
    messageSid: first.messageSid });
  assert.equal(first.status, 204);
  assert.equal(again.status, 204);
  assert.equal(again.messageSid, first.messageSid);
  const [row] = await waitFor('the media row', async () => {
    const rows = await mediaRows(phone);
    return rows.length && rows[0].stored_at ? rows : false;
  });
  await repeats(1, 'the router to handle the repeated webhook');
  assert.equal((await mediaRows(phone)).length, 1);
  const jobs = (await topicRecords('wa.media')).map((r) => JSON.parse(r.value))
    .filter((e) => e.type === 'job' && e.message_id === row.message_id);
  assert.equal(jobs.length, 1, 'one job: the repeat made none');
  assert.deepEqual(await s3Keys(`media/${row.message_id}/`), [row.object_key]);
  assert.equal((await sim(`/sim/cdn-requests?sid=${item.sid}`)).requests.length, 1, 'fetched once');
  // Subscribers of wa.media hear of it once, with the row's id and the contact.
  const storedFor = async () => (await topicRecords('wa.media')).map((r) => JSON.parse(r.value))
    .filter((e) => e.type === 'stored' && e.message_id === row.message_id);
  // The record leaves through the outbox (written with the media row): once its outbox row is
  // published it is deleted, and nothing will publish it again.
  await waitFor('the stored record published from the outbox', async () => {
    const rows = await q(`select 1 from outbox where topic = 'wa.media' and payload->>'type' = 'stored'
                            and payload->>'message_id' = $1`, [String(row.message_id)]);
    return rows.length === 0;
  });
  const stored = await storedFor();
  assert.equal(stored.length, 1, JSON.stringify(stored));
  assert.equal(stored[0].media_id, Number(row.id));
  assert.equal(stored[0].sha256, row.sha256);
  assert.equal(stored[0].contact.phone, phone);
});

test('a file over the limit is refused with wa.error, and no object is left', async () => {
  const phone = uniquePhone();
  const max = Number(env.MEDIA_MAX_BYTES);
  const { message } = await twilioMedia(phone, { kind: 'jpeg', size: max + 1, contentType: 'image/jpeg' });
  const [err] = await waitFor('wa.error', async () => {
    const e = await errorsFor(message.id);
    return e.length ? e : false;
  });
  assert.equal(err.code, 'media_refused');
  assert.match(err.text, /larger than the limit/);
  assert.equal(err.retryable, false);
  assert.equal((await mediaRows(phone)).length, 0);
  assert.deepEqual(await s3Keys(`media/${message.id}/`), []);
});

test('a redirect to a host off the allowlist is refused', async () => {
  const phone = uniquePhone();
  const { message, item } = await twilioMedia(phone, { kind: 'jpeg', size: 1000, contentType: 'image/jpeg',
    redirect: 'elsewhere', location: 'http://169.254.169.254/latest/meta-data/' });
  const [err] = await waitFor('wa.error', async () => {
    const e = await errorsFor(message.id);
    return e.length ? e : false;
  });
  assert.equal(err.code, 'media_refused');
  assert.match(err.text, /169\.254\.169\.254 is not an allowed media host/);
  assert.equal((await mediaRows(phone)).length, 0);
  assert.ok(item.sid);
});

test('an allowed host that resolves to a private address is refused unless named in MEDIA_PRIVATE_HOSTS', async () => {
  // The production setting: no blanket private allowance. The simulator and the bridge are
  // reachable because MEDIA_PRIVATE_HOSTS names them (every other media test here goes through
  // that); localhost:<the CDN's port> is allowed (WA_MEDIA_EXTRA_HOSTS) but not named there.
  assert.equal(env.MEDIA_ALLOW_PRIVATE, '0');
  assert.ok(env.MEDIA_PRIVATE_HOSTS.split(',').includes(env.TWILIO_SIM_CDN_LISTEN));
  const port = env.TWILIO_SIM_CDN_LISTEN.split(':').pop();
  const phone = uniquePhone();
  const { message } = await twilioMedia(phone, { kind: 'jpeg', size: 1000, contentType: 'image/jpeg',
    redirect: 'elsewhere', location: `http://localhost:${port}/internal/secret` });
  const [err] = await waitFor('wa.error', async () => {
    const e = await errorsFor(message.id);
    return e.length ? e : false;
  });
  assert.equal(err.code, 'media_refused');
  assert.match(err.text, /localhost:\d+\/internal\/secret resolves to a private address/);
  assert.equal((await mediaRows(phone)).length, 0);
});

test('kill -9 of the media-worker mid-transfer, then a restart: exactly one complete object and row', async () => {
  const phone = uniquePhone();
  // A slow origin (about 2 s a try), so the kill surely lands while the bytes are moving.
  const size = Math.min(Number(env.MEDIA_MAX_BYTES) - 1, 8 << 20);
  const item = await sim('/sim/media', { kind: 'jpeg', size, contentType: 'image/jpeg', bytesPerSecond: 4 << 20 });
  const r = await sim('/sim/inbound', { from: phone, body: 'big one', media: [{ sid: item.sid }] });
  assert.equal(r.status, 204);
  await waitFor('the download to start', async () =>
    (await sim(`/sim/cdn-requests?sid=${item.sid}`)).requests[0]?.bytesSent > 0, { everyMs: 5 });
  let cut;
  let storedAtKill;
  try {
    services('kill9', 'media-worker');
    cut = (await sim(`/sim/cdn-requests?sid=${item.sid}`)).requests;
    storedAtKill = (await mediaRows(phone)).filter((x) => x.stored_at).length;
  } finally {
    services('start', 'media-worker');
  }
  const [row] = await waitFor('the media row', async () => {
    const rows = await mediaRows(phone);
    return rows.length && rows[0].stored_at ? rows : false;
  }, { timeoutMs: 60000 });
  // The kill landed mid-transfer: the first try had not received everything and stored nothing,
  // and the restarted worker asked the source again, from the start.
  assert.equal(storedAtKill, 0, 'nothing stored by the first try');
  assert.ok(cut[0].bytesSent < size, `the first transfer was cut off (${cut[0].bytesSent} of ${size} bytes)`);
  const asked = (await sim(`/sim/cdn-requests?sid=${item.sid}`)).requests;
  assert.equal(asked.length, 2, JSON.stringify(asked.map((x) => [x.status, x.bytesSent])));
  assert.equal(asked[1].bytesSent, size);
  assert.equal(row.sha256, item.sha256);
  assert.equal(Number(row.size), size);
  assert.deepEqual(await s3Keys(`media/${row.message_id}/`), [row.object_key]);
  assert.equal(sha(await s3Get(row.object_key)), item.sha256);
});

test('outbound stored media goes out as a presigned URL that Twilio can fetch, and that expires', async () => {
  const phone = uniquePhone();
  await twilioMedia(phone, { kind: 'png', size: 40000, contentType: 'image/png' });
  const [row] = await waitFor('the media row', async () => {
    const rows = await mediaRows(phone);
    return rows.length && rows[0].stored_at ? rows : false;
  });
  const r = await send({ to: phone, type: 'media', media: { mediaId: String(row.id), caption: 'back to you' },
    idempotencyKey: key() });
  assert.equal(r.status, 202, r.text);
  const [call] = await waitFor('the Twilio call', async () => {
    const c = await simCalls(phone);
    return c.length ? c : false;
  });
  const url = [].concat(call.params.MediaUrl)[0];
  assert.match(url, /X-Amz-Signature=/);
  assert.equal(call.params.Body, 'back to you');
  // The simulator fetched it as Twilio would, and got the stored bytes.
  assert.equal(call.media[0].status, 200);
  assert.equal(call.media[0].sha256, row.sha256);
  // After MEDIA_URL_TTL_S the storage refuses the same URL.
  const ttl = Number(env.MEDIA_URL_TTL_S);
  await sleep((ttl + 1) * 1000);
  const late = await fetch(url);
  assert.equal(late.status, 403);
  // An unknown id fails the message with a clear reason, and nothing is sent.
  const bad = await send({ to: phone, type: 'media', media: { mediaId: '999999999' }, idempotencyKey: key() });
  const m = await waitMessage(bad.json.id, 'failed', (x) => x.status === 'failed');
  assert.equal(m.errorCode, 'media_unknown');
  assert.equal((await simCalls(phone)).length, 1);
});

test('a CDN that fails twice (503) is retried with backoff, and the file is stored', async () => {
  const phone = uniquePhone();
  const { item } = await twilioMedia(phone, { kind: 'jpeg', size: 5000, contentType: 'image/jpeg', cdnFailures: 2 });
  const [row] = await waitFor('the media row', async () => {
    const rows = await mediaRows(phone);
    return rows.length && rows[0].stored_at ? rows : false;
  }, { timeoutMs: 20000 });
  assert.equal(row.sha256, item.sha256);
  const cdn = (await sim(`/sim/cdn-requests?sid=${item.sid}`)).requests;
  assert.deepEqual(cdn.map((r) => r.status), [503, 503, 200]);
  // Twilio's URL is asked again on each try; only it ever sees the credentials.
  assert.ok(cdn.every((r) => r.headers.authorization === undefined));
});

test('media-worker keeps its partitions through its longest job: max.poll.interval.ms is above it', async () => {
  // A member that polls later than max.poll.interval.ms is dropped from the group mid-job, and
  // its partitions move on while it still works (Kafka's default is 5 minutes; one file may take
  // MEDIA_TIMEOUT_MS, 5 minutes by default, on each of its tries).
  const log = readFileSync(path.join(env.WA_STATE, 'log', 'media-worker.log'), 'utf8');
  const line = log.split('\n').filter((l) => l.includes('max_poll_interval_ms=')).pop();
  assert.ok(line, 'media-worker logs its max.poll.interval.ms');
  const configured = Number(/max_poll_interval_ms=(\d+)/.exec(line)[1]);
  const n = (k, d) => Number(env[k] ?? d);
  const longest = 2 * n('MEDIA_MAX_ATTEMPTS', 5) * (n('MEDIA_CONNECT_TIMEOUT_MS', 5000)
    + n('MEDIA_TIMEOUT_MS', 300000) + n('MEDIA_BACKOFF_CAP_MS', 30000));
  assert.ok(configured > longest, `${configured} ms is not above the longest job, ${longest} ms`);
});

test('a contact\'s HTML (or SVG) is stored as application/octet-stream: storage never serves it as a page', async () => {
  const phone = uniquePhone();
  const html = Buffer.from('<html><body><script>alert(document.cookie)</script></body></html>');
  const { message } = await twilioMedia(phone, { base64: html.toString('base64'), contentType: 'text/html' });
  const [row] = await waitFor('the media row', async () => {
    const rows = await mediaRows(phone);
    return rows.length && rows[0].stored_at ? rows : false;
  }, { logs: ['media-worker'] });
  assert.equal(row.message_id, message.id);
  assert.equal(row.mime_declared, 'text/html');
  assert.equal(row.mime, 'application/octet-stream');
  assert.ok(!row.object_key.endsWith('.html'), row.object_key);
  assert.deepEqual(await s3Get(row.object_key), html);
  const headers = await s3Headers(row.object_key);
  assert.equal(headers['content-type'], 'application/octet-stream');
  assert.match(headers['content-disposition'] ?? '', /^attachment/);
});

test('storage shows only images, audio, video and PDF; a contact\'s text or document downloads, and a provider still gets its type', async () => {
  const stored = async (opts) => {
    const phone = uniquePhone();
    await twilioMedia(phone, opts);
    const [row] = await waitFor('the media row', async () => {
      const rows = await mediaRows(phone);
      return rows.length && rows[0].stored_at ? rows : false;
    }, { logs: ['media-worker'] });
    return { phone, row, headers: await s3Headers(row.object_key) };
  };
  const text = await stored({ base64: Buffer.from('call me at 5, <b>not</b> later').toString('base64'), contentType: 'text/plain' });
  assert.equal(text.row.mime, 'text/plain'); // what it is, in the CRM
  assert.equal(text.headers['content-type'], 'application/octet-stream');
  assert.match(text.headers['content-disposition'] ?? '', /^attachment/);

  const png = await stored({ kind: 'png', size: 20000, contentType: 'image/png' });
  assert.equal(png.headers['content-type'], 'image/png');
  assert.equal(png.headers['content-disposition'], undefined);

  // Sent on by its id: Twilio fetches it as text/plain, not as the download storage serves.
  const r = await send({ to: text.phone, type: 'media', media: { mediaId: String(text.row.id) }, idempotencyKey: key() });
  assert.equal(r.status, 202, r.text);
  const [call] = await waitFor('the Twilio call', async () => {
    const c = await simCalls(text.phone);
    return c.length ? c : false;
  });
  assert.equal(call.media[0].status, 200);
  assert.match(call.media[0].contentType, /^text\/plain/);
  assert.equal(call.media[0].sha256, text.row.sha256);
});
