/* wa_send_step.c - the send decision (docs/architecture.md §4); pure. */
#include "wa_send_step.h"

#include <stddef.h>

/* A new round: the first claim, or the claim after a backoff pause. */
static enum wa_send_step start_round(struct wa_send_state *st)
{
    if (!st->paused) return WA_STEP_CLAIM;
    st->paused = 0;
    /* Stopped while backing off: a released row waits in queued, an unreleased one in sending;
     * either way the redelivered command finishes it. */
    if (!st->running) return WA_STEP_LATER;
    /* A released row is claimed like a new one; a row kept in sending (an attempt may have
     * reached the provider) is asked again under the same key. */
    int released = st->released;
    st->released = 0;
    return released ? WA_STEP_CLAIM : WA_STEP_RECLAIM;
}

static enum wa_send_step after_claim(const struct wa_send_policy *p, struct wa_send_state *st)
{
    switch (st->claim) {
    case WA_CLAIM_OK:
        /* Claimed means called: a claimed row left behind would read as in flight later. */
        return WA_STEP_CALL;
    case WA_CLAIM_INFLIGHT:
        /* An earlier attempt ended between claiming and recording: the provider may have it. */
        if (p->dedupes) {
            st->unknown = 1;
            return WA_STEP_RECLAIM; /* the same key: the provider answers with the first send */
        }
        /* No key to ask with: never repeated blind. The provider's list says whether the earlier
         * attempt made the message, once that attempt must have ended (its owner may still be
         * in it: a rebalance hands a command over mid-call); until then, wait. */
        if (!p->reconciles) return WA_STEP_UNKNOWN;
        if (!st->inflight_settled) {
            if (!st->running) return WA_STEP_LATER;
            st->claim = WA_CLAIM_NONE; /* after the wait: claimed again, the row as it is then */
            return WA_STEP_WAIT;
        }
        st->reconciled = 1;
        return WA_STEP_RECONCILE;
    case WA_CLAIM_MOVED:
        /* Queued for the other provider: a failover whose hand-over may have been lost. */
        return p->fails_over ? WA_STEP_HAND_OVER : WA_STEP_SKIP;
    case WA_CLAIM_DONE:
        return WA_STEP_SKIP;
    case WA_CLAIM_MISSING:
    case WA_CLAIM_REFUSED: /* nothing to send either: reported, the offset moves on */
        return WA_STEP_MISSING;
    case WA_CLAIM_RETRY:
    case WA_CLAIM_NONE:
        break;
    }
    return WA_STEP_LATER;
}

enum wa_send_step wa_send_next(const struct wa_send_policy *p, struct wa_send_state *st)
{
    if (st->claim == WA_CLAIM_NONE) return start_round(st);
    if (st->verdict == WA_VERDICT_NONE) return after_claim(p, st);
    if (st->earlier_unknown) st->unknown = 1;
    switch (st->verdict) {
    case WA_VERDICT_SENT:
        return WA_STEP_SENT;
    case WA_VERDICT_FAILED:
        return WA_STEP_FAILED;
    case WA_VERDICT_UNKNOWN:
        if (p->reconciles && !st->reconciled) {
            st->reconciled = 1;
            return WA_STEP_RECONCILE;
        }
        if (!p->dedupes) return WA_STEP_UNKNOWN;
        st->unknown = 1; /* the same key again later: the provider answers with the first send */
        break;
    case WA_VERDICT_DOWN:
        /* Only a message that provably never reached the provider moves, never a forced one,
         * and free-form text only inside the window. */
        if (p->fails_over && !st->unknown && !st->forced)
            return st->window_open ? WA_STEP_FAIL_OVER
                   : st->can_hold  ? WA_STEP_HOLD
                                   : WA_STEP_OUT_OF_WINDOW;
        break;
    case WA_VERDICT_RETRY:
    case WA_VERDICT_NONE:
        break;
    }
    /* In doubt, a provider without our key is never asked again. */
    if (st->unknown && !p->dedupes) return WA_STEP_UNKNOWN;
    /* Not taken this time. Provably unsent rows go back to queued first, so a crash while
     * waiting resends safely (and may still fail over). */
    if (!st->unknown && !st->released) {
        st->released = 1;
        return WA_STEP_RELEASE;
    }
    if (st->attempt >= st->max_attempts) return WA_STEP_GIVE_UP;
    if (!st->running) return WA_STEP_LATER;
    st->claim = WA_CLAIM_NONE;
    st->verdict = WA_VERDICT_NONE;
    st->earlier_unknown = 0;
    st->reconciled = 0;
    st->paused = 1;
    return WA_STEP_BACKOFF;
}

const char *wa_send_step_name(enum wa_send_step s)
{
    static const char *const names[] = {
        [WA_STEP_CLAIM] = "claim",         [WA_STEP_RECLAIM] = "reclaim",
        [WA_STEP_CALL] = "call",           [WA_STEP_RECONCILE] = "reconcile",
        [WA_STEP_WAIT] = "wait",           [WA_STEP_RELEASE] = "release",
        [WA_STEP_BACKOFF] = "backoff",     [WA_STEP_SENT] = "sent",
        [WA_STEP_FAILED] = "failed",       [WA_STEP_UNKNOWN] = "unknown",
        [WA_STEP_GIVE_UP] = "give_up",     [WA_STEP_FAIL_OVER] = "fail_over",
        [WA_STEP_HAND_OVER] = "hand_over", [WA_STEP_OUT_OF_WINDOW] = "out_of_window",
        [WA_STEP_HOLD] = "hold",           [WA_STEP_SKIP] = "skip",
        [WA_STEP_MISSING] = "missing",     [WA_STEP_LATER] = "later",
    };
    return (size_t)s < sizeof names / sizeof names[0] && names[s] ? names[s] : "?";
}
