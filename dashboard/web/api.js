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

/** True for errors a caller should not report: aborted requests and the login redirect. */
export function isQuiet(err) {
  return err instanceof Unauthorized || err?.name === 'AbortError';
}

export const api = {
  leads: (q, cursor, opts) => getJSON('/api/leads', { q, limit: 50, cursor }, opts),
  messages: (leadId, cursor, limit = 50, opts) =>
    getJSON(`/api/leads/${encodeURIComponent(leadId)}/messages`, { limit, cursor }, opts),
  stats: (minutes = 60, opts) => getJSON('/api/stats', { minutes }, opts),
};
