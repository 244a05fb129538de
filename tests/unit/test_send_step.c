/* test_send_step.c - the send decision, table-driven: each row is one command's story, the
 * answers the CRM and the provider give in order, and the steps the sender must take. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "wa_send_step.h"

static const struct wa_send_policy TWILIO = {.dedupes = 0, .reconciles = 1, .fails_over = 0};
static const struct wa_send_policy BAILEYS = {.dedupes = 1, .reconciles = 0, .fails_over = 1};

struct row {
    const char *name;
    const struct wa_send_policy *p;
    int forced, window_open, max_attempts;
    int stop_after_call; /* the process is told to stop right after this call (0: never) */
    int stop_in_pause;   /* ... or during this backoff pause (0: never) */
    /* Consumed in order by the steps that ask: claims (ok inflight moved done missing refused away;
     * inflight~ is one claimed too recently for its attempt to have surely ended) for
     * claim and reclaim; verdicts (sent retry down down! unknown failed) for call and
     * reconcile; "down!" is down with the bridge's doubt about an earlier attempt. */
    const char *answers;
    const char *want; /* the steps, the final one last */
    int want_unknown; /* at the end: an attempt may have reached the provider */
};

static const struct row rows[] = {
    /* Twilio: no key, so nothing unclear is ever repeated blind. */
    {"twilio sends", &TWILIO, 1, 1, 3, 0, 0, "ok sent", "claim call sent", 0},
    {"twilio refused", &TWILIO, 1, 1, 3, 0, 0, "ok failed", "claim call failed", 0},
    {"twilio 429 then sent", &TWILIO, 1, 1, 3, 0, 0, "ok retry ok sent",
     "claim call release backoff claim call sent", 0},
    {"twilio gives up", &TWILIO, 1, 1, 2, 0, 0, "ok retry ok retry",
     "claim call release backoff claim call release give_up", 0},
    {"twilio stopped while backing off", &TWILIO, 1, 1, 3, 0, 1, "ok retry",
     "claim call release backoff later", 0},
    {"twilio stopped after a 503", &TWILIO, 1, 1, 3, 1, 0, "ok retry", "claim call release later",
     0},
    {"twilio 502, its list has it", &TWILIO, 1, 1, 3, 0, 0, "ok unknown sent",
     "claim call reconcile sent", 0},
    {"twilio 502, its list has not", &TWILIO, 1, 1, 3, 0, 0, "ok unknown retry ok sent",
     "claim call reconcile release backoff claim call sent", 0},
    {"twilio 502, its list unreadable", &TWILIO, 1, 1, 3, 0, 0, "ok unknown unknown",
     "claim call reconcile unknown", 0},
    {"twilio 502 each round, reconciled each time", &TWILIO, 1, 1, 3, 0, 0,
     "ok unknown retry ok unknown sent",
     "claim call reconcile release backoff claim call reconcile sent", 0},
    /* Found mid-send (its owner was killed, or is still in it: a rebalance moved the command):
     * once that attempt must have ended, Twilio's list says whether it made the message. */
    {"twilio found mid-send, its list has it", &TWILIO, 1, 1, 3, 0, 0, "inflight sent",
     "claim reconcile sent", 0},
    {"twilio found mid-send, its list has not: sent now", &TWILIO, 1, 1, 3, 0, 0,
     "inflight retry ok sent", "claim reconcile release backoff claim call sent", 0},
    {"twilio found mid-send, its list unreadable", &TWILIO, 1, 1, 3, 0, 0, "inflight unknown",
     "claim reconcile unknown", 0},
    {"twilio found mid-send just now: wait, its owner concluded", &TWILIO, 1, 1, 3, 0, 0,
     "inflight~ done", "claim wait claim skip", 0},
    {"twilio found mid-send just now: wait, its owner released it", &TWILIO, 1, 1, 3, 0, 0,
     "inflight~ ok sent", "claim wait claim call sent", 0},
    {"twilio found mid-send just now, still so after the wait", &TWILIO, 1, 1, 3, 0, 0,
     "inflight~ inflight sent", "claim wait claim reconcile sent", 0},
    {"twilio row is baileys'", &TWILIO, 1, 1, 3, 0, 0, "moved", "claim skip", 0},
    {"twilio already done", &TWILIO, 1, 1, 3, 0, 0, "done", "claim skip", 0},
    {"twilio no such message", &TWILIO, 1, 1, 3, 0, 0, "missing", "claim missing", 0},
    {"twilio claim refused by the CRM", &TWILIO, 1, 1, 3, 0, 0, "refused", "claim missing", 0},
    {"twilio CRM away", &TWILIO, 1, 1, 3, 0, 0, "away", "claim later", 0},
    {"twilio CRM away at the second claim", &TWILIO, 1, 1, 3, 0, 0, "ok retry away",
     "claim call release backoff claim later", 0},

    /* Baileys: the bridge dedupes on our key; only a provably unsent message moves. */
    {"baileys sends", &BAILEYS, 0, 1, 3, 0, 0, "ok sent", "claim call sent", 0},
    {"baileys down: fail over", &BAILEYS, 0, 1, 3, 0, 0, "ok down", "claim call fail_over", 0},
    {"baileys down, window closed", &BAILEYS, 0, 0, 3, 0, 0, "ok down", "claim call out_of_window",
     0},
    {"baileys down, forced: retried", &BAILEYS, 1, 1, 3, 0, 0, "ok down ok sent",
     "claim call release backoff claim call sent", 0},
    {"baileys down, forced, gives up", &BAILEYS, 1, 1, 2, 0, 0, "ok down ok down",
     "claim call release backoff claim call release give_up", 0},
    {"baileys 429 then down: fail over", &BAILEYS, 0, 1, 3, 0, 0, "ok retry ok down",
     "claim call release backoff claim call fail_over", 0},
    {"baileys down, earlier attempt in doubt: same key", &BAILEYS, 0, 1, 3, 0, 0,
     "ok down! ok sent", "claim call backoff reclaim call sent", 1},
    {"baileys found mid-send, then down: never moved", &BAILEYS, 0, 1, 3, 0, 0,
     "inflight ok down ok sent", "claim reclaim call backoff reclaim call sent", 1},
    {"baileys found mid-send, CRM away", &BAILEYS, 0, 1, 3, 0, 0, "inflight away",
     "claim reclaim later", 1},
    {"baileys timeout then down: never moved", &BAILEYS, 0, 1, 4, 0, 0,
     "ok unknown ok down ok sent", "claim call backoff reclaim call backoff reclaim call sent", 1},
    {"baileys unknown to the end", &BAILEYS, 0, 1, 2, 0, 0, "ok unknown ok unknown",
     "claim call backoff reclaim call give_up", 1},
    {"baileys stopped while backing off, in doubt", &BAILEYS, 0, 1, 3, 0, 1, "ok unknown",
     "claim call backoff later", 1},
    {"baileys stopped while backing off, unsent", &BAILEYS, 1, 1, 3, 0, 1, "ok retry",
     "claim call release backoff later", 0},
    {"baileys moved already: hand over again", &BAILEYS, 0, 1, 3, 0, 0, "moved", "claim hand_over",
     0},
    {"baileys refused", &BAILEYS, 0, 1, 3, 0, 0, "ok failed", "claim call failed", 0},
    {"baileys done", &BAILEYS, 0, 1, 3, 0, 0, "done", "claim skip", 0},
};

static enum wa_claim claim_of(const char *t)
{
    static const struct {
        const char *word;
        enum wa_claim c;
    } m[] = {{"ok", WA_CLAIM_OK},
             {"inflight", WA_CLAIM_INFLIGHT},
             {"inflight~", WA_CLAIM_INFLIGHT},
             {"moved", WA_CLAIM_MOVED},
             {"done", WA_CLAIM_DONE},
             {"missing", WA_CLAIM_MISSING},
             {"refused", WA_CLAIM_REFUSED},
             {"away", WA_CLAIM_RETRY}};
    for (size_t i = 0; i < sizeof m / sizeof m[0]; i++)
        if (strcmp(t, m[i].word) == 0) return m[i].c;
    fail_msg("not a claim answer: %s", t);
    return WA_CLAIM_NONE;
}

static enum wa_verdict verdict_of(const char *t, int *doubt)
{
    static const struct {
        const char *word;
        enum wa_verdict v;
    } m[] = {{"sent", WA_VERDICT_SENT},       {"retry", WA_VERDICT_RETRY},
             {"down", WA_VERDICT_DOWN},       {"down!", WA_VERDICT_DOWN},
             {"unknown", WA_VERDICT_UNKNOWN}, {"failed", WA_VERDICT_FAILED}};
    *doubt = strcmp(t, "down!") == 0;
    for (size_t i = 0; i < sizeof m / sizeof m[0]; i++)
        if (strcmp(t, m[i].word) == 0) return m[i].v;
    fail_msg("not a verdict: %s", t);
    return WA_VERDICT_NONE;
}

static int final(enum wa_send_step s)
{
    return s >= WA_STEP_SENT;
}

/* Plays one row the way wa_send_drive does its I/O, the CRM counting attempts. */
static void play(const struct row *r, int can_hold)
{
    char answers[256], got[512] = "";
    snprintf(answers, sizeof answers, "%s", r->answers);
    char *save = NULL, *next = strtok_r(answers, " ", &save);
    struct wa_send_state st = {.max_attempts = r->max_attempts,
                               .forced = r->forced,
                               .window_open = r->window_open,
                               .can_hold = can_hold,
                               .running = 1};
    int crm_attempts = 0, calls = 0, pauses = 0;
    for (int guard = 0; guard < 64; guard++) {
        enum wa_send_step s = wa_send_next(r->p, &st);
        strcat(got, got[0] ? " " : "");
        strcat(got, wa_send_step_name(s));
        if (final(s)) break;
        switch (s) {
        case WA_STEP_CLAIM:
        case WA_STEP_RECLAIM:
            if (!next) fail_msg("%s: out of answers at %s", r->name, got);
            st.claim = claim_of(next);
            st.inflight_settled = strcmp(next, "inflight~") != 0;
            next = strtok_r(NULL, " ", &save);
            if (st.claim == WA_CLAIM_INFLIGHT) crm_attempts = 1;
            if (st.claim == WA_CLAIM_OK) st.attempt = ++crm_attempts;
            break;
        case WA_STEP_CALL:
        case WA_STEP_RECONCILE:
            if (!next) fail_msg("%s: out of answers at %s", r->name, got);
            st.verdict = verdict_of(next, &st.earlier_unknown);
            next = strtok_r(NULL, " ", &save);
            if (s == WA_STEP_CALL && ++calls == r->stop_after_call) st.running = 0;
            break;
        case WA_STEP_BACKOFF:
            if (++pauses == r->stop_in_pause) st.running = 0;
            break;
        default:
            break;
        }
    }
    print_message("%-48s %s\n", r->name, got);
    if (strcmp(got, r->want) != 0) fail_msg("%s:\n  want %s\n  got  %s", r->name, r->want, got);
    if (next) fail_msg("%s: answers left over from %s", r->name, next);
    assert_int_equal(st.unknown, r->want_unknown);
}

static void test_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        play(&rows[i], 0);
}

/* With re-engagement on, a provably unsent Baileys message that Twilio may not carry as free
 * text is held for Twilio instead of failed; nothing else changes. */
static const struct row hold_rows[] = {
    {"baileys down, window closed: held", &BAILEYS, 0, 0, 3, 0, 0, "ok down", "claim call hold", 0},
    {"baileys down, window open: still fails over", &BAILEYS, 0, 1, 3, 0, 0, "ok down",
     "claim call fail_over", 0},
    {"baileys down in doubt: never held, same key", &BAILEYS, 0, 0, 3, 0, 0, "ok down! ok sent",
     "claim call backoff reclaim call sent", 1},
    {"baileys down, forced: retried, not held", &BAILEYS, 1, 0, 3, 0, 0, "ok down ok sent",
     "claim call release backoff claim call sent", 0},
    {"twilio never holds", &TWILIO, 1, 0, 3, 0, 0, "ok retry ok sent",
     "claim call release backoff claim call sent", 0},
};

static void test_hold(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof hold_rows / sizeof hold_rows[0]; i++)
        play(&hold_rows[i], 1);
}

/* Whatever the answers: a message that may have reached Baileys is never moved to Twilio nor
 * released to be claimed as new; Twilio is never called again once an attempt is in doubt that
 * its list did not settle; no more calls than attempts allowed; every story ends. */
static void test_invariants(void **state)
{
    (void)state;
    static const enum wa_claim claims[] = {WA_CLAIM_OK, WA_CLAIM_INFLIGHT, WA_CLAIM_RETRY};
    static const enum wa_verdict verdicts[] = {WA_VERDICT_SENT, WA_VERDICT_RETRY, WA_VERDICT_DOWN,
                                               WA_VERDICT_UNKNOWN, WA_VERDICT_FAILED};
    const struct wa_send_policy *ps[] = {&TWILIO, &BAILEYS};
    int stories = 0;
    /* The first claim's answer, then up to six answers from the provider, each in base 5;
     * with and without the bridge's doubt on a down answer, forced or not, the failover
     * number's window open or not, re-engagement on or not. */
    for (int pi = 0; pi < 2; pi++)
        for (int seq = 0; seq < 3 * 5 * 5 * 5 * 5 * 5 * 5; seq++)
            for (int flags = 0; flags < 32; flags++) {
                const struct wa_send_policy *p = ps[pi];
                struct wa_send_state st = {.max_attempts = 3,
                                           .window_open = !(flags & 4),
                                           .can_hold = flags & 8,
                                           .running = 1,
                                           .forced = flags & 2};
                int x = seq, first = 1, doubt = 0, steps = 0, calls = 0;
                enum wa_send_step s, prev = WA_STEP_LATER;
                while (!final(s = wa_send_next(p, &st))) {
                    assert_true(++steps < 40);
                    /* Twilio waits out an attempt found in flight before anything else. */
                    if (prev == WA_STEP_CLAIM && st.claim == WA_CLAIM_INFLIGHT && !p->dedupes)
                        assert_true(st.inflight_settled ? s == WA_STEP_RECONCILE
                                                        : s == WA_STEP_WAIT);
                    if (s == WA_STEP_CALL) assert_false(doubt && !p->dedupes);
                    if (s == WA_STEP_RELEASE) assert_false(doubt);
                    if (s == WA_STEP_CLAIM || s == WA_STEP_RECLAIM) {
                        /* After a wait, the owner of the attempt in flight has released the
                         * row (queued again: it provably did not send). */
                        if (prev == WA_STEP_WAIT) doubt = 0;
                        st.claim = first ? claims[x % 3] : WA_CLAIM_OK;
                        st.inflight_settled = !!(flags & 16);
                        if (first) x /= 3;
                        first = 0;
                        if (st.claim == WA_CLAIM_INFLIGHT) doubt = 1;
                        if (st.claim == WA_CLAIM_OK) st.attempt++;
                    } else if (s == WA_STEP_CALL || s == WA_STEP_RECONCILE) {
                        st.verdict = verdicts[x % 5];
                        x /= 5;
                        st.earlier_unknown = (flags & 1) && st.verdict == WA_VERDICT_DOWN;
                        if (st.earlier_unknown) doubt = 1;
                        /* Twilio's doubt stands only if its list could not settle it. */
                        if (st.verdict == WA_VERDICT_UNKNOWN &&
                            (p->dedupes || s == WA_STEP_RECONCILE))
                            doubt = 1;
                        /* ... and a definite answer from the list settles it. */
                        if (s == WA_STEP_RECONCILE && st.verdict != WA_VERDICT_UNKNOWN) doubt = 0;
                        if (s == WA_STEP_CALL) calls++;
                    }
                    prev = s;
                }
                stories++;
                if (s == WA_STEP_FAIL_OVER || s == WA_STEP_OUT_OF_WINDOW || s == WA_STEP_HOLD) {
                    assert_true(p->fails_over);
                    assert_false(doubt);
                    assert_false(st.forced);
                }
                /* Free text moves only where a window is open, else held (when it may be) or
                 * failed; never both ways. */
                if (s == WA_STEP_FAIL_OVER) assert_true(st.window_open);
                if (s == WA_STEP_HOLD) assert_true(!st.window_open && st.can_hold);
                if (s == WA_STEP_OUT_OF_WINDOW) assert_true(!st.window_open && !st.can_hold);
                if (s == WA_STEP_HAND_OVER) assert_true(p->fails_over);
                if (s == WA_STEP_GIVE_UP) assert_int_equal(st.unknown, doubt);
                assert_true(calls <= st.max_attempts);
            }
    print_message("%d stories\n", stories);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_hold),
        cmocka_unit_test(test_invariants),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
