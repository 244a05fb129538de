// Response headers built from what a WhatsApp sender chose: file names (RFC 6266/5987
// Content-Disposition) and mimetypes. Only visible ASCII may reach a header line.
import test from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import fc from 'fast-check';
import { contentDisposition, safeMimetype } from '../src/http.js';

const SEED = Number(process.env.FC_SEED ?? 20251130);
const runs = (n) => ({ seed: SEED, numRuns: Math.max(1, Math.round(n * Number(process.env.FC_RUNS ?? 1))) });

/** attachment; filename="<quoted-string>"; filename*=UTF-8''<RFC 5987 attr-chars and %XX> */
const CD_RE = /^attachment; filename="((?:[\x20\x21\x23-\x5b\x5d-\x7e]|\\["\\])*)"; filename\*=UTF-8''((?:[A-Za-z0-9!#$&+\-.^_`|~]|%[0-9A-F]{2})*)$/;

test('Content-Disposition: Hebrew, emoji, quotes, backslashes and CR/LF', () => {
  assert.equal(contentDisposition('חוזה.pdf'), `attachment; filename="____.pdf"; filename*=UTF-8''%D7%97%D7%95%D7%96%D7%94.pdf`);
  assert.equal(contentDisposition('📄 report 😀.pdf'), `attachment; filename="_ report _.pdf"; filename*=UTF-8''%F0%9F%93%84%20report%20%F0%9F%98%80.pdf`);
  assert.equal(contentDisposition('a"b\\c\r\nX-Injected: 1.pdf'), `attachment; filename="a\\"b\\\\c__X-Injected: 1.pdf"; filename*=UTF-8''a%22b%5Cc__X-Injected%3A%201.pdf`);
  assert.equal(contentDisposition("it's (1)*.txt"), `attachment; filename="it's (1)*.txt"; filename*=UTF-8''it%27s%20%281%29%2A.txt`);
  assert.equal(contentDisposition('x\ud800.pdf'), `attachment; filename="x_.pdf"; filename*=UTF-8''x%EF%BF%BD.pdf`); // a lone surrogate
});

test('property: for any file name the header is one line of visible ASCII that Node accepts, and filename* decodes back to the name', () => {
  fc.assert(fc.property(fc.oneof(fc.string({ unit: 'binary', maxLength: 40 }), fc.string({ unit: 'grapheme', maxLength: 20 }), fc.string({ maxLength: 20 })), (name) => {
    const v = contentDisposition(name);
    assert.doesNotThrow(() => http.validateHeaderValue('content-disposition', v));
    const m = CD_RE.exec(v);
    assert.ok(m, v);
    const clean = name.replace(/[\u0000-\u001f\u007f]/g, '_').toWellFormed();
    assert.equal(decodeURIComponent(m[2]), clean);
    assert.equal(m[1].replace(/\\(.)/g, '$1'), clean.replace(/[^\x20-\x7e]/gu, '_'));
  }), runs(1000));
});

test('Content-Type from a sender-given mimetype: kept when it is visible ASCII, else application/octet-stream', () => {
  assert.equal(safeMimetype('application/pdf'), 'application/pdf');
  assert.equal(safeMimetype('audio/ogg; codecs=opus'), 'audio/ogg; codecs=opus');
  for (const bad of ['text/plain\r\nX-Injected: 1', 'application/pdf; name="חוזה"', '', null, undefined, 42, ' image/jpeg']) {
    assert.equal(safeMimetype(bad), 'application/octet-stream', JSON.stringify(bad));
  }
});
