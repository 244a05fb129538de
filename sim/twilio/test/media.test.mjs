// media.test.mjs - inbound media hosted the way Twilio serves it: Basic auth on the API URL, a
// 307 to a signed URL on a second listener (the CDN), bytes streamed from there.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import v8 from 'node:v8';
import vm from 'node:vm';
import zlib from 'node:zlib';
import { startServer } from '../server.mjs';
import { validate } from '../webhook.mjs';
import { ACCOUNT, TOKEN, basic, newUser, simJson, sleep, startReceiver, startSim } from './helpers.mjs';

let sim;
let rx;
before(async () => {
  rx = await startReceiver();
  sim = await startSim({ ingressUrl: rx.base });
});
after(async () => { await sim.close(); await rx.close(); });

const sha256 = (buf) => crypto.createHash('sha256').update(buf).digest('hex');

async function host(opts) {
  const r = await simJson(sim, 'POST', '/sim/media', opts);
  assert.equal(r.status, 201, JSON.stringify(r.body));
  return r.body;
}

// GETs `url` following redirects by hand, the way a careful client must: the credentials go to
// the first host only, never to a different origin. Returns the final response and the chain.
async function follow(url, { auth = basic(), method = 'GET', max = 10 } = {}) {
  let headers = auth ? { Authorization: auth } : {};
  let current = url;
  const chain = [];
  for (let i = 0; i < max; i += 1) {
    const res = await fetch(current, { method, redirect: 'manual', headers });
    chain.push({ url: current, status: res.status });
    if (res.status < 300 || res.status > 399) return { res, chain };
    await res.arrayBuffer();
    const next = new URL(res.headers.get('location'), current);
    if (next.origin !== new URL(current).origin) headers = {};
    current = next.href;
  }
  throw new Error(`more than ${max} redirects`);
}

const cdnLog = async (sid) => (await simJson(sim, 'GET', `/sim/cdn-requests?sid=${sid}`)).body.requests;
const apiLog = async (sid) => (await simJson(sim, 'GET', `/sim/media-requests?sid=${sid}`)).body.requests;

describe('the API media URL', () => {
  test('POST /sim/media answers url, sid, sha256, size, contentType; the URL has Twilio\'s shape', async () => {
    const m = await host({ size: 1000 });
    assert.match(m.sid, /^ME[0-9a-f]{32}$/);
    assert.match(m.messageSid, /^MM[0-9a-f]{32}$/);
    assert.equal(m.url, `${sim.url}/2010-04-01/Accounts/${ACCOUNT}/Messages/${m.messageSid}/Media/${m.sid}`);
    assert.equal(m.size, 1000);
    assert.equal(m.contentType, 'image/jpeg');
    assert.equal(m.filename, `${m.sid}.jpg`);
    assert.match(m.sha256, /^[0-9a-f]{64}$/);
  });

  test('without (or with wrong) Basic auth: 401 in Twilio\'s legacy shape', async () => {
    const m = await host({ size: 10 });
    for (const auth of [null, basic(ACCOUNT, 'wrong')]) {
      const res = await fetch(m.url, { redirect: 'manual', headers: auth ? { Authorization: auth } : {} });
      assert.equal(res.status, 401);
      assert.equal(res.headers.get('www-authenticate'), 'Basic realm="Twilio API"');
      assert.deepEqual(await res.json(), { code: 20003, message: 'Authenticate',
        more_info: 'https://www.twilio.com/docs/errors/20003', status: 401 });
    }
    const log = await apiLog(m.sid);
    assert.deepEqual(log.map((r) => [r.status, r.authPresent, r.authOk]), [[401, false, false], [401, true, false]]);
    assert.deepEqual(await cdnLog(m.sid), []);
  });

  test('with auth: 307, XML body without the media bytes, Location on the CDN host', async () => {
    const m = await host({ size: 5000, kind: 'jpeg' });
    const res = await fetch(m.url, { redirect: 'manual', headers: { Authorization: basic() } });
    assert.equal(res.status, 307);
    assert.equal(res.headers.get('content-type'), 'application/xml');
    const location = new URL(res.headers.get('location'));
    assert.equal(location.origin, sim.cdnUrl);
    assert.notEqual(location.origin, new URL(sim.url).origin);
    assert.match(location.pathname, /^\/cdn\/[\w-]{22}$/);
    assert.match(location.search, /^\?Expires=\d+&Signature=[0-9a-f]{64}$/);
    // Valid for 4 hours, like Twilio's signed media URLs.
    const ttl = Number(location.searchParams.get('Expires')) * 1000 - Date.now();
    assert.ok(ttl > 4 * 3600e3 - 5000 && ttl <= 4 * 3600e3 + 1000, `ttl ${ttl}`);
    const body = Buffer.from(await res.arrayBuffer());
    assert.match(body.toString(), /^<\?xml /);
    assert.ok(body.length < 1000 && !body.includes(Buffer.from('ffd8ffe0', 'hex')), 'no media bytes in the 307');
    const [rec] = await apiLog(m.sid);
    assert.equal(rec.status, 307);
    assert.equal(rec.authOk, true);
    assert.equal(rec.location, location.href);
  });

  test('following by hand without credentials: exact bytes, headers, and no Authorization at the CDN', async () => {
    const m = await host({ size: 300000, seed: 'exact', contentType: 'image/png', filename: 'holiday.png' });
    const { res, chain } = await follow(m.url);
    assert.deepEqual(chain.map((c) => c.status), [307, 200]);
    assert.equal(res.headers.get('content-type'), 'image/png');
    assert.equal(res.headers.get('content-length'), '300000');
    assert.equal(res.headers.get('content-disposition'), 'inline; filename="holiday.png"');
    const buf = Buffer.from(await res.arrayBuffer());
    assert.equal(buf.length, 300000);
    assert.equal(sha256(buf), m.sha256);
    const log = await cdnLog(m.sid);
    assert.equal(log.length, 1);
    assert.equal(log[0].status, 200);
    assert.equal(log[0].hasAuthorization, false);
    assert.equal(log[0].headers.authorization, undefined);
    assert.ok(!log[0].rawHeaders.some((h, i) => i % 2 === 0 && h.toLowerCase() === 'authorization'));
    assert.ok(log[0].headers.host, 'all headers are recorded');
  });

  test('the CDN log catches a client that forwards its credentials; cdnRejectAuth answers like S3', async () => {
    const m = await host({ size: 100 });
    const first = await fetch(m.url, { redirect: 'manual', headers: { Authorization: basic() } });
    const leaked = await fetch(first.headers.get('location'), { headers: { Authorization: basic() } });
    assert.equal(leaked.status, 200);
    await leaked.arrayBuffer();
    const [rec] = await cdnLog(m.sid);
    assert.equal(rec.hasAuthorization, true);
    assert.equal(rec.headers.authorization, basic());

    const strict = await host({ size: 100, cdnRejectAuth: true });
    const loc = (await fetch(strict.url, { redirect: 'manual', headers: { Authorization: basic() } })).headers.get('location');
    const bad = await fetch(loc, { headers: { Authorization: basic() } });
    assert.equal(bad.status, 400);
    assert.match(await bad.text(), /<Code>InvalidArgument<\/Code>/);
    const good = await fetch(loc);
    assert.equal(good.status, 200);
    assert.equal(sha256(Buffer.from(await good.arrayBuffer())), strict.sha256);
  });

  test('Node\'s fetch with redirect:follow drops the credentials at the CDN too', async () => {
    const m = await host({ size: 2048 });
    const res = await fetch(m.url, { headers: { Authorization: basic() } });
    assert.equal(res.status, 200);
    assert.equal(sha256(Buffer.from(await res.arrayBuffer())), m.sha256);
    assert.equal((await cdnLog(m.sid))[0].hasAuthorization, false);
  });

  test('hops:2 chains API -> CDN -> CDN, each hop a new CDN path', async () => {
    const m = await host({ size: 4096, hops: 2 });
    const { res, chain } = await follow(m.url);
    assert.deepEqual(chain.map((c) => c.status), [307, 307, 200]);
    assert.equal(sha256(Buffer.from(await res.arrayBuffer())), m.sha256);
    const log = await cdnLog(m.sid);
    assert.deepEqual(log.map((r) => [r.hop, r.status]), [[1, 307], [2, 200]]);
    assert.notEqual(new URL(log[0].path, sim.cdnUrl).pathname, new URL(log[1].path, sim.cdnUrl).pathname);
    assert.equal(log[0].location, `${sim.cdnUrl}${log[1].path}`);
  });

  test('redirect:"elsewhere" sends the client to the given location (one it must refuse)', async () => {
    const location = 'http://169.254.169.254/latest/meta-data/';
    const m = await host({ size: 10, redirect: 'elsewhere', location });
    const res = await fetch(m.url, { redirect: 'manual', headers: { Authorization: basic() } });
    assert.equal(res.status, 307);
    assert.equal(res.headers.get('location'), location);
    assert.deepEqual(await cdnLog(m.sid), []);
    assert.equal((await simJson(sim, 'POST', '/sim/media', { size: 1, redirect: 'elsewhere' })).status, 400);
    assert.equal((await simJson(sim, 'POST', '/sim/media', { size: 1, location })).status, 400);
  });

  test('redirect:"none" serves the bytes from the API URL; auth:false needs no credentials', async () => {
    const m = await host({ size: 777, redirect: 'none', auth: false, contentType: 'audio/ogg' });
    const res = await fetch(m.url, { redirect: 'manual' });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'audio/ogg');
    assert.equal(res.headers.get('content-disposition'), `inline; filename="${m.sid}.ogg"`);
    assert.equal(sha256(Buffer.from(await res.arrayBuffer())), m.sha256);
    assert.deepEqual((await apiLog(m.sid)).map((r) => [r.status, r.authPresent]), [[200, false]]);
  });

  test('status forces an answer on the API URL, cdnStatus on the final CDN response', async () => {
    const gone = await host({ size: 10, status: 404 });
    const r404 = await fetch(gone.url, { redirect: 'manual', headers: { Authorization: basic() } });
    assert.equal(r404.status, 404);
    assert.equal((await r404.json()).code, 20404);
    const broken = await host({ size: 10, status: 500 });
    const r500 = await fetch(broken.url, { redirect: 'manual', headers: { Authorization: basic() } });
    assert.equal(r500.status, 500);
    assert.equal((await r500.json()).code, 20500);
    const cdnDown = await host({ size: 10, cdnStatus: 500, hops: 2 });
    const { res, chain } = await follow(cdnDown.url);
    assert.deepEqual(chain.map((c) => c.status), [307, 307, 500]);
    assert.match(res.headers.get('content-type'), /xml/);
  });

  test('cdnFailures: the first N CDN GETs answer 503, then the bytes (the signed URL stays valid)', async () => {
    const m = await host({ size: 1234, cdnFailures: 2 });
    const loc = (await fetch(m.url, { redirect: 'manual', headers: { Authorization: basic() } })).headers.get('location');
    const statuses = [];
    let res;
    for (let i = 0; i < 3; i += 1) {
      res = await fetch(loc);
      statuses.push(res.status);
      if (res.status !== 200) assert.match(await res.text(), /<Code>ServiceUnavailable<\/Code>/);
    }
    assert.deepEqual(statuses, [503, 503, 200]);
    assert.equal(sha256(Buffer.from(await res.arrayBuffer())), m.sha256);
    const listed = (await simJson(sim, 'GET', '/sim/media')).body.media.find((x) => x.sid === m.sid);
    assert.equal(listed.cdnFailures, 2);
    assert.equal(listed.cdnFailuresLeft, 0);
  });

  test('HEAD works like GET without a body, on both hosts', async () => {
    const m = await host({ size: 999999, kind: 'pdf' });
    assert.equal((await fetch(m.url, { method: 'HEAD', redirect: 'manual' })).status, 401);
    const head = await fetch(m.url, { method: 'HEAD', redirect: 'manual', headers: { Authorization: basic() } });
    assert.equal(head.status, 307);
    assert.equal((await head.arrayBuffer()).byteLength, 0);
    const cdnHead = await fetch(head.headers.get('location'), { method: 'HEAD' });
    assert.equal(cdnHead.status, 200);
    assert.equal(cdnHead.headers.get('content-length'), '999999');
    assert.equal(cdnHead.headers.get('content-type'), 'application/pdf');
    assert.match(cdnHead.headers.get('content-disposition'), /^inline; filename="ME[0-9a-f]{32}\.pdf"$/);
    assert.equal((await cdnHead.arrayBuffer()).byteLength, 0);
    assert.deepEqual((await cdnLog(m.sid)).map((r) => [r.method, r.status, r.bytesSent]), [['HEAD', 200, 0]]);
  });

  test('a tampered signature is 403, an expired URL 403, an unknown token 404', async () => {
    const m = await host({ size: 10, cdnTtlMs: 150 });
    const loc = new URL((await fetch(m.url, { redirect: 'manual', headers: { Authorization: basic() } })).headers.get('location'));
    const tampered = new URL(loc);
    tampered.searchParams.set('Expires', String(Number(loc.searchParams.get('Expires')) + 3600));
    assert.equal((await fetch(tampered)).status, 403);
    const noQuery = new URL(loc.pathname, loc);
    assert.equal((await fetch(noQuery)).status, 403);
    await sleep(200);
    const expired = await fetch(loc);
    assert.equal(expired.status, 403);
    assert.match(await expired.text(), /expired/);
    assert.equal((await fetch(`${sim.cdnUrl}/cdn/AAAAAAAAAAAAAAAAAAAAAA?Expires=1&Signature=00`)).status, 404);
  });
});

describe('content', () => {
  const firstBytes = async (m, n) => {
    const { res } = await follow(m.url);
    return Buffer.from(await res.arrayBuffer()).subarray(0, n);
  };

  test('kind pdf/jpeg/png start with the real magic bytes and set the content type', async () => {
    const pdf = await host({ size: 4096, kind: 'pdf' });
    assert.equal(pdf.contentType, 'application/pdf');
    assert.equal((await firstBytes(pdf, 9)).toString('latin1'), '%PDF-1.4\n');
    const jpeg = await host({ size: 4096, kind: 'jpeg' });
    assert.equal(jpeg.contentType, 'image/jpeg');
    assert.deepEqual([...(await firstBytes(jpeg, 4))], [0xff, 0xd8, 0xff, 0xe0]);
    const png = await host({ size: 4096, kind: 'png' });
    assert.equal(png.contentType, 'image/png');
    const head = await firstBytes(png, 33);
    assert.deepEqual([...head.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    // The IHDR chunk's CRC is right, so a strict PNG parser gets past the header.
    if (zlib.crc32) assert.equal(zlib.crc32(head.subarray(12, 29)), head.readUInt32BE(29));
  });

  test('the whole file ends with the format trailer; tiny sizes keep the head only', async () => {
    const pdf = await host({ size: 70000, kind: 'pdf' });
    const { res } = await follow(pdf.url);
    const buf = Buffer.from(await res.arrayBuffer());
    assert.equal(buf.subarray(-7).toString('latin1'), '\n%%EOF\n');
    const tiny = await host({ size: 5, kind: 'pdf' });
    assert.equal((await firstBytes(tiny, 5)).toString('latin1'), '%PDF-');
  });

  test('generated content is deterministic; seed varies it', async () => {
    const a = await host({ size: 100000, seed: 7 });
    const b = await host({ size: 100000, seed: 7 });
    const c = await host({ size: 100000, seed: 8 });
    assert.equal(a.sha256, b.sha256);
    assert.notEqual(a.sha256, c.sha256);
    // The trailer may straddle the 64 KiB chunk boundary.
    const straddle = await host({ size: 65536 + 3, kind: 'pdf' });
    const { res } = await follow(straddle.url);
    const buf = Buffer.from(await res.arrayBuffer());
    assert.equal(sha256(buf), straddle.sha256);
    assert.equal(buf.subarray(-7).toString('latin1'), '\n%%EOF\n');
  });

  test('base64 content is served byte for byte; a non-ASCII filename gets filename*', async () => {
    const bytes = crypto.randomBytes(3000);
    const m = await host({ base64: bytes.toString('base64'), contentType: 'application/pdf', filename: 'façade "1".pdf' });
    assert.equal(m.size, 3000);
    assert.equal(m.sha256, sha256(bytes));
    const { res } = await follow(m.url);
    assert.equal(res.headers.get('content-disposition'),
      'inline; filename="fa_ade \\"1\\".pdf"; filename*=UTF-8\'\'fa%C3%A7ade%20%221%22.pdf');
    assert.deepEqual(Buffer.from(await res.arrayBuffer()), bytes);
  });

  test('bad options are 400s', async () => {
    for (const bad of [{}, { size: 1, base64: 'AA==' }, { size: -1 }, { size: 1, kind: 'gif' },
      { size: 1, hops: 0 }, { size: 1, nope: true }, { base64: 'AA==', kind: 'pdf' },
      { size: 1, filename: 'a\r\nX-Evil: 1' }, { size: 1, publicBase: 'ftp://x' }, { size: 1, status: 200 }]) {
      assert.equal((await simJson(sim, 'POST', '/sim/media', bad)).status, 400, JSON.stringify(bad));
    }
  });

  test('publicBase changes the scheme/host of the returned URL only', async () => {
    const m = await host({ size: 10, publicBase: 'https://api.twilio.example/' });
    assert.match(m.url, /^https:\/\/api\.twilio\.example\/2010-04-01\/Accounts\/AC[0-9a-f]{32}\/Messages\/MM[0-9a-f]{32}\/Media\/ME[0-9a-f]{32}$/);
    const { res } = await follow(`${sim.url}${new URL(m.url).pathname}`);
    assert.equal(sha256(Buffer.from(await res.arrayBuffer())), m.sha256);
  });
});

describe('streaming', () => {
  test('a 50 MB item streams: the sim never holds the body, process memory stays flat', async () => {
    const size = 50 * 1024 * 1024;
    const m = await host({ size, seed: 'big', kind: 'jpeg' });
    // gc() before the baseline, so garbage from earlier tests is not counted as growth.
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc');
    gc();
    const loc = (await fetch(m.url, { redirect: 'manual', headers: { Authorization: basic() } })).headers.get('location');
    const res = await fetch(loc);
    assert.equal(res.headers.get('content-length'), String(size));
    const reader = res.body.getReader();
    const hash = crypto.createHash('sha256');
    const rss0 = process.memoryUsage().rss;
    let peak = rss0;
    let got = 0;
    let paused = false;
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      hash.update(value);
      got += value.length;
      // V8 lets up to ~64 MB of dead Buffer memory pile up before it collects on its own, which
      // would drown the signal; collecting every 1 MB leaves only what is really held.
      if (got % (1024 * 1024) < value.length) gc();
      peak = Math.max(peak, process.memoryUsage().rss);
      if (!paused && got > 1024 * 1024) {
        // A slow reader: the sim must wait for us, not push the rest into memory.
        paused = true;
        await sleep(300);
        const [rec] = await cdnLog(m.sid);
        if (process.env.SIM_MEDIA_DEBUG) process.stderr.write(`paused at ${got}, sent ${rec.bytesSent}\n`);
        assert.ok(rec.bytesSent < size / 2, `sent ${rec.bytesSent} of ${size} while the reader was paused`);
      }
    }
    assert.equal(got, size);
    assert.equal(hash.digest('hex'), m.sha256);
    const [rec] = await cdnLog(m.sid);
    assert.equal(rec.bytesSent, size);
    assert.ok(rec.maxQueuedBytes < 1024 * 1024, `the sim queued up to ${rec.maxQueuedBytes} bytes`);
    const growth = peak - rss0;
    if (process.env.SIM_MEDIA_DEBUG) process.stderr.write(`rss growth ${(growth / 1048576).toFixed(1)} MB\n`);
    assert.ok(growth < 20 * 1024 * 1024, `rss grew by ${(growth / 1048576).toFixed(1)} MB`);
  });
});

test('bytesPerSecond makes a slow origin: the bytes take their time and arrive whole', async () => {
  const size = 256 * 1024;
  const m = await host({ size, bytesPerSecond: 512 * 1024 });
  const started = Date.now();
  const { res } = await follow(m.url);
  const body = Buffer.from(await res.arrayBuffer());
  const ms = Date.now() - started;
  assert.equal(body.length, size);
  assert.equal(sha256(body), m.sha256);
  assert.ok(ms >= 400, `256 KiB at 512 KiB/s took only ${ms} ms`);
  assert.equal((await simJson(sim, 'POST', '/sim/media', { size: 10, bytesPerSecond: 10 })).status, 400);
});

describe('/sim endpoints', () => {
  test('GET /sim/media lists items without bytes; DELETE forgets them (URL and CDN links 404)', async () => {
    const m = await host({ base64: Buffer.from('hello').toString('base64'), contentType: 'text/plain' });
    const loc = (await fetch(m.url, { redirect: 'manual', headers: { Authorization: basic() } })).headers.get('location');
    const listed = (await simJson(sim, 'GET', '/sim/media')).body.media.find((x) => x.sid === m.sid);
    assert.equal(listed.url, m.url);
    assert.equal(listed.source, 'base64');
    assert.equal(listed.bytes, undefined);
    const del = await simJson(sim, 'DELETE', '/sim/media');
    assert.ok(del.body.cleared >= 1);
    assert.deepEqual((await simJson(sim, 'GET', '/sim/media')).body.media, []);
    assert.equal((await fetch(m.url, { redirect: 'manual', headers: { Authorization: basic() } })).status, 404);
    assert.equal((await fetch(loc)).status, 404);
  });

  test('the .json resource (spec shape) and DELETE -> 204', async () => {
    const m = await host({ size: 10, kind: 'png' });
    assert.equal((await fetch(`${m.url}.json`)).status, 401);
    const res = await fetch(`${m.url}.json`, { headers: { Authorization: basic() } });
    const body = await res.json();
    assert.deepEqual(Object.keys(body).sort(), ['account_sid', 'content_type', 'date_created', 'date_updated',
      'parent_sid', 'sid', 'uri']);
    assert.equal(body.parent_sid, m.messageSid);
    assert.equal(body.content_type, 'image/png');
    assert.equal(body.uri, `${new URL(m.url).pathname}.json`);
    const del = await fetch(`${m.url}.json`, { method: 'DELETE', headers: { Authorization: basic() } });
    assert.equal(del.status, 204);
    assert.equal((await fetch(m.url, { redirect: 'manual', headers: { Authorization: basic() } })).status, 404);
  });

  test('request logs: filtered by sid, cleared by DELETE', async () => {
    const m = await host({ size: 10 });
    await follow(m.url);
    assert.equal((await apiLog(m.sid)).length, 1);
    assert.equal((await cdnLog(m.sid)).length, 1);
    await simJson(sim, 'DELETE', '/sim/media-requests');
    await simJson(sim, 'DELETE', '/sim/cdn-requests');
    assert.deepEqual((await simJson(sim, 'GET', '/sim/media-requests')).body.requests, []);
    assert.deepEqual((await simJson(sim, 'GET', '/sim/cdn-requests')).body.requests, []);
  });

  test('POST /sim/inbound with a hosted sid posts MediaUrl0, the item\'s MM sid, MessageType', async () => {
    const m = await host({ size: 2000, kind: 'pdf', filename: 'invoice.pdf' });
    const user = newUser();
    const r = await simJson(sim, 'POST', '/sim/inbound', { from: user, body: '', media: [{ sid: m.sid }] });
    assert.equal(r.status, 200);
    assert.equal(r.body.status, 204);
    assert.equal(r.body.messageSid, m.messageSid);
    const hook = rx.requests.find((q) => q.params.MessageSid === m.messageSid);
    assert.equal(hook.params.NumMedia, '1');
    assert.equal(hook.params.MediaUrl0, m.url);
    assert.equal(hook.params.MediaContentType0, 'application/pdf');
    assert.equal(hook.params.MessageType, 'document');
    assert.ok(validate(TOKEN, hook.headers['x-twilio-signature'], `${rx.base}/api/whatsapp/twilio`, hook.params));
    // What the receiver will do next: fetch it with the account's credentials.
    const { res } = await follow(hook.params.MediaUrl0);
    assert.equal(sha256(Buffer.from(await res.arrayBuffer())), m.sha256);
  });

  test('POST /sim/inbound with {url, contentType} items: MediaUrlN, NumMedia, an MM sid', async () => {
    const img = await host({ size: 100, kind: 'jpeg' });
    const r = await simJson(sim, 'POST', '/sim/inbound', { from: newUser(), body: 'two',
      media: [{ url: 'https://example.com/a.jpg', contentType: 'image/jpeg' }, { sid: img.sid }] });
    assert.equal(r.status, 200);
    assert.equal(r.body.messageSid, img.messageSid);
    const hook = rx.requests.find((q) => q.params.MessageSid === r.body.messageSid);
    assert.equal(hook.params.NumMedia, '2');
    assert.equal(hook.params.MediaUrl0, 'https://example.com/a.jpg');
    assert.equal(hook.params.MediaUrl1, img.url);
    assert.equal(hook.params.MediaContentType1, 'image/jpeg');
    assert.equal(hook.params.MessageType, 'image');
    const plain = await simJson(sim, 'POST', '/sim/inbound', { from: newUser(),
      media: [{ url: 'https://example.com/v.mp4', contentType: 'video/mp4' }] });
    assert.match(plain.body.messageSid, /^MM[0-9a-f]{32}$/);
    const vhook = rx.requests.find((q) => q.params.MessageSid === plain.body.messageSid);
    assert.equal(vhook.params.MessageType, 'video');
    assert.equal((await simJson(sim, 'POST', '/sim/inbound', { from: newUser(), media: [{ sid: 'ME' + '0'.repeat(32) }] })).status, 400);
  });
});

test('startServer returns the CDN URL and closes both listeners; /sim/reset forgets media', async () => {
  const s = await startServer({ port: 0, cdnPort: 0, accountSid: ACCOUNT, authToken: TOKEN, log: false });
  assert.match(s.cdnUrl, /^http:\/\/127\.0\.0\.1:\d+$/);
  assert.notEqual(s.cdnPort, s.port);
  assert.equal((await fetch(`${s.cdnUrl}/cdn/x`)).status, 404);
  assert.equal((await simJson(s, 'POST', '/sim/media', { size: 1 })).status, 201);
  await simJson(s, 'POST', '/sim/reset');
  assert.deepEqual((await simJson(s, 'GET', '/sim/media')).body.media, []);
  await s.close();
  await assert.rejects(fetch(`${s.cdnUrl}/cdn/x`));
  await assert.rejects(fetch(`${s.url}/sim/health`));
});
