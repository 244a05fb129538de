/* wa_backoff.c - the retry schedule: exponential with a cap and jitter. */
#include "wa_backoff.h"

#include <stdlib.h>
#include <time.h>

int64_t wa_backoff_ms(int retry, int64_t base_ms, int64_t cap_ms, double jitter, double r)
{
    if (retry < 1) retry = 1;
    int64_t d = base_ms;
    for (int i = 1; i < retry && d < cap_ms; i++)
        d *= 2;
    if (d > cap_ms) d = cap_ms;
    /* Jitter spreads the retries of many senders hit by the same storm. */
    double j = (double)d * (1.0 + jitter * (2.0 * r - 1.0));
    if (j > (double)cap_ms) j = (double)cap_ms;
    if (j < 0) j = 0;
    return (int64_t)j;
}

double wa_jitter_random(void)
{
    static _Thread_local unsigned short seed[3];
    static _Thread_local int seeded;
    if (!seeded) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        seed[0] = (unsigned short)ts.tv_nsec;
        seed[1] = (unsigned short)(ts.tv_nsec >> 16);
        seed[2] = (unsigned short)ts.tv_sec;
        seeded = 1;
    }
    return erand48(seed);
}

int64_t wa_backoff_pause(int retry, int64_t base_ms, int64_t cap_ms, int64_t hint_ms)
{
    int64_t pause = wa_backoff_ms(retry, base_ms, cap_ms, 0.2, wa_jitter_random());
    if (hint_ms > pause) pause = hint_ms < cap_ms ? hint_ms : cap_ms;
    return pause;
}
