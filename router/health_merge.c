/* health_merge.c - one channel's health from its instances' reports (docs/architecture.md §3.3).
 * Pure: no I/O, no clock; tests/unit/test_health_merge.c holds the cases. */
#include "health_merge.h"
#include "wa_form.h"

#include <stdio.h>
#include <string.h>

static int64_t max64(int64_t a, int64_t b)
{
    return a > b ? a : b;
}

static int find(const struct rtr_channel *c, const char *instance)
{
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->reports[i].instance, instance) == 0) return (int)i;
    return -1;
}

/* When a report stops counting on its own: stale_ms after its check. Saturates instead of
 * overflowing for a check far in the future. */
static int64_t stale_at(const struct rtr_report *r, int64_t stale_ms)
{
    return r->checked_ms > INT64_MAX - stale_ms ? INT64_MAX : r->checked_ms + stale_ms;
}

/* Removes report i, keeping the order (ties in the rule go to the earlier report, the same in
 * every router) and remembering when it stopped counting. */
static void drop(struct rtr_channel *c, size_t i, int64_t gone_at)
{
    c->gone_ms = max64(c->gone_ms, gone_at);
    if (!c->reports[i].up) c->down_gone_ms = max64(c->down_gone_ms, gone_at);
    memmove(&c->reports[i], &c->reports[i + 1], (c->n - i - 1) * sizeof c->reports[0]);
    c->n--;
}

void rtr_channel_put(struct rtr_channel *c, const struct rtr_report *r)
{
    int i = find(c, r->instance);
    if (i >= 0) {
        c->reports[i] = *r;
        return;
    }
    if (c->n == RTR_HEALTH_INSTANCES) {
        size_t oldest = 0;
        for (size_t k = 1; k < c->n; k++)
            if (c->reports[k].checked_ms < c->reports[oldest].checked_ms) oldest = k;
        drop(c, oldest, c->reports[oldest].checked_ms);
    }
    c->reports[c->n++] = *r;
}

void rtr_channel_forget(struct rtr_channel *c, const char *instance, int64_t at_ms,
                        int64_t stale_ms)
{
    int i = find(c, instance);
    if (i < 0) return;
    int64_t stale = stale_at(&c->reports[i], stale_ms);
    drop(c, (size_t)i, stale < at_ms ? stale : at_ms);
}

static int fresh(const struct rtr_report *r, int64_t now_ms, int64_t stale_ms)
{
    return r->checked_ms > now_ms - stale_ms && r->checked_ms < now_ms + stale_ms;
}

struct rtr_merged rtr_channel_merge(const struct rtr_channel *c, int64_t now_ms, int64_t stale_ms)
{
    struct rtr_merged m = {RTR_HEALTH_UNKNOWN, c->gone_ms, -1, 0};
    int down = -1, up = -1;
    int64_t down_gone = c->down_gone_ms;
    for (size_t i = 0; i < c->n; i++) {
        const struct rtr_report *r = &c->reports[i];
        if (fresh(r, now_ms, stale_ms)) {
            m.live++;
            if (!r->up && (down < 0 || r->since_ms < c->reports[down].since_ms)) down = (int)i;
            if (r->up && (up < 0 || r->since_ms > c->reports[up].since_ms)) up = (int)i;
        } else if (r->checked_ms <= now_ms) {
            /* Stale: it stopped counting stale_ms after its last check. (One from the future
             * has not begun to count.) */
            m.since_ms = max64(m.since_ms, r->checked_ms + stale_ms);
            if (!r->up) down_gone = max64(down_gone, r->checked_ms + stale_ms);
        }
    }
    if (down >= 0) {
        m.state = RTR_HEALTH_DOWN;
        m.cause = down;
        m.since_ms = c->reports[down].since_ms;
    } else if (up >= 0) {
        m.state = RTR_HEALTH_UP;
        m.cause = up;
        m.since_ms = max64(c->reports[up].since_ms, down_gone);
    }
    return m;
}

int rtr_health_changed(const struct rtr_merged *prev, int have_prev, struct rtr_merged *next)
{
    if (!have_prev) return next->state != RTR_HEALTH_UNKNOWN || next->since_ms > 0;
    if (next->state == prev->state) return 0;
    if (next->since_ms <= prev->since_ms) next->since_ms = prev->since_ms + 1;
    return 1;
}

const char *rtr_health_name(enum rtr_health s)
{
    return s == RTR_HEALTH_UP ? "UP" : s == RTR_HEALTH_DOWN ? "DOWN" : "UNKNOWN";
}

void rtr_health_describe(const struct rtr_channel *c, const struct rtr_merged *m, char *out,
                         size_t outsz)
{
    char text[RTR_HEALTH_REASON + 128];
    if (m->cause < 0 || (size_t)m->cause >= c->n) {
        snprintf(text, sizeof text, "no live report from any instance");
    } else {
        const struct rtr_report *r = &c->reports[m->cause];
        const char *who = r->instance[0] ? r->instance : "(unnamed)";
        if (m->state == RTR_HEALTH_DOWN)
            snprintf(text, sizeof text, "%s [instance %s]", r->reason, who);
        else
            snprintf(text, sizeof text, "%s [all %d live instances UP]", r->reason, m->live);
    }
    /* snprintf may have cut inside a character of the reason. */
    wa_utf8_copy(out, outsz, text);
}
