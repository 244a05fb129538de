// phone.mjs - WhatsApp channel addresses ("whatsapp:+E164") and the plain E.164 numbers the /sim
// endpoints use as scope keys.

export const E164 = /^\+[1-9]\d{1,14}$/;

// Splits "whatsapp:+1555..." into its channel prefix and address; a plain number has channel null.
export function splitAddress(value) {
  const m = /^([A-Za-z][A-Za-z0-9-]*):(.*)$/.exec(value ?? '');
  return m ? { channel: m[1].toLowerCase(), address: m[2] } : { channel: null, address: value ?? '' };
}

// The E.164 part of a WhatsApp address ("whatsapp:+1555" -> "+1555"), or null when it is not one.
export function whatsappNumber(value) {
  const { channel, address } = splitAddress(value);
  return channel === 'whatsapp' && E164.test(address) ? address : null;
}

// Normalises a user-supplied scope key ("whatsapp:+1555", "+1555", or " 1555" when a test forgot
// to percent-encode '+' in a query string) to "+1555"; returns null for nothing.
export function scopeKey(value) {
  if (value === undefined || value === null || value === '') return null;
  let v = String(value).trim();
  if (v.toLowerCase().startsWith('whatsapp:')) v = v.slice('whatsapp:'.length);
  if (/^\d/.test(v)) v = `+${v}`;
  return v;
}

// The spec's custom "phone-number" format covers every sender/recipient form Twilio documents for
// that field: E.164, a channel address (whatsapp:+..., messenger:...), a short code, or an
// alphanumeric sender ID. The stricter WhatsApp rules are applied after the spec check.
export function isPhoneNumberLike(value) {
  if (E164.test(value)) return true;
  const { channel, address } = splitAddress(value);
  if (channel) return address.length > 0;
  if (/^\d{3,8}$/.test(value)) return true;
  return /^(?=.*[A-Za-z])[A-Za-z0-9 ]{1,11}$/.test(value);
}
