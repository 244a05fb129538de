/* test_health_merge.c - one channel's health from several instances' reports
 * (router/health_merge.c, docs/architecture.md §3.3): the cases by name, every combination of
 * three instances, what counts as a change, and the ids and keys of common/wa_health.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "health_merge.h"
#include "wa_form.h"
#include "wa_health.h"

#define UP RTR_HEALTH_UP
#define DOWN RTR_HEALTH_DOWN
#define UNKNOWN RTR_HEALTH_UNKNOWN
#define STALE 100 /* ms: small numbers read better; the rule only compares */
#define NOW 1000  /* fresh: checked after 900 (and before 1100) */

struct step {
    char op; /* 'p': a report; 'f': the instance left (at = checked) */
    const char *instance;
    int up;
    int64_t since, checked;
};

static void play(struct rtr_channel *c, const struct step *s)
{
    for (; s->op; s++) {
        if (s->op == 'f') {
            rtr_channel_forget(c, s->instance, s->checked, STALE);
            continue;
        }
        struct rtr_report r = {.up = s->up, .since_ms = s->since, .checked_ms = s->checked};
        strcpy(r.instance, s->instance);
        strcpy(r.reason, s->up ? "health probe passed" : "health probe failed");
        rtr_channel_put(c, &r);
    }
}

static void test_named_cases(void **state)
{
    (void)state;
    static const struct {
        const char *label;
        struct step steps[6];
        enum rtr_health want;
        int64_t since;
        int live;
        const char *cause; /* the deciding instance, NULL for none */
    } cases[] = {
        {"no report at all", {{0}}, UNKNOWN, 0, 0, NULL},
        {"one instance UP", {{'p', "a", 1, 500, 950}}, UP, 500, 1, "a"},
        {"one instance DOWN", {{'p', "a", 0, 500, 950}}, DOWN, 500, 1, "a"},
        {"a fresh DOWN beats a fresher UP (the case last-writer-wins got wrong)",
         {{'p', "a", 0, 700, 960}, {'p', "b", 1, 500, 990}},
         DOWN,
         700,
         2,
         "a"},
        {"one DOWN among three",
         {{'p', "a", 1, 300, 990}, {'p', "b", 0, 800, 950}, {'p', "c", 1, 400, 999}},
         DOWN,
         800,
         3,
         "b"},
        {"two DOWN: since the earlier start",
         {{'p', "a", 0, 800, 950}, {'p', "b", 0, 600, 940}},
         DOWN,
         600,
         2,
         "b"},
        {"two UP: since the later start",
         {{'p', "a", 1, 300, 950}, {'p', "b", 1, 600, 940}},
         UP,
         600,
         2,
         "b"},
        {"a stale DOWN is ignored; UP not before it went stale",
         {{'p', "a", 1, 300, 990}, {'p', "b", 0, 200, 850}},
         UP,
         950,
         1,
         "a"},
        {"a stale UP is ignored",
         {{'p', "a", 0, 300, 990}, {'p', "b", 1, 200, 850}},
         DOWN,
         300,
         1,
         "a"},
        {"only stale reports: UNKNOWN since the last went stale",
         {{'p', "a", 1, 300, 850}, {'p', "b", 0, 200, 870}},
         UNKNOWN,
         970,
         0,
         NULL},
        {"checked exactly the limit ago is stale",
         {{'p', "a", 1, 300, 900}},
         UNKNOWN,
         1000,
         0,
         NULL},
        {"a report from the limit ahead is no evidence",
         {{'p', "a", 1, 300, 1100}},
         UNKNOWN,
         0,
         0,
         NULL},
        {"a DOWN instance left: UP since it left",
         {{'p', "a", 1, 300, 990}, {'p', "b", 0, 500, 980}, {'f', "b", 0, 0, 985}},
         UP,
         985,
         1,
         "a"},
        {"an UP instance left: the others' start stands",
         {{'p', "a", 1, 300, 990}, {'p', "b", 1, 400, 980}, {'f', "b", 0, 0, 985}},
         UP,
         300,
         1,
         "a"},
        {"the last instance left: UNKNOWN since then",
         {{'p', "a", 1, 300, 990}, {'f', "a", 0, 0, 995}},
         UNKNOWN,
         995,
         0,
         NULL},
        {"left when already stale: gone when it went stale",
         {{'p', "a", 0, 100, 850}, {'f', "a", 0, 0, 990}},
         UNKNOWN,
         950,
         0,
         NULL},
        {"a new instance after a DOWN one left: UP not before it left",
         {{'p', "a", 0, 100, 990}, {'f', "a", 0, 0, 991}, {'p', "b", 1, 50, 995}},
         UP,
         991,
         1,
         "b"},
        {"an instance's report replaces its previous one",
         {{'p', "a", 0, 500, 905}, {'p', "a", 1, 950, 990}},
         UP,
         950,
         1,
         "a"},
        {"an old-format record is one more (anonymous) instance",
         {{'p', "", 0, 800, 990}, {'p', "a", 1, 300, 995}},
         DOWN,
         800,
         2,
         ""},
        {"a tombstone of an unknown instance changes nothing",
         {{'p', "a", 1, 300, 990}, {'f', "z", 0, 0, 995}},
         UP,
         300,
         1,
         "a"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct rtr_channel c = {0};
        play(&c, cases[i].steps);
        struct rtr_merged m = rtr_channel_merge(&c, NOW, STALE);
        print_message("case: %s\n", cases[i].label);
        assert_int_equal(m.state, cases[i].want);
        assert_int_equal(m.since_ms, cases[i].since);
        assert_int_equal(m.live, cases[i].live);
        if (!cases[i].cause) {
            assert_int_equal(m.cause, -1);
        } else {
            assert_true(m.cause >= 0 && (size_t)m.cause < c.n);
            assert_string_equal(c.reports[m.cause].instance, cases[i].cause);
        }
    }
}

/* Three instances, each absent, UP or DOWN, fresh or stale: the state follows the rule. */
static void test_every_combination(void **state)
{
    (void)state;
    int count = 0;
    for (int a = 0; a < 5; a++)
        for (int b = 0; b < 5; b++)
            for (int d = 0; d < 5; d++) {
                const int kinds[3] = {a, b,
                                      d}; /* 0 absent, 1 UP, 2 DOWN, 3 stale UP, 4 stale DOWN */
                struct rtr_channel c = {0};
                int fresh = 0, fresh_down = 0;
                for (int k = 0; k < 3; k++) {
                    if (!kinds[k]) continue;
                    struct rtr_report r = {.up = kinds[k] % 2 == 1,
                                           .since_ms = 100 + 10 * k,
                                           .checked_ms = kinds[k] >= 3 ? 800 : 990};
                    r.instance[0] = (char)('a' + k);
                    rtr_channel_put(&c, &r);
                    fresh += kinds[k] < 3;
                    fresh_down += kinds[k] == 2;
                }
                struct rtr_merged m = rtr_channel_merge(&c, NOW, STALE);
                enum rtr_health want = fresh_down ? DOWN : fresh ? UP : UNKNOWN;
                assert_int_equal(m.state, want);
                assert_int_equal(m.live, fresh);
                /* UP only from fresh reports that all say UP; the cause is one of them. */
                if (m.state != UNKNOWN) {
                    assert_true(m.cause >= 0);
                    assert_int_equal(c.reports[m.cause].up, m.state == UP);
                    assert_true(c.reports[m.cause].checked_ms > NOW - STALE);
                } else {
                    assert_int_equal(m.cause, -1);
                }
                count++;
            }
    assert_int_equal(count, 125);
}

/* A full table makes room by dropping the report checked longest ago, as if it left then. */
static void test_full_table(void **state)
{
    (void)state;
    struct rtr_channel c = {0};
    for (int i = 0; i < RTR_HEALTH_INSTANCES; i++) {
        struct rtr_report r = {.up = i != 3, .since_ms = 10, .checked_ms = i == 3 ? 500 : 990};
        snprintf(r.instance, sizeof r.instance, "i%d", i);
        rtr_channel_put(&c, &r);
    }
    struct rtr_report extra = {.up = 1, .since_ms = 20, .checked_ms = 995};
    strcpy(extra.instance, "extra");
    rtr_channel_put(&c, &extra);
    assert_int_equal(c.n, RTR_HEALTH_INSTANCES);
    for (size_t i = 0; i < c.n; i++)
        assert_string_not_equal(c.reports[i].instance, "i3");
    assert_string_equal(c.reports[c.n - 1].instance, "extra");
    assert_int_equal(c.down_gone_ms, 500);
    struct rtr_merged m = rtr_channel_merge(&c, NOW, STALE);
    assert_int_equal(m.state, UP);
    assert_int_equal(m.live, RTR_HEALTH_INSTANCES);
}

static void test_what_is_a_change(void **state)
{
    (void)state;
    static const struct {
        const char *label;
        int have_prev;
        struct rtr_merged prev, next;
        int changed;
        int64_t since; /* next's since afterwards */
    } cases[] = {
        {"first: nothing ever reported", 0, {0}, {UNKNOWN, 0, -1, 0}, 0, 0},
        {"first: all gone", 0, {0}, {UNKNOWN, 950, -1, 0}, 1, 950},
        {"first: UP", 0, {0}, {UP, 500, 0, 1}, 1, 500},
        {"same state, other since", 1, {UP, 500, 0, 1}, {UP, 700, 1, 2}, 0, 700},
        {"UP to DOWN", 1, {UP, 500, 0, 1}, {DOWN, 800, 1, 2}, 1, 800},
        {"a start before the previous one moves after it",
         1,
         {DOWN, 800, 1, 2},
         {UP, 300, 0, 1},
         1,
         801},
        {"a start equal to the previous one moves after it",
         1,
         {UP, 800, 0, 1},
         {UNKNOWN, 800, -1, 0},
         1,
         801},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct rtr_merged next = cases[i].next;
        print_message("case: %s\n", cases[i].label);
        assert_int_equal(rtr_health_changed(&cases[i].prev, cases[i].have_prev, &next),
                         cases[i].changed);
        assert_int_equal(next.since_ms, cases[i].since);
    }
}

static void test_describe(void **state)
{
    (void)state;
    struct rtr_channel c = {0};
    struct step steps[] = {{'p', "host-1", 1, 300, 990}, {'p', "host-2", 0, 800, 950}, {0}};
    play(&c, steps);
    char out[RTR_HEALTH_REASON];
    struct rtr_merged m = rtr_channel_merge(&c, NOW, STALE);
    rtr_health_describe(&c, &m, out, sizeof out);
    assert_string_equal(out, "health probe failed [instance host-2]");
    rtr_channel_forget(&c, "host-2", 960, STALE);
    m = rtr_channel_merge(&c, NOW, STALE);
    rtr_health_describe(&c, &m, out, sizeof out);
    assert_string_equal(out, "health probe passed [all 1 live instances UP]");
    m = rtr_channel_merge(&c, 5000, STALE);
    rtr_health_describe(&c, &m, out, sizeof out);
    assert_string_equal(out, "no live report from any instance");
    /* A reason that fills the buffer is cut at a character boundary. */
    struct rtr_report r = {.up = 0, .since_ms = 1, .checked_ms = 990};
    strcpy(r.instance, "x");
    for (size_t i = 0; i + 2 < sizeof r.reason; i += 2)
        memcpy(r.reason + i, "\xd7\xa9", 2); /* ש */
    rtr_channel_put(&c, &r);
    m = rtr_channel_merge(&c, NOW, STALE);
    rtr_health_describe(&c, &m, out, sizeof out);
    assert_true(wa_utf8_valid(out, strlen(out)));
    assert_true(strlen(out) > RTR_HEALTH_REASON - 5);
}

static void test_ids_and_keys(void **state)
{
    (void)state;
    assert_true(wa_health_id_valid("baileys"));
    assert_true(wa_health_id_valid("web-1.example_2"));
    assert_true(wa_health_id_valid("baileys:+972500000001")); /* a channel id */
    assert_false(wa_health_id_valid("baileys:+9725 0"));
    assert_false(wa_health_id_valid(""));
    assert_false(wa_health_id_valid(NULL));
    assert_false(wa_health_id_valid("a/b"));
    assert_false(wa_health_id_valid("a b"));
    assert_false(wa_health_id_valid("ש"));
    char long_id[WA_HEALTH_ID_MAX + 2];
    memset(long_id, 'a', sizeof long_id - 1);
    long_id[WA_HEALTH_ID_MAX] = '\0';
    assert_true(wa_health_id_valid(long_id));
    long_id[WA_HEALTH_ID_MAX] = 'a';
    long_id[WA_HEALTH_ID_MAX + 1] = '\0';
    assert_false(wa_health_id_valid(long_id));

    char id[WA_HEALTH_ID_MAX + 1];
    wa_health_default_instance(id, "web 1/eu", 4242);
    assert_string_equal(id, "web-1-eu-4242");
    wa_health_default_instance(id, "", 7);
    assert_string_equal(id, "sender-7");
    char host[200];
    memset(host, 'h', sizeof host - 1);
    host[sizeof host - 1] = '\0';
    wa_health_default_instance(id, host, 123456);
    assert_int_equal(strlen(id), WA_HEALTH_ID_MAX);
    assert_true(wa_health_id_valid(id));
    assert_string_equal(id + WA_HEALTH_ID_MAX - 7, "-123456");

    char key[2 * WA_HEALTH_ID_MAX + 2], ch[WA_HEALTH_ID_MAX + 1], inst[WA_HEALTH_ID_MAX + 1];
    assert_int_equal(wa_health_key(key, sizeof key, "baileys", "host-1"), 0);
    assert_string_equal(key, "baileys/host-1");
    assert_int_equal(wa_health_key(key, 5, "baileys", "host-1"), -1);
    assert_int_equal(wa_health_key_split("baileys/host-1", 14, ch, inst), 0);
    assert_string_equal(ch, "baileys");
    assert_string_equal(inst, "host-1");
    /* The old format: one key per provider, its anonymous prober. */
    assert_int_equal(wa_health_key_split("baileys", 7, ch, inst), 0);
    assert_string_equal(ch, "baileys");
    assert_string_equal(inst, "");
    assert_int_equal(wa_health_key_split("baileys/", 8, ch, inst), -1);
    assert_int_equal(wa_health_key_split("/host", 5, ch, inst), -1);
    assert_int_equal(wa_health_key_split("a/b/c", 5, ch, inst), -1);
    assert_int_equal(wa_health_key_split("", 0, ch, inst), -1);
    assert_int_equal(wa_health_key_split(NULL, 0, ch, inst), -1);

    /* A Twilio channel's key: ':' and '+' are id bytes, so it splits back whole. */
    assert_int_equal(wa_health_key(key, sizeof key, "twilio:+14155238886", "web-1-42"), 0);
    assert_string_equal(key, "twilio:+14155238886/web-1-42");
    assert_int_equal(wa_health_key_split(key, strlen(key), ch, inst), 0);
    assert_string_equal(ch, "twilio:+14155238886");
    assert_string_equal(inst, "web-1-42");

    char err[160];
    assert_int_equal(wa_health_instance("twilio-a", id, err, sizeof err), 0);
    assert_string_equal(id, "twilio-a");
    assert_int_equal(wa_health_instance("web 1/eu", id, err, sizeof err), -1);
    assert_non_null(strstr(err, "SENDER_INSTANCE=web 1/eu must be 1 to 64 letters, digits"));
    assert_int_equal(wa_health_instance("", id, err, sizeof err), 0); /* <host>-<pid> */
    assert_true(wa_health_id_valid(id));
}

/* The record, field by field as docs/events.md has it; a reason of any bytes stays JSON. */
static void test_encode(void **state)
{
    (void)state;
    char *s = wa_health_encode(&(struct wa_health_report){.provider = "twilio",
                                                          .channel = "twilio:+14155238886",
                                                          .instance = "web-1-42",
                                                          .up = 0,
                                                          .reason = "3 sends failed in a row",
                                                          .since_ms = 1795478400000,
                                                          .checked_ms = 1795478405000,
                                                          .source = "send"});
    assert_string_equal(s, "{\"v\":1,\"provider\":\"twilio\",\"channel\":\"twilio:+14155238886\","
                           "\"instance\":\"web-1-42\",\"state\":\"DOWN\",\"reason\":\"3 sends "
                           "failed in a row\",\"since_ms\":1795478400000,\"checked_ms\":"
                           "1795478405000,\"source\":\"send\"}");
    free(s);
    s = wa_health_encode(&(struct wa_health_report){.provider = "baileys",
                                                    .channel = "baileys",
                                                    .instance = "b",
                                                    .up = 1,
                                                    .reason = "bad \xff byte",
                                                    .source = "probe"});
    assert_non_null(s);
    assert_non_null(strstr(s, "\"state\":\"UP\",\"reason\":\"bad \xef\xbf\xbd byte\""));
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_named_cases), cmocka_unit_test(test_every_combination),
        cmocka_unit_test(test_full_table),  cmocka_unit_test(test_what_is_a_change),
        cmocka_unit_test(test_describe),    cmocka_unit_test(test_ids_and_keys),
        cmocka_unit_test(test_encode),
    };
    return cmocka_run_group_tests_name("health_merge", tests, NULL, NULL);
}
