// gen_requests.mjs - writes N signed Twilio webhooks (unique MessageSids) for wrk: one
// "signature<TAB>form body" line each.
// Signatures come from Twilio's own library, as in the tests.
import { inboundParams, formBody, sign, newMessageSid } from '../sim/twilio/webhook.mjs';

const n = Number(process.argv[2] ?? 20000);
const url = process.env.PUBLIC_BASE_URL.replace(/\/+$/, '') + '/api/whatsapp/twilio';
const token = process.env.TWILIO_AUTH_TOKEN;
const out = [];
for (let i = 0; i < n; i++) {
  // Spread over 1000 contacts, so the load uses every partition.
  const phone = `+1555${String(2000000 + (i % 1000)).padStart(7, '0')}`;
  const params = inboundParams({ from: phone, body: `bench message ${i}`, messageSid: newMessageSid() });
  out.push(`${sign(token, url, params)}\t${formBody(params)}`);
}
process.stdout.write(out.join('\n') + '\n');
