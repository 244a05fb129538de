// webhook.mjs - builds and posts inbound WhatsApp webhooks exactly as Twilio does: a form body
// signed with X-Twilio-Signature. The signature comes from Twilio's own helper library, so our C
// verifier is always checked against an implementation we did not write.
import crypto from 'node:crypto';
import twilio from 'twilio';

// The simulator's development auth token (scripts/env.sh uses the same value when no real
// token is given): the simulator and the CLI sign with it unless TWILIO_AUTH_TOKEN says otherwise.
export const DEFAULT_AUTH_TOKEN = 'sim-auth-token-not-a-secret';

const hex32 = () => crypto.randomBytes(16).toString('hex');
export const newMessageSid = () => `SM${hex32()}`;
export const newAccountSid = () => `AC${hex32()}`;

// The fields a real WhatsApp inbound carries (twilio.com/docs/messaging/guides/webhook-request),
// plus what the caller adds.
export function inboundParams({ from, to = '+14155238886', body = '', profileName = 'Sim User',
  messageSid = newMessageSid(), accountSid = 'AC00000000000000000000000000000000',
  media = [], extra = {} }) {
  const digits = from.replace(/^\+/, '');
  const p = {
    SmsMessageSid: messageSid,
    NumMedia: String(media.length),
    ProfileName: profileName,
    MessageType: media.length ? media[0].type ?? 'image' : 'text',
    SmsSid: messageSid,
    WaId: digits,
    SmsStatus: 'received',
    Body: body,
    To: `whatsapp:${to}`,
    NumSegments: '1',
    ReferralNumMedia: '0',
    MessageSid: messageSid,
    AccountSid: accountSid,
    From: `whatsapp:${from}`,
    ApiVersion: '2010-04-01',
  };
  media.forEach((m, i) => {
    p[`MediaUrl${i}`] = m.url;
    p[`MediaContentType${i}`] = m.mime;
  });
  return { ...p, ...extra };
}

// The fields of a status callback, as Twilio posts them to a message's StatusCallback
// (twilio.com/docs/messaging/guides/track-outbound-message-status); `from` and `to` are the
// message's own (whatsapp:+...). errorMessage goes with an errorCode only.
export function statusParams({ sid, status, accountSid, from, to, messagingServiceSid,
  errorCode, errorMessage }) {
  const p = {
    MessageSid: sid, MessageStatus: status, SmsSid: sid, SmsStatus: status,
    AccountSid: accountSid, From: from, To: to, ApiVersion: '2010-04-01', ChannelPrefix: 'whatsapp',
  };
  if (messagingServiceSid) p.MessagingServiceSid = messagingServiceSid;
  if (errorCode !== undefined) {
    p.ErrorCode = String(errorCode);
    if (errorMessage) p.ErrorMessage = errorMessage;
  }
  return p;
}

// Form encoding as Twilio sends it: space as '+', repeated keys for arrays.
export function formBody(params) {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    for (const one of Array.isArray(v) ? v : [v]) u.append(k, one);
  }
  return u.toString();
}

export function sign(authToken, url, params) {
  return twilio.getExpectedTwilioSignature(authToken, url, params);
}

export function validate(authToken, signature, url, params) {
  return twilio.validateRequest(authToken, signature, url, params);
}

// Posts a signed webhook. publicUrl is what Twilio would have called (the signed URL);
// targetUrl is where it is actually sent (ingress on loopback).
export async function postWebhook({ targetUrl, publicUrl, authToken, params, signature,
  headers = {} }) {
  const body = formBody(params);
  const sig = signature === undefined ? sign(authToken, publicUrl, params) : signature;
  const h = { 'Content-Type': 'application/x-www-form-urlencoded', ...headers };
  if (sig !== null) h['X-Twilio-Signature'] = sig;
  const res = await fetch(targetUrl, { method: 'POST', headers: h, body });
  const text = await res.text();
  return { status: res.status, body: text, signature: sig };
}
