// Capped exponential backoff with "equal jitter": half fixed, half random,
// so retries spread out but never collapse to zero.
export function backoffDelay(attempt, { baseMs = 1000, maxMs = 60000, random = Math.random } = {}) {
  const exp = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt));
  return Math.round(exp / 2 + random() * (exp / 2));
}
