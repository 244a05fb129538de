// media.mjs - fetches media the way Twilio does before sending a WhatsApp media message:
// GET the URL (following redirects, as presigned URLs may redirect), read the bytes, look at the
// Content-Type. Bytes are hashed while streaming so large files never sit in memory.
import crypto from 'node:crypto';

const MiB = 1024 * 1024;
// Twilio's WhatsApp media guidance (twilio.com/docs/whatsapp/guidance-whatsapp-media-messages):
// 16 MB per message, images 5 MB.
export const MAX_MEDIA_BYTES = 16 * MiB;
const IMAGE_MAX_BYTES = 5 * MiB;
const WHATSAPP_TYPES = new Set([
  'image/jpeg', 'image/jpg', 'image/png', 'image/webp',
  'audio/ogg', 'audio/amr', 'audio/3gpp', 'audio/aac', 'audio/mpeg', 'audio/mp4',
  'video/mp4', 'video/3gpp',
  'application/pdf', 'application/msword',
  'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
  'application/vnd.openxmlformats-officedocument.presentationml.presentation',
  'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
  'application/vnd.ms-excel', 'application/vnd.ms-powerpoint',
  'text/vcard', 'text/x-vcard',
]);

// Returns {url, status, contentType, bytes, sha256, truncated, error}; status 0 = no HTTP answer.
export async function fetchBytes(url, { timeoutMs = 10000, maxBytes = MAX_MEDIA_BYTES, signal } = {}) {
  const out = { url, status: 0, contentType: null, bytes: 0, sha256: null, truncated: false, error: null };
  const signals = [AbortSignal.timeout(timeoutMs)];
  if (signal) signals.push(signal);
  try {
    const res = await fetch(url, { signal: AbortSignal.any(signals), redirect: 'follow' });
    out.status = res.status;
    out.contentType = res.headers.get('content-type');
    const hash = crypto.createHash('sha256');
    if (res.body) {
      for await (const chunk of res.body) {
        out.bytes += chunk.length;
        if (out.bytes > maxBytes) { out.truncated = true; break; }
        hash.update(chunk);
      }
    }
    if (!out.truncated) out.sha256 = hash.digest('hex');
  } catch (e) {
    out.error = e.name === 'TimeoutError' ? `timeout after ${timeoutMs} ms` : (e.cause?.code ?? e.message);
  }
  return out;
}

// Why Twilio would fail the message for this fetched media, or null when it is fine.
// Too large -> 11751; anything else (no answer, non-2xx, empty, unsupported type) -> 63019.
export function mediaProblem(m) {
  if (m.error) return { errorCode: 63019, reason: `fetch failed: ${m.error}` };
  if (m.status < 200 || m.status > 299) return { errorCode: 63019, reason: `HTTP ${m.status}` };
  const type = (m.contentType ?? '').split(';')[0].trim().toLowerCase();
  const limit = type.startsWith('image/') ? IMAGE_MAX_BYTES : MAX_MEDIA_BYTES;
  if (m.truncated || m.bytes > limit) return { errorCode: 11751, reason: `larger than ${limit} bytes` };
  if (m.bytes === 0) return { errorCode: 63019, reason: 'empty body' };
  if (!WHATSAPP_TYPES.has(type)) return { errorCode: 63019, reason: `unsupported Content-Type ${m.contentType}` };
  return null;
}
