/* test_plan.c - which channel sends: the stories an operator with two Twilio numbers and two
 * Baileys sessions would tell, then every combination of mode, forced provider or named channel,
 * the contact's window on each channel, which channel it last wrote to, each session's health,
 * template, re-engagement and an earlier message still on its way, against the rules WhatsApp
 * keeps per business number. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "plan.h"
#include "wa_window.h"

#define T1 "twilio:+14155238886" /* Twilio's default: takes over from B1 */
#define T2 "twilio:+14155550199" /* takes over from B2 (BAILEYS_FAILOVER_TO) */
#define B1 "baileys:+972500000001"
#define B2 "baileys:+972500000002"
#define NOW 1800000000000LL
#define OPEN (NOW - 3600 * 1000LL)                  /* wrote an hour ago */
#define CLOSED (NOW - WA_WINDOW_MS - 3600 * 1000LL) /* wrote 25 hours ago */

static struct rtr_channels cfg;

static void load(void)
{
    char err[300] = "";
    int rc = rtr_channels_load(&cfg, "whatsapp:+14155238886,whatsapp:+14155550199",
                               "+972500000001=http://127.0.0.1:3001/send,"
                               "+972500000002=http://127.0.0.1:3011/send",
                               "+972500000002=+14155550199", err, sizeof err);
    if (rc) print_message("%s\n", err);
    assert_int_equal(rc, 0);
}

/* Which sessions are UP: a bit per session, B1 then B2; any other Baileys number (one bridge
 * without BAILEYS_CHANNELS) is UP with B1. */
static int up(const char *channel, void *ctx)
{
    int mask = *(int *)ctx;
    return strcmp(channel, B2) == 0 ? (mask & 2) != 0 : (mask & 1) != 0;
}

static struct rtr_plan plan(const char *named, const char *provider, int template, int reengage,
                            int upmask, const struct rtr_seen *seen, size_t n)
{
    struct rtr_plan_in in = {.mode = RTR_MODE_AUTO,
                             .provider = provider,
                             .channel = named,
                             .has_template = template,
                             .reengage = reengage,
                             .seen = seen,
                             .n_seen = n,
                             .now_ms = NOW,
                             .up = up,
                             .ctx = &upmask,
                             .cfg = &cfg};
    return rtr_plan(&in);
}

static void test_config(void **state)
{
    (void)state;
    load();
    assert_string_equal(cfg.twilio_default, T1);
    assert_string_equal(cfg.baileys_default, B1);
    assert_string_equal(rtr_failover_of(&cfg, B2), T2);
    assert_string_equal(rtr_failover_of(&cfg, B1), T1);
    static const struct {
        const char *twilio, *baileys, *pairs, *err_has;
    } bad[] = {
        {"+14155238886", "+972500000001", "", "BAILEYS_CHANNELS: \"+972500000001\" needs a value"},
        {"+14155238886", "", "+972500000001=+14155550199", "not a number of TWILIO_WA_FROM"},
        {"+14155238886", "+972500000001=http://x/send", "+972500000002=+14155238886",
         "baileys:+972500000002 is not in BAILEYS_CHANNELS"},
        {"whatsapp:+1", "", "", "TWILIO_WA_FROM"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct rtr_channels c;
        char err[300] = "";
        assert_int_equal(
            rtr_channels_load(&c, bad[i].twilio, bad[i].baileys, bad[i].pairs, err, sizeof err),
            -1);
        print_message("%s\n", err);
        assert_non_null(strstr(err, bad[i].err_has));
    }
    /* Nothing configured: each provider's bare name is its default channel. */
    struct rtr_channels c;
    char err[100];
    assert_int_equal(rtr_channels_load(&c, "", NULL, "", err, sizeof err), 0);
    assert_string_equal(c.twilio_default, "twilio");
    assert_string_equal(c.baileys_default, "baileys");
}

static void test_stories(void **state)
{
    (void)state;
    load();
    struct rtr_plan p;
    /* Each contact is answered on the channel it last wrote to. */
    struct rtr_seen wrote_b2[] = {{B2, OPEN}};
    p = plan(NULL, NULL, 0, 0, 3, wrote_b2, 1);
    assert_int_equal(p.route.provider, RTR_BAILEYS);
    assert_string_equal(p.channel, B2);
    assert_string_equal(p.failover_channel, T2);
    assert_int_equal(p.window_until_ms, OPEN + WA_WINDOW_MS);
    assert_int_equal(p.failover_window_until_ms, 0);
    struct rtr_seen wrote_t2[] = {{T2, OPEN}, {B1, OPEN - 1000}};
    p = plan(NULL, NULL, 0, 0, 3, wrote_t2, 2);
    assert_int_equal(p.route.provider, RTR_TWILIO);
    assert_string_equal(p.channel, T2);
    assert_true(p.route.via_source);

    /* B2 down: its pair takes over only while the contact's window there is open. */
    struct rtr_seen b2_and_t2[] = {{B2, OPEN}, {T2, OPEN - 5000}};
    p = plan(NULL, NULL, 0, 0, 1, b2_and_t2, 2);
    assert_int_equal(p.route.provider, RTR_TWILIO);
    assert_true(p.route.failover);
    assert_string_equal(p.channel, T2);
    struct rtr_seen b2_and_t1[] = {{B2, OPEN}, {T1, OPEN - 5000}};
    p = plan(NULL, NULL, 0, 0, 1, b2_and_t1, 2); /* T1's window is no use: T2 takes over */
    assert_int_equal(p.route.provider, RTR_NONE);
    assert_true(p.route.outside_window);
    p = plan(NULL, NULL, 0, 1, 1, b2_and_t1, 2); /* held behind a template on T2 */
    assert_int_equal(p.route.provider, RTR_TWILIO);
    assert_true(p.route.hold);
    assert_string_equal(p.channel, T2);
    /* B1 down while B2 is up: the contact of B1 fails over to T1. */
    struct rtr_seen b1_and_t1[] = {{B1, OPEN}, {T1, OPEN - 5000}};
    p = plan(NULL, NULL, 0, 0, 2, b1_and_t1, 2);
    assert_true(p.route.failover);
    assert_string_equal(p.channel, T1);

    /* One contact, two Twilio numbers, two windows. */
    struct rtr_seen two[] = {{T2, OPEN}, {T1, CLOSED}};
    assert_int_equal(rtr_window_until(two, 2, T2, &cfg, NOW), OPEN + WA_WINDOW_MS);
    assert_int_equal(rtr_window_until(two, 2, T1, &cfg, NOW), 0);
    p = plan(T1, NULL, 0, 0, 3, two, 2); /* named T1: closed there, free text refused */
    assert_int_equal(p.route.provider, RTR_NONE);
    assert_true(p.route.outside_window);
    p = plan(T1, NULL, 1, 0, 3, two, 2); /* a template may go from T1 */
    assert_int_equal(p.route.provider, RTR_TWILIO);
    assert_string_equal(p.channel, T1);
    p = plan(NULL, "twilio", 0, 0, 3, two, 2); /* forced Twilio: where the window is open */
    assert_string_equal(p.channel, T2);

    /* A named channel: it, or nothing. */
    struct rtr_seen b1_only[] = {{B1, OPEN}};
    p = plan(B2, NULL, 0, 0, 3, b1_only, 1); /* never wrote to B2: Baileys may not */
    assert_int_equal(p.route.provider, RTR_NONE);
    p = plan("twilio:+15550000000", NULL, 1, 0, 3, b1_only, 1);
    assert_true(p.channel_unknown);
    assert_int_equal(p.route.provider, RTR_NONE);
    p = plan("baileys", NULL, 0, 0, 3, b1_only, 1); /* the bare name: the default session */
    assert_string_equal(p.channel, B1);

    /* Never wrote: a template goes from the default Twilio number. */
    p = plan(NULL, NULL, 1, 0, 3, NULL, 0);
    assert_string_equal(p.channel, T1);
    /* Rows from before channels name the bare provider: its default channel. */
    struct rtr_seen old[] = {{"twilio", OPEN}};
    p = plan(NULL, NULL, 0, 0, 3, old, 1);
    assert_string_equal(p.channel, T1);
    assert_int_equal(p.window_until_ms, OPEN + WA_WINDOW_MS);

    /* One bridge, no BAILEYS_CHANNELS: the session's own number, whatever it is. */
    struct rtr_channels saved = cfg;
    char err[100];
    assert_int_equal(rtr_channels_load(&cfg, "+14155238886", "", "", err, sizeof err), 0);
    struct rtr_seen bridge[] = {{"baileys:+972599999999", OPEN}};
    p = plan(NULL, NULL, 0, 0, 1, bridge, 1);
    assert_string_equal(p.channel, "baileys:+972599999999");
    assert_string_equal(p.failover_channel, T1);
    p = plan("baileys:+972599999999", NULL, 0, 0, 1, bridge, 1);
    assert_false(p.channel_unknown);
    cfg = saved;
}

static int of(const char *channel, const char *provider)
{
    return channel && strncmp(channel, provider, strlen(provider)) == 0;
}

/* Every combination, against what must always hold. */
static void test_every_combination(void **state)
{
    (void)state;
    load();
    const char *chans[] = {T1, T2, B1, B2};
    const char *named_of[] = {NULL, T1, T2, B1, B2, "baileys", "twilio:+15550000000"};
    const char *provider_of[] = {NULL, "twilio", "baileys"};
    long n = 0;
    for (int mode = 0; mode < 3; mode++)
        for (size_t fp = 0; fp < 3; fp++)
            for (size_t nm = 0; nm < sizeof named_of / sizeof *named_of; nm++)
                for (int w = 0; w < 81; w++)             /* each channel: never, closed, open */
                    for (int lead = 0; lead < 4; lead++) /* which one was written to last */
                        for (int upmask = 0; upmask < 4; upmask++)
                            for (int flags = 0; flags < 4 * 3; flags++) {
                                const char *named = named_of[nm], *provider = provider_of[fp];
                                if (named && provider && !of(named, provider)) continue;
                                struct rtr_seen seen[4];
                                size_t ns = 0;
                                static const int pow3[] = {1, 3, 9, 27};
                                for (int k = 0; k < 4; k++) {
                                    int c = (k + lead) % 4; /* lead first, the rest after */
                                    int state_of = (w / pow3[c]) % 3;
                                    if (!state_of) continue;
                                    snprintf(seen[ns].channel, sizeof seen[ns].channel, "%s",
                                             chans[c]);
                                    seen[ns].last_ms = (state_of == 2 ? OPEN : CLOSED) - k * 1000;
                                    ns++;
                                }
                                /* Latest first, as the CRM gives them. */
                                for (size_t i = 1; i < ns; i++)
                                    for (size_t j = i;
                                         j > 0 && seen[j].last_ms > seen[j - 1].last_ms; j--) {
                                        struct rtr_seen x = seen[j];
                                        seen[j] = seen[j - 1];
                                        seen[j - 1] = x;
                                    }
                                int template = flags & 1, reengage = (flags >> 1) & 1;
                                enum rtr_provider pending = (enum rtr_provider)(flags >> 2);
                                struct rtr_plan_in in = {.mode = (enum rtr_mode)mode,
                                                         .provider = provider,
                                                         .channel = named,
                                                         .has_template = template,
                                                         .reengage = reengage,
                                                         .pending = pending,
                                                         .seen = seen,
                                                         .n_seen = ns,
                                                         .now_ms = NOW,
                                                         .up = up,
                                                         .ctx = &upmask,
                                                         .cfg = &cfg};
                                struct rtr_plan p = rtr_plan(&in);
                                enum rtr_provider got = p.route.provider;
                                n++;
                                /* Something is sent exactly when there is a channel. */
                                assert_int_equal(got == RTR_NONE, p.channel == NULL);
                                assert_non_null(p.route.reason);
                                int unknown = named && strcmp(named, "twilio:+15550000000") == 0;
                                assert_int_equal(p.channel_unknown, unknown);
                                if (unknown) assert_int_equal(got, RTR_NONE);
                                if (got == RTR_NONE) continue;
                                /* The provider's own channel, and the named one when named. */
                                assert_true(
                                    of(p.channel, got == RTR_TWILIO ? "twilio" : "baileys"));
                                if (named)
                                    assert_string_equal(p.channel,
                                                        strcmp(named, "baileys") ? named : B1);
                                /* A forced provider is never swapped. */
                                if (provider) assert_true(of(p.channel, provider));
                                /* WhatsApp's rule, per number: free text only inside the
                                 * contact's window on the number that sends it; a held
                                 * message waits for it to open. */
                                if (!template && !p.route.hold && p.window_until_ms <= NOW) {
                                    print_message("mode %d provider %s named %s up %d pending %d "
                                                  "reengage %d -> %s %s (%s)\n",
                                                  mode, provider ? provider : "-",
                                                  named ? named : "-", upmask, (int)pending,
                                                  reengage, p.channel, p.route.reason,
                                                  p.route.via_source ? "source" : "");
                                    for (size_t i = 0; i < ns; i++)
                                        print_message("  seen %s %s\n", seen[i].channel,
                                                      seen[i].last_ms > CLOSED ? "open" : "closed");
                                    fail();
                                }
                                if (p.window_until_ms)
                                    assert_true(p.window_until_ms ==
                                                rtr_window_until(seen, ns, p.channel, &cfg, NOW));
                                if (got == RTR_BAILEYS) {
                                    assert_false(template);
                                    assert_string_equal(p.failover_channel,
                                                        rtr_failover_of(&cfg, p.channel));
                                    assert_int_equal(
                                        p.failover_window_until_ms,
                                        rtr_window_until(seen, ns, p.failover_channel, &cfg, NOW));
                                } else {
                                    assert_null(p.failover_channel);
                                }
                                /* A hold or a failover goes through the pair of the Baileys
                                 * channel the contact last wrote to (or the default one), or
                                 * the Twilio channel the request names. */
                                if (p.route.hold || p.route.failover) {
                                    const char *b = B1;
                                    for (size_t i = 0; i < ns; i++)
                                        if (of(seen[i].channel, "baileys")) {
                                            b = seen[i].channel;
                                            break;
                                        }
                                    if (named && of(named, "baileys")) b = p.channel;
                                    assert_int_equal(got, RTR_TWILIO);
                                    assert_string_equal(p.channel, named && of(named, "twilio")
                                                                       ? named
                                                                       : rtr_failover_of(&cfg, b));
                                    assert_true(reengage || !p.route.hold);
                                }
                                /* Reply via source: the channel the contact last wrote to. */
                                if (p.route.via_source)
                                    assert_string_equal(p.channel, seen[0].channel);
                            }
    print_message("%ld combinations\n", n);
    assert_true(n > 100000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config),
        cmocka_unit_test(test_stories),
        cmocka_unit_test(test_every_combination),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
