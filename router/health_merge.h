/* health_merge.h - one channel's health from the reports of every prober instance
 * (docs/architecture.md §3.3): the rule as pure functions, table-tested in
 * tests/unit/test_health_merge.c. */
#ifndef ROUTER_HEALTH_MERGE_H
#define ROUTER_HEALTH_MERGE_H

#include <stddef.h>
#include <stdint.h>

#include "wa_health.h"

#define RTR_HEALTH_INSTANCES 32 /* instances remembered per channel; the stalest goes first */
#define RTR_HEALTH_REASON 256

enum rtr_health { RTR_HEALTH_UNKNOWN = 0, RTR_HEALTH_DOWN, RTR_HEALTH_UP };

/* One instance's latest word on the channel. */
struct rtr_report {
    char instance[WA_HEALTH_ID_MAX + 1]; /* "": a record of the old format, one anonymous prober */
    int up;
    int64_t since_ms;   /* when this instance's state began */
    int64_t checked_ms; /* its latest probe (or failed send) */
    char reason[RTR_HEALTH_REASON];
};

/* What a router knows of one channel. */
struct rtr_channel {
    struct rtr_report reports[RTR_HEALTH_INSTANCES]; /* in order of first appearance */
    size_t n;
    /* The latest moment a report that left the table stopped counting: of any report, and of
     * a DOWN one. They keep the start of the next state from going back before it. */
    int64_t gone_ms, down_gone_ms;
};

struct rtr_merged {
    enum rtr_health state;
    int64_t since_ms; /* when the state began, from the reports alone (see rtr_channel_merge) */
    int cause;        /* index of the report that decides it; -1 for UNKNOWN */
    int live;         /* fresh reports */
};

/* The instance's report replaces its previous one (records of one key arrive in order). A new
 * instance in a full table pushes out the one checked longest ago, as if it left then. */
void rtr_channel_put(struct rtr_channel *c, const struct rtr_report *r);

/* The instance left (its tombstone, at at_ms): it is forgotten. Its report stopped counting at
 * at_ms, or earlier when it was stale by then. Unknown instances are ignored. */
void rtr_channel_forget(struct rtr_channel *c, const char *instance, int64_t at_ms,
                        int64_t stale_ms);

/* The rule. A report is fresh when checked within stale_ms of now (either side: a clock far
 * ahead is no evidence either). Over the fresh reports:
 *   DOWN    if any says DOWN; since the earliest start among the DOWN ones;
 *   UP      if there is at least one and all say UP; since the latest start among them, and
 *           not before a DOWN report that stopped counting (left or went stale);
 *   UNKNOWN with none; since the latest moment a report stopped counting (0: never any). */
struct rtr_merged rtr_channel_merge(const struct rtr_channel *c, int64_t now_ms, int64_t stale_ms);

/* Whether next is a change to record after prev (have_prev 0: nothing seen yet). A change is a
 * new state; a first state is one unless it is UNKNOWN with no report ever. A change starts
 * after the previous one (by 1 ms at least), so a timeline never goes back and no change is
 * taken for a repeat of an earlier one: next->since_ms may be moved for that. */
int rtr_health_changed(const struct rtr_merged *prev, int have_prev, struct rtr_merged *next);

/* The merged state in words, for the log, the event and provider_health.reason. */
void rtr_health_describe(const struct rtr_channel *c, const struct rtr_merged *m, char *out,
                         size_t outsz);

const char *rtr_health_name(enum rtr_health s); /* "UP", "DOWN", "UNKNOWN" */

#endif
