// The client Baileys fetches /send media URLs with: private addresses and oversized bodies refused,
// through the same call Baileys makes (getHttpStream with the socket's dispatcher).
import test from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { getHttpStream } from 'baileys';
import { createMediaDispatcher, isPrivateAddress } from '../src/fetchguard.js';
import { mediaRefusal } from '../src/sender.js';

async function server(t, handler) {
  const s = http.createServer(handler);
  await new Promise((r) => s.listen(0, '127.0.0.1', r));
  t.after(() => new Promise((r) => { s.closeAllConnections(); s.close(() => r()); }));
  return s.address().port;
}

async function read(stream) {
  const chunks = [];
  for await (const c of stream) chunks.push(c);
  return Buffer.concat(chunks);
}

// The refusal, wherever fetch wraps it.
function refused(err) {
  for (let e = err; e; e = e.cause) if (e.code === 'MEDIA_URL_REFUSED') return true;
  return false;
}

test('private, loopback, link-local and mapped addresses are refused; public ones are not', () => {
  for (const ip of ['127.0.0.1', '10.1.2.3', '172.16.0.1', '172.31.255.255', '192.168.1.1', '169.254.169.254',
    '100.64.0.1', '0.0.0.0', '224.0.0.1', '::1', '::', 'fe80::1', 'fd00::1', '::ffff:127.0.0.1', '::ffff:10.0.0.1',
    'not-an-address']) {
    assert.equal(isPrivateAddress(ip), true, ip);
  }
  for (const ip of ['8.8.8.8', '172.32.0.1', '157.240.1.1', '2a03:2880:f12f:83:face:b00c::25de', '::ffff:8.8.8.8']) {
    assert.equal(isPrivateAddress(ip), false, ip);
  }
});

test('a loopback URL is refused, by address and by a name that resolves to it', async (t) => {
  const port = await server(t, (req, res) => res.end('secret'));
  const dispatcher = createMediaDispatcher({ maxBytes: 1000 });
  t.after(() => dispatcher.close());
  for (const url of [`http://127.0.0.1:${port}/x`, `http://localhost:${port}/x`]) {
    // and /send answers it as a refusal (400), not as an unknown outcome
    await assert.rejects(getHttpStream(url, { dispatcher }),
      (e) => refused(e) && /private address/.test(mediaRefusal(e)), url);
  }
});

test('an allowed private host is fetched; a redirect from it to another private address is refused', async (t) => {
  const port = await server(t, (req, res) => {
    if (req.url === '/hop') return res.writeHead(302, { location: `http://127.0.0.2:${port}/x` }).end();
    res.end('hello');
  });
  const dispatcher = createMediaDispatcher({ privateHosts: ['localhost'], maxBytes: 1000 });
  t.after(() => dispatcher.close());
  assert.equal((await read(await getHttpStream(`http://localhost:${port}/x`, { dispatcher }))).toString(), 'hello');
  await assert.rejects(getHttpStream(`http://localhost:${port}/hop`, { dispatcher }), (e) => refused(e));
});

test('a body over the limit is refused', async (t) => {
  const port = await server(t, (req, res) => res.end(Buffer.alloc(5000)));
  const dispatcher = createMediaDispatcher({ privateHosts: ['127.0.0.1'], maxBytes: 1000 });
  t.after(() => dispatcher.close());
  await assert.rejects(async () => read(await getHttpStream(`http://127.0.0.1:${port}/big`, { dispatcher })),
    (e) => e.cause?.code === 'UND_ERR_RES_EXCEEDED_MAX_SIZE' && /larger than/.test(mediaRefusal(e)));
  assert.equal(mediaRefusal(new Error('socket hang up')), null);
});
