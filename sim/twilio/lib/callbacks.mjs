// callbacks.mjs - delivers one signed status callback the way Twilio does: a form POST to the
// exact StatusCallback URL, X-Twilio-Signature computed by the twilio package over that URL (query
// string included, fragment excluded) and the params, honouring Twilio's connection-override
// fragment (#ct=..&rt=..&tt=..&rc=..&rp=..; Twilio's "Webhooks connection overrides" page,
// twilio.com/docs/usage/webhooks/webhooks-connection-overrides). Default: one retry, only when
// the connection failed.
import crypto from 'node:crypto';
import { formBody, sign } from '../webhook.mjs';

export function parseOverrides(rawUrl) {
  const i = rawUrl.indexOf('#');
  const frag = new URLSearchParams(i < 0 ? '' : rawUrl.slice(i + 1));
  const num = (k, def, min, max) => {
    const v = Number(frag.get(k));
    return frag.has(k) && Number.isFinite(v) ? Math.min(max, Math.max(min, v)) : def;
  };
  return {
    url: i < 0 ? rawUrl : rawUrl.slice(0, i),
    rt: num('rt', 15000, 100, 15000),
    tt: num('tt', 15000, 100, 15000),
    rc: num('rc', 1, 0, 5),
    rp: new Set((frag.get('rp') ?? 'ct').split(',').map((s) => s.trim())),
  };
}

function shouldRetry(rp, attempt) {
  if (rp.has('all')) return true;
  if (attempt.kind === 'http') {
    return (attempt.httpStatus >= 500 && rp.has('5xx')) || (attempt.httpStatus >= 400
      && attempt.httpStatus < 500 && rp.has('4xx'));
  }
  return rp.has(attempt.kind); // 'ct' (could not connect) or 'rt' (no answer in time)
}

// POSTs `params` to `rawUrl` (to via(url) when given: the same request, signed for url, sent
// elsewhere); calls onAttempt(record) after each try; returns the last record.
export async function deliverCallback({ rawUrl, authToken, params, signal, via = (u) => u,
  onAttempt = () => {} }) {
  const o = parseOverrides(rawUrl);
  const signature = sign(authToken, o.url, params);
  const postTo = via(o.url);
  // Same token on every retry: that is what lets a receiver deduplicate them.
  const idempotencyToken = crypto.randomUUID();
  const started = Date.now();
  let last;
  for (let n = 1; n <= o.rc + 1; n += 1) {
    const t0 = performance.now();
    const rec = { attempt: n, sentAtMs: performance.timeOrigin + t0, url: o.url, signature,
      idempotencyToken, httpStatus: null, error: null };
    if (postTo !== o.url) rec.postedTo = postTo;
    try {
      const signals = [AbortSignal.timeout(o.rt)];
      if (signal) signals.push(signal);
      const res = await fetch(postTo, {
        method: 'POST',
        redirect: 'manual', // Twilio re-issues redirects as GET without params; we just report them
        headers: {
          'Content-Type': 'application/x-www-form-urlencoded',
          'X-Twilio-Signature': signature,
          'I-Twilio-Idempotency-Token': idempotencyToken,
          'User-Agent': 'TwilioProxy/1.1',
        },
        body: formBody(params),
        signal: AbortSignal.any(signals),
      });
      rec.kind = 'http';
      rec.httpStatus = res.status;
      rec.responseBody = (await res.text()).slice(0, 500);
    } catch (e) {
      rec.kind = e.name === 'TimeoutError' ? 'rt' : 'ct';
      rec.error = e.name === 'TimeoutError' ? `timeout after ${o.rt} ms` : (e.cause?.code ?? e.message);
    }
    rec.durationMs = performance.now() - t0;
    onAttempt(rec);
    last = rec;
    if (signal?.aborted) break;
    const ok = rec.kind === 'http' && rec.httpStatus < 400;
    if (ok || !shouldRetry(o.rp, rec) || Date.now() - started >= o.tt) break;
  }
  return last;
}
