/* wa_backoff.h - the retry schedule every service shares: exponential, capped, jittered; pure. */
#ifndef WA_BACKOFF_H
#define WA_BACKOFF_H

#include <stdint.h>

/* The pause before retry number `retry` (1 after the first failure):
 * base, 2×base, 4×base … up to cap, then spread by ±jitter (a fraction, e.g.
 * 0.2) using r in [0, 1), and never above cap. Pure: the caller supplies r. */
int64_t wa_backoff_ms(int retry, int64_t base_ms, int64_t cap_ms, double jitter, double r);

/* The pause before a retry: the schedule above (±20 % jitter), or the
 * server's own Retry-After hint (hint_ms, 0 when none) when that is longer,
 * never above cap. */
int64_t wa_backoff_pause(int retry, int64_t base_ms, int64_t cap_ms, int64_t hint_ms);

/* A uniform random number in [0, 1) for jitter (not for secrets). */
double wa_jitter_random(void);

#endif
