// content.mjs - the bytes of a hosted media item. Either given (base64, small) or generated:
// a deterministic pseudo-random stream of any size, produced chunk by chunk so that a file of
// several hundred MB never exists in memory, and identical every time it is read (its sha256 is
// computed once, at creation, by running the same generator).
import crypto from 'node:crypto';
import { Readable } from 'node:stream';

export const CHUNK = 64 * 1024;
const ZEROS = Buffer.alloc(CHUNK);

// Real leading (and trailing) bytes of a few formats, so a MIME sniffer downstream (libmagic,
// file(1), a browser) recognises the stream even though the middle is noise.
export const KINDS = {
  // SOI + a complete JFIF APP0 segment (length 16, "JFIF\0", version 1.1, no units, 1x1 density,
  // no thumbnail); EOI at the end.
  jpeg: {
    contentType: 'image/jpeg', ext: 'jpg',
    head: Buffer.from('ffd8ffe000104a46494600010100000100010000', 'hex'),
    tail: Buffer.from('ffd9', 'hex'),
  },
  // Signature + an IHDR chunk for a 1x1 8-bit RGB image (its CRC is 0x907753de; a test
  // recomputes it); an empty IEND chunk at the end.
  png: {
    contentType: 'image/png', ext: 'png',
    head: Buffer.from('89504e470d0a1a0a' + '0000000d49484452' + '00000001000000010802000000' + '907753de', 'hex'),
    tail: Buffer.from('0000000049454e44ae426082', 'hex'),
  },
  pdf: {
    contentType: 'application/pdf', ext: 'pdf',
    head: Buffer.from('%PDF-1.4\n', 'latin1'),
    tail: Buffer.from('\n%%EOF\n', 'latin1'),
  },
};

// File extensions for the default filename ("ME….jpg"); anything unknown gets ".bin".
const EXT = {
  'image/jpeg': 'jpg', 'image/png': 'png', 'image/webp': 'webp', 'image/gif': 'gif',
  'audio/ogg': 'ogg', 'audio/mpeg': 'mp3', 'audio/amr': 'amr', 'audio/aac': 'aac', 'audio/mp4': 'm4a',
  'video/mp4': 'mp4', 'video/3gpp': '3gp', 'application/pdf': 'pdf', 'text/vcard': 'vcf',
  'text/plain': 'txt', 'application/msword': 'doc',
  'application/vnd.openxmlformats-officedocument.wordprocessingml.document': 'docx',
  'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet': 'xlsx',
  'application/vnd.openxmlformats-officedocument.presentationml.presentation': 'pptx',
};
export const extensionFor = (contentType) => EXT[baseType(contentType)] ?? 'bin';

export const baseType = (contentType) => String(contentType ?? '').split(';')[0].trim().toLowerCase();

// The webhook's MessageType for a media item (Twilio sends "image", "video", "audio",
// "document"…; stickers, contacts and locations are not derived from a content type here).
export function messageTypeFor(contentType) {
  const t = baseType(contentType);
  if (t.startsWith('image/')) return 'image';
  if (t.startsWith('video/')) return 'video';
  if (t.startsWith('audio/')) return 'audio';
  return 'document';
}

// Copies the part of `bytes` (placed at absolute position `at`) that falls inside this chunk.
function overlay(chunk, offset, bytes, at) {
  const from = Math.max(offset, at);
  const to = Math.min(offset + chunk.length, at + bytes.length);
  if (from < to) bytes.copy(chunk, from - offset, from - at, to - at);
}

// Chunks of a generated item: an AES-128-CTR keystream (fast, uniform, reproducible from the
// seed; not a secret, just noise that compresses badly like real media), with the kind's head
// and tail written over its first and last bytes. The tail is only placed when it does not
// overlap the head.
export function* generatedChunks({ size, seed, kind }) {
  const key = crypto.createHash('sha256').update(`twilio-sim media\0${seed}`).digest().subarray(0, 16);
  const cipher = crypto.createCipheriv('aes-128-ctr', key, Buffer.alloc(16));
  const k = kind ? KINDS[kind] : null;
  const tailAt = k && size >= k.head.length + k.tail.length ? size - k.tail.length : null;
  for (let offset = 0; offset < size; offset += CHUNK) {
    const chunk = cipher.update(ZEROS.subarray(0, Math.min(CHUNK, size - offset)));
    if (k) {
      overlay(chunk, offset, k.head, 0);
      if (tailAt !== null) overlay(chunk, offset, k.tail, tailAt);
    }
    yield chunk;
  }
}

export function* itemChunks(item) {
  if (item.bytes) {
    for (let o = 0; o < item.bytes.length; o += CHUNK) yield item.bytes.subarray(o, o + CHUNK);
  } else {
    yield* generatedChunks(item);
  }
}

// A Readable that makes the next chunk only when the consumer asks for it (read() is called
// again only after the previous push drained below highWaterMark), so piping it into a slow
// HTTP response keeps at most about one chunk queued in this process. With
// item.bytesPerSecond, a chunk leaves no earlier than that rate allows: a slow origin, so a
// test can act while a transfer is surely under way.
export function contentStream(item) {
  const it = itemChunks(item);
  const rate = item.bytesPerSecond ?? 0;
  const started = Date.now();
  let made = 0;
  return new Readable({
    highWaterMark: CHUNK,
    read() {
      const { value, done } = it.next();
      if (done || !rate) {
        this.push(done ? null : value);
        return;
      }
      made += value.length;
      const wait = started + (made * 1000) / rate - Date.now();
      if (wait > 0) setTimeout(() => this.push(value), wait);
      else this.push(value);
    },
  });
}

// sha256 of an item by running its generator once. Yields to the event loop every 8 MB so a
// large item being hashed does not stall other requests for the whole second it takes.
export async function digest(item) {
  const hash = crypto.createHash('sha256');
  let n = 0;
  for (const chunk of itemChunks(item)) {
    hash.update(chunk);
    n += 1;
    if (n % 128 === 0) await new Promise((r) => setImmediate(r));
  }
  return hash.digest('hex');
}

// Content-Disposition with the filename as given (tests may use hostile names such as
// "../../x.jpg" to check the receiver, so nothing is cleaned beyond what the header syntax
// needs). Plain ASCII goes in a quoted-string; anything else also gets RFC 6266/5987
// `filename*` with an ASCII fallback.
export function contentDisposition(filename) {
  const quoted = (s) => `"${s.replace(/[\\"]/g, '\\$&')}"`;
  if (/^[\x20-\x7e]*$/.test(filename)) return `inline; filename=${quoted(filename)}`;
  const fallback = filename.replace(/[^\x20-\x7e]/g, '_');
  const star = encodeURIComponent(filename).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `inline; filename=${quoted(fallback)}; filename*=UTF-8''${star}`;
}
