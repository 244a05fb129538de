// The dashboard's JSON API (same origin, session cookie). Every call goes through getJSON so
// that an expired session anywhere sends the operator to the login page instead of leaving
// a half-working page behind.

/** Thrown after a 401 once the redirect to /login has started; callers just stop. */
export class Unauthorized extends Error {
  constructor() {
    super('session expired');
    this.name = 'Unauthorized';
  }
}

let redirecting = false;

export function goToLogin() {
  // Several requests may fail at once (leads, timeline, stats); navigate only once.
  if (redirecting) return;
  redirecting = true;
  window.location.assign('/login');
}

/**
 * GET `path` with query `params` (null/undefined/"" values are left out, so a missing cursor
 * means "first page"). Resolves to the parsed JSON; rejects with Unauthorized after a 401,
 * with an AbortError when `signal` aborts, with an Error for anything else.
 */
export async function getJSON(path, params = {}, { signal } = {}) {
  const url = new URL(path, window.location.origin);
  for (const [key, value] of Object.entries(params)) {
    if (value !== null && value !== undefined && value !== '') url.searchParams.set(key, String(value));
  }
  const res = await fetch(url, {
    credentials: 'same-origin',
    headers: { Accept: 'application/json' },
    cache: 'no-store',
    signal,
  });
  if (res.status === 401) {
    goToLogin();
    throw new Unauthorized();
  }
  if (!res.ok) {
    // The API explains refusals as {"message": "…"}; show that rather than a bare status.
    const body = await res.json().catch(() => null);
    const reason = typeof body?.message === 'string' ? `: ${body.message}` : '';
    throw new Error(`${url.pathname}: HTTP ${res.status}${reason}`);
  }
  return res.json();
}

/**
 * POST `body` as JSON to `path`. A change from the page carries X-WA-Dashboard: 1, the header the
 * server asks of every POST made with the session cookie (a form or a script on another site
 * cannot send it). Resolves to {status, body} for any answer but 401 (the caller tells the
 * operator what the API said); rejects with Unauthorized after a 401 and with a TypeError when
 * the request did not get an answer.
 */
export async function postJSON(path, body) {
  const res = await fetch(new URL(path, window.location.origin), {
    method: 'POST',
    credentials: 'same-origin',
    headers: { Accept: 'application/json', 'Content-Type': 'application/json', 'X-WA-Dashboard': '1' },
    cache: 'no-store',
    body: JSON.stringify(body),
  });
  if (res.status === 401) {
    goToLogin();
    throw new Unauthorized();
  }
  return { status: res.status, body: await res.json().catch(() => null) };
}

/**
 * POST a file to `path` as the body, with its type and the reply's idempotency key (the server
 * stores one file per key: a second click uploads nothing new). Resolves to {status, body} like
 * postJSON; rejects with Unauthorized after a 401 and with a TypeError without an answer.
 */
export async function postFile(path, file, key) {
  const res = await fetch(new URL(path, window.location.origin), {
    method: 'POST',
    credentials: 'same-origin',
    headers: {
      Accept: 'application/json',
      'Content-Type': file.type || 'application/octet-stream',
      'Idempotency-Key': key,
      'X-File-Name': encodeURIComponent(file.name ?? ''), // a document keeps its name
      'X-WA-Dashboard': '1',
    },
    cache: 'no-store',
    body: file,
  });
  if (res.status === 401) {
    goToLogin();
    throw new Unauthorized();
  }
  return { status: res.status, body: await res.json().catch(() => null) };
}

/** True for errors a caller should not report: aborted requests and the login redirect. */
export function isQuiet(err) {
  return err instanceof Unauthorized || err?.name === 'AbortError';
}

export const api = {
  leads: (q, cursor, opts) => getJSON('/api/leads', { q, limit: 50, cursor }, opts),
  messages: (leadId, cursor, limit = 50, opts) =>
    getJSON(`/api/leads/${encodeURIComponent(leadId)}/messages`, { limit, cursor }, opts),
  stats: (minutes = 60, opts) => getJSON('/api/stats', { minutes }, opts),
  templates: (opts) => getJSON('/api/templates', {}, opts),
  preview: (leadId, { kind, channel, template }, opts) =>
    getJSON(`/api/leads/${encodeURIComponent(leadId)}/preview`, { kind, channel, template }, opts),
  reply: (leadId, body) => postJSON(`/api/leads/${encodeURIComponent(leadId)}/reply`, body),
  upload: (leadId, file, key) => postFile(`/api/leads/${encodeURIComponent(leadId)}/media`, file, key),
};
