// validate.mjs - decides whether a "Send a message" request is accepted, in two layers:
//  1. the OpenAPI schema of the operation (types, enums, patterns, required To) via ajv;
//  2. what Twilio enforces for WhatsApp beyond the spec (channel addresses, a sender, content,
//     limits that the spec only states in prose).
// The first failing rule wins and is reported with the code Twilio uses for it.
import { SYNC } from './errors.mjs';
import { E164, splitAddress } from './phone.mjs';

const present = (v) => v !== undefined && v !== null && v !== ''
  && !(Array.isArray(v) && v.every((x) => x === ''));

const reject = (code, message) => ({ ok: false, status: 400, code, message });

// When the spec check fails on a field, the field decides the code (Twilio returns specific codes
// for these fields; everything else is the generic 20001).
const FIELD_CODES = {
  To: (v) => (present(v) ? reject(SYNC.TO_INVALID, `The 'To' number ${v} is not a valid phone number.`)
    : reject(SYNC.TO_REQUIRED, "A 'To' phone number is required.")),
  From: (v) => reject(SYNC.FROM_INVALID, `The 'From' number ${v} is not a valid phone number, shortcode, or alphanumeric sender ID.`),
  MessagingServiceSid: (v) => reject(SYNC.MESSAGING_SERVICE_INVALID, `The MessagingServiceSid ${v} is invalid.`),
  MediaUrl: () => reject(SYNC.MEDIA_URL_INVALID, 'Invalid media URL(s) in MediaUrl.'),
  ContentSid: (v) => reject(SYNC.CONTENT_SID_INVALID, `The ContentSid ${v} is Invalid.`),
  StatusCallback: (v) => reject(SYNC.STATUS_CALLBACK_INVALID, `The StatusCallback URL ${v} is not a valid URL.`),
};
const FIELD_ORDER = ['To', 'From', 'MessagingServiceSid', 'Body', 'MediaUrl', 'ContentSid',
  'ContentVariables', 'StatusCallback'];

function fieldOf(err) {
  if (err.keyword === 'required') return err.params.missingProperty;
  return err.instancePath.split('/')[1] ?? '';
}

function fromSchemaErrors(errors, params) {
  const rank = (f) => { const i = FIELD_ORDER.indexOf(f); return i < 0 ? FIELD_ORDER.length : i; };
  const err = [...errors].sort((a, b) => rank(fieldOf(a)) - rank(fieldOf(b)))[0];
  const field = fieldOf(err);
  if (FIELD_CODES[field]) return FIELD_CODES[field](params[field]);
  const where = err.instancePath ? err.instancePath.slice(1).replace(/\//g, '.') : field;
  return reject(SYNC.BAD_REQUEST, `Invalid parameter ${where}: ${err.message}`);
}

// Twilio: "URL must contain a valid hostname and underscores are not allowed" (spec, StatusCallback),
// an http(s) URL of at most 4000 characters (errors/21609).
function statusCallbackProblem(value) {
  if (value.length > 4000) return 'longer than 4000 characters';
  let u;
  try { u = new URL(value); } catch { return 'not an absolute URL'; }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return 'not http(s)';
  if (!u.hostname) return 'no hostname';
  if (u.hostname.includes('_')) return 'underscore in hostname';
  return null;
}

function isHttpUrl(value) {
  try {
    const u = new URL(value);
    return (u.protocol === 'http:' || u.protocol === 'https:') && !!u.hostname;
  } catch { return false; }
}

// The WhatsApp rules applied after the schema passed; `p` holds the coerced values.
function whatsappRules(p) {
  const to = splitAddress(p.To);
  const from = present(p.From) ? splitAddress(p.From) : null;
  if (to.channel !== 'whatsapp') {
    if (from?.channel === 'whatsapp') {
      return reject(SYNC.CHANNEL_MISMATCH, "Invalid From and To pair. From and To should be of the same channel (To is not whatsapp:).");
    }
    return reject(SYNC.TO_INVALID, `The 'To' number ${p.To} is not a valid WhatsApp address (whatsapp:+E.164).`);
  }
  if (!E164.test(to.address)) {
    return reject(SYNC.TO_INVALID, `The 'To' number ${p.To} is not a valid phone number.`);
  }
  if (!from && !present(p.MessagingServiceSid)) {
    return reject(SYNC.FROM_REQUIRED, "A 'From' or 'MessagingServiceSid' parameter is required to send a message.");
  }
  if (from && from.channel !== 'whatsapp') {
    return reject(SYNC.CHANNEL_MISMATCH, "Invalid From and To pair. From and To should be of the same channel (From is not whatsapp:).");
  }
  if (from && !E164.test(from.address)) {
    return reject(SYNC.FROM_INVALID, `The 'From' number ${p.From} is not a valid WhatsApp sender (whatsapp:+E.164).`);
  }

  const media = (p.MediaUrl ?? []).filter(present);
  if (!present(p.Body) && media.length === 0 && !present(p.ContentSid)) {
    return reject(SYNC.BODY_REQUIRED, 'Message body is required: send Body, MediaUrl or ContentSid.');
  }
  if (present(p.Body) && [...p.Body].length > 1600) {
    return reject(SYNC.BODY_TOO_LONG, 'The concatenated message body exceeds the 1600 character limit (Body).');
  }
  if (media.length > 10) {
    return reject(SYNC.TOO_MANY_MEDIA, `Number of media files exceeds allowed limit: ${media.length} MediaUrl, at most 10.`);
  }
  const badMedia = media.find((u) => !isHttpUrl(u));
  if (badMedia !== undefined) {
    return reject(SYNC.MEDIA_URL_INVALID, `Invalid media URL(s) in MediaUrl: ${badMedia}`);
  }
  if (present(p.ContentVariables)) {
    if (!present(p.ContentSid)) {
      return reject(SYNC.CONTENT_SID_REQUIRED, 'A ContentSid must be specified if ContentVariables are provided in the request.');
    }
    let vars;
    try { vars = JSON.parse(p.ContentVariables); } catch { vars = undefined; }
    if (!vars || typeof vars !== 'object' || Array.isArray(vars)) {
      return reject(SYNC.CONTENT_VARIABLES_INVALID, 'The ContentVariables Parameter is invalid: it must be a JSON object string.');
    }
  }
  if (present(p.StatusCallback)) {
    const why = statusCallbackProblem(p.StatusCallback);
    if (why) return reject(SYNC.STATUS_CALLBACK_INVALID, `The StatusCallback URL ${p.StatusCallback} is not a valid URL (${why}).`);
  }
  return null;
}

// Returns {ok:true, data} with the coerced parameters, or {ok:false, status, code, message}.
export function checkCreateMessage(spec, params) {
  const r = spec.validateCreateParams(params);
  if (!r.ok) return fromSchemaErrors(r.errors, params);
  return whatsappRules(r.data) ?? { ok: true, data: r.data };
}

export const isFreeForm = (p) => !present(p.ContentSid);
export { present };
