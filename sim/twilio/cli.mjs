#!/usr/bin/env node
// cli.mjs - send a signed inbound WhatsApp message to ingress, as Twilio would.
//   node sim/twilio/cli.mjs inbound --from +14155550100 --body "Hello" [--name "Dana"]
//        [--media https://example.com/a.jpg:image/jpeg] [--sid SM...]
// Environment: INGRESS_URL (default http://127.0.0.1:8080), PUBLIC_BASE_URL (default INGRESS_URL),
// TWILIO_AUTH_TOKEN (default: the simulator's development token, as `make run` uses without one).
import { parseArgs } from 'node:util';
import { inboundParams, postWebhook, newMessageSid, DEFAULT_AUTH_TOKEN } from './webhook.mjs';

const [cmd, ...rest] = process.argv.slice(2);
if (cmd !== 'inbound') {
  console.error('usage: cli.mjs inbound --from +E164 --body TEXT [--name NAME] [--media URL:MIME] [--sid SID]');
  process.exit(64);
}
const { values } = parseArgs({
  args: rest,
  options: {
    from: { type: 'string' }, body: { type: 'string', default: '' }, name: { type: 'string' },
    media: { type: 'string', multiple: true, default: [] }, sid: { type: 'string' },
  },
});
const token = process.env.TWILIO_AUTH_TOKEN || DEFAULT_AUTH_TOKEN;
if (!values.from) { console.error('cli: --from +E164 is required'); process.exit(64); }
const ingress = process.env.INGRESS_URL ?? 'http://127.0.0.1:8080';
const base = process.env.PUBLIC_BASE_URL ?? ingress;
const path = '/api/whatsapp/twilio';
const media = values.media.map((m) => {
  const i = m.lastIndexOf(':');
  return { url: m.slice(0, i), mime: m.slice(i + 1), type: m.slice(i + 1).split('/')[0] };
});
const sid = values.sid ?? newMessageSid();
const params = inboundParams({ from: values.from, body: values.body, profileName: values.name,
  messageSid: sid, media });
const res = await postWebhook({ targetUrl: ingress + path, publicUrl: base.replace(/\/+$/, '') + path,
  authToken: token, params });
console.log(`POST ${path} MessageSid=${sid} -> HTTP ${res.status}${res.body ? ' ' + res.body : ''}`);
process.exit(res.status === 204 ? 0 : 1);
