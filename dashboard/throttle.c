/* throttle.c - login throttling per client address: after DASH_LOGIN_FAILURES wrong tokens
 * within DASH_LOGIN_WINDOW_MS, that address may not try again until the window has passed
 * since its last failure. Pure apart from its lock; table-tested in tests/unit/test_dashboard.c.
 * A guess at the token costs a request either way; this makes guessing take years, not days. */
#include "dash.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define SLOTS 512 /* addresses remembered; the one failed longest ago makes room */

static struct slot {
    char ip[48];
    int failures;
    int64_t first_ms, last_ms;
} slots[SLOTS];
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

static struct slot *find(const char *ip)
{
    for (int i = 0; i < SLOTS; i++)
        if (slots[i].ip[0] && strcmp(slots[i].ip, ip) == 0) return &slots[i];
    return NULL;
}

int64_t dash_login_wait_ms(const char *ip, int64_t now_ms)
{
    pthread_mutex_lock(&mu);
    struct slot *s = find(ip ? ip : "");
    int64_t wait = 0;
    if (s && s->failures >= DASH_LOGIN_FAILURES) {
        int64_t until = s->last_ms + DASH_LOGIN_WINDOW_MS;
        wait = until > now_ms ? until - now_ms : 0;
    }
    pthread_mutex_unlock(&mu);
    return wait;
}

void dash_login_failed(const char *ip, int64_t now_ms)
{
    pthread_mutex_lock(&mu);
    struct slot *s = find(ip ? ip : "");
    if (!s) {
        s = &slots[0];
        for (int i = 0; i < SLOTS; i++) {
            if (!slots[i].ip[0]) {
                s = &slots[i];
                break;
            }
            if (slots[i].last_ms < s->last_ms) s = &slots[i];
        }
        memset(s, 0, sizeof *s);
        snprintf(s->ip, sizeof s->ip, "%s", ip ? ip : "");
    }
    /* A failure long after the previous run starts a new one. */
    if (s->failures && now_ms - s->last_ms >= DASH_LOGIN_WINDOW_MS) s->failures = 0;
    if (!s->failures) s->first_ms = now_ms;
    s->failures++;
    s->last_ms = now_ms;
    pthread_mutex_unlock(&mu);
}

void dash_login_succeeded(const char *ip)
{
    pthread_mutex_lock(&mu);
    struct slot *s = find(ip ? ip : "");
    if (s) memset(s, 0, sizeof *s);
    pthread_mutex_unlock(&mu);
}

void dash_login_reset(void)
{
    pthread_mutex_lock(&mu);
    memset(slots, 0, sizeof slots);
    pthread_mutex_unlock(&mu);
}
