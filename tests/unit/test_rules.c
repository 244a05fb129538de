/* test_rules.c - routing rules over every combination of their inputs, plus the cases by name. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "rules.h"

#define T RTR_TWILIO
#define B RTR_BAILEYS
#define N RTR_NONE

/* The cases an operator would name, with the answer written out. */
static void test_named_cases(void **state)
{
    (void)state;
    static const struct {
        const char *label;
        /* mode, forced, window, last, up, template, pending, Twilio open, re-engagement, the
         * Baileys number's window */
        struct rtr_route_in in;
        enum rtr_provider want;
        int failover;
        const char *reason_has;
    } cases[] = {
        {"reply via source: wrote via Baileys",
         {RTR_MODE_AUTO, N, 1, B, 1, 0, N, 1, 0, 1},
         B,
         0,
         "source"},
        {"reply via source: wrote via Twilio",
         {RTR_MODE_AUTO, N, 1, T, 1, 0, N, 1, 0, 1},
         T,
         0,
         "source"},
        {"wrote via Baileys, Baileys down",
         {RTR_MODE_AUTO, N, 1, B, 0, 0, N, 1, 0, 1},
         T,
         1,
         "down"},
        {"outside window, no template",
         {RTR_MODE_AUTO, N, 0, B, 1, 0, N, 1, 0, 0},
         N,
         0,
         "outside 24h window: template required"},
        {"outside window, template", {RTR_MODE_AUTO, N, 0, B, 1, 1, N, 1, 0, 0}, T, 0, "template"},
        {"never wrote, template", {RTR_MODE_AUTO, N, 0, N, 1, 1, N, 1, 0, 0}, T, 0, "template"},
        {"inside window, template", {RTR_MODE_AUTO, N, 1, B, 1, 1, N, 1, 0, 1}, T, 0, "template"},
        {"mode twilio, wrote via Baileys",
         {RTR_MODE_TWILIO, N, 1, B, 1, 0, N, 1, 0, 1},
         T,
         0,
         "forced"},
        {"mode baileys, wrote via Twilio",
         {RTR_MODE_BAILEYS, N, 1, T, 1, 0, N, 1, 0, 1},
         B,
         0,
         "forced"},
        {"mode baileys, outside window",
         {RTR_MODE_BAILEYS, N, 0, T, 1, 1, N, 1, 0, 0},
         N,
         0,
         "Baileys may not"},
        {"request forces Twilio in auto",
         {RTR_MODE_AUTO, T, 1, B, 1, 0, N, 1, 0, 1},
         T,
         0,
         "forced"},
        {"request forces Baileys, down", {RTR_MODE_AUTO, B, 1, T, 0, 0, N, 1, 0, 1}, B, 0, "down"},
        {"request beats mode", {RTR_MODE_TWILIO, B, 1, T, 1, 0, N, 1, 0, 1}, B, 0, "forced"},
        {"forced Baileys with a template",
         {RTR_MODE_AUTO, B, 1, B, 1, 1, N, 1, 0, 1},
         N,
         0,
         "Twilio only"},
        /* Rule 7: never overtake the contact's earlier message on the other path. */
        {"Baileys went down behind an earlier message",
         {RTR_MODE_AUTO, N, 1, B, 0, 0, B, 1, 0, 1},
         B,
         0,
         "behind"},
        {"Baileys back up, an earlier one still on Twilio",
         {RTR_MODE_AUTO, N, 1, B, 1, 0, T, 1, 0, 1},
         T,
         0,
         "behind"},
        {"wrote via Twilio, earlier one on Baileys",
         {RTR_MODE_AUTO, N, 1, T, 1, 0, B, 1, 0, 1},
         B,
         0,
         "behind"},
        {"same path as the earlier one",
         {RTR_MODE_AUTO, N, 1, B, 1, 0, B, 1, 0, 1},
         B,
         0,
         "source"},
        {"down, earlier one on Twilio too",
         {RTR_MODE_AUTO, N, 1, B, 0, 0, T, 1, 0, 1},
         T,
         1,
         "down"},
        {"forced wins over order", {RTR_MODE_AUTO, T, 1, B, 1, 0, B, 1, 0, 1}, T, 0, "forced"},
        {"a template goes to Twilio whatever is pending",
         {RTR_MODE_AUTO, N, 1, B, 1, 1, B, 1, 0, 1},
         T,
         0,
         "template"},
        /* Re-engagement configured: held behind a template instead of refused. */
        {"outside every window, re-engagement on",
         {RTR_MODE_AUTO, N, 0, B, 1, 0, N, 0, 1, 0},
         T,
         0,
         "held"},
        {"Baileys down, no Twilio window, re-engagement on",
         {RTR_MODE_AUTO, N, 1, B, 0, 0, B, 0, 1, 1},
         T,
         0,
         "held"},
        {"forced Baileys outside the window: no hold",
         {RTR_MODE_AUTO, B, 0, B, 1, 0, N, 0, 1, 0},
         N,
         0,
         "Baileys may not"},
        {"a template outside the window is sent, not held",
         {RTR_MODE_AUTO, N, 0, B, 1, 1, N, 0, 1, 0},
         T,
         0,
         "template"},
        {"an earlier one on Baileys, but the contact wrote only to Twilio: not behind it there",
         {RTR_MODE_AUTO, N, 1, T, 1, 0, B, 1, 0, 0},
         T,
         0,
         "source"},
        {"outside the window nothing free-form, pending or not",
         {RTR_MODE_AUTO, N, 0, B, 1, 0, B, 1, 0, 0},
         N,
         0,
         "24h"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct rtr_route r = rtr_route(&cases[i].in);
        print_message("%s -> %s (%s)\n", cases[i].label, rtr_provider_name(r.provider), r.reason);
        assert_int_equal(r.provider, cases[i].want);
        assert_int_equal(r.failover, cases[i].failover);
        assert_non_null(strstr(r.reason, cases[i].reason_has));
    }
}

/* Every combination of mode x forced x window x last provider x Baileys up x template x pending
 * x the Twilio channel's own window: the rules that must hold whatever else is true. */
/* Auto mode, free text inside the contact's window: where it must go (rules 3, 4, 5, 7 and the
 * hold), written out independently of rules.c. */
static enum rtr_provider expected(enum rtr_provider last, int up, enum rtr_provider pending,
                                  int twilio_open, int reengage, int baileys_open)
{
    enum rtr_provider r;
    if (last == T)
        r = T; /* reply via source */
    else if (up)
        r = B;
    else if (twilio_open)
        r = T; /* failover */
    else if (reengage)
        return T; /* held: it waits for the reply, behind everything */
    else
        r = N;
    if (pending == B && baileys_open) return B; /* order: behind the earlier one */
    if (pending == T && twilio_open) return T;
    return r;
}

/* Every combination of mode x forced x window x last provider x Baileys up x template x pending
 * x the Twilio number's own window x re-engagement: the rules that must hold whatever else is
 * true. */
static void test_every_combination(void **state)
{
    (void)state;
    const enum rtr_provider providers[] = {N, T, B};
    int count = 0;
    /* One number in mixed base walks every combination. */
    for (int x = 0; x < 3 * 3 * 2 * 3 * 2 * 2 * 3 * 2 * 2 * 2; x++) {
        int k = x;
        int mode = k % 3, f = (k /= 3) % 3, window = (k /= 3) % 2, l = (k /= 2) % 3,
            up = (k /= 3) % 2, tpl = (k /= 2) % 2, pd = (k /= 2) % 3, tw = (k /= 3) % 2,
            re = (k /= 2) % 2, bw = (k /= 2) % 2;
        /* Each number's window is inside the contact's (its latest message, on any number);
         * the contact whose latest message came via Baileys has that number's window open. */
        if ((tw || bw) && !window) continue;
        if (providers[l] == B && window && !bw) continue;
        struct rtr_route_in in = {(enum rtr_mode)mode,
                                  providers[f],
                                  window,
                                  providers[l],
                                  up,
                                  tpl,
                                  providers[pd],
                                  tw,
                                  re,
                                  bw};
        struct rtr_route r = rtr_route(&in);
        enum rtr_provider forced = providers[f] != N          ? providers[f]
                                   : mode == RTR_MODE_TWILIO  ? T
                                   : mode == RTR_MODE_BAILEYS ? B
                                                              : N;
        count++;
        assert_non_null(r.reason);
        /* The 24-hour rule: Baileys never sends outside the window... */
        if (!window) assert_int_not_equal(r.provider, B);
        /* ...and nothing but a template does: free text is refused, or held for Twilio when
         * re-engagement is configured. */
        if (!window && !tpl) {
            assert_int_equal(r.provider, re && forced != B ? T : N);
            assert_int_equal(r.hold, re && forced != B);
            assert_non_null(strstr(r.reason, "24h"));
        }
        /* Only Twilio sends templates. */
        if (tpl) assert_int_not_equal(r.provider, B);
        /* A forced provider is never swapped for the other. */
        if (forced == T) assert_int_not_equal(r.provider, B);
        if (forced == B) assert_int_not_equal(r.provider, T);
        /* Failover only replaces Baileys by Twilio, only when Baileys is down. */
        if (r.failover) {
            assert_int_equal(r.provider, T);
            assert_false(up);
            assert_int_equal(forced, N);
        }
        /* Free text goes to Twilio only where the contact wrote to a Twilio number (the source,
         * or the failover number), or held there. */
        if (r.provider == T && !tpl && forced == N) assert_true(l == 1 || tw || r.hold);
        /* A refusal for want of a window says so; with re-engagement only a message forced to
         * Baileys (which can never be held for Twilio) is still refused. */
        if (r.outside_window) {
            assert_int_equal(r.provider, N);
            assert_true(!re || forced == B);
        }
        if (r.hold) {
            assert_true(re);
            assert_int_equal(r.provider, T);
            assert_false(tpl);
            assert_false(r.failover);
        }
        if (forced == N && window && !tpl)
            assert_int_equal(r.provider, expected(providers[l], up, providers[pd], tw, re, bw));
        /* Free text goes to Baileys unforced only where the contact wrote to that number. */
        if (r.provider == B && forced == N && providers[l] != N) assert_true(bw);
    }
    print_message("%d combinations\n", count);
    assert_true(count > 2000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_named_cases),
        cmocka_unit_test(test_every_combination),
    };
    return cmocka_run_group_tests_name("routing_rules", tests, NULL, NULL);
}
