/* test_channel.c - channel names, the list of Twilio numbers, and a command's channel fields. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "sender_baileys.h"
#include "sender_twilio.h"
#include "wa_channel.h"
#include "wa_outbound.h"

static void test_list(void **state)
{
    (void)state;
    static const struct {
        const char *csv;
        int n;
        const char *first, *second, *err_has;
    } cases[] = {
        {"whatsapp:+14155238886", 1, "twilio:+14155238886", NULL, NULL},
        {"+14155238886", 1, "twilio:+14155238886", NULL, NULL},
        {"whatsapp:+14155238886, whatsapp:+14155550199", 2, "twilio:+14155238886",
         "twilio:+14155550199", NULL},
        {"", -1, NULL, NULL, "no number"},
        {"whatsapp:+14155238886,", -1, NULL, NULL, "empty"},
        {",whatsapp:+14155238886", -1, NULL, NULL, "empty"},
        {"whatsapp:14155", -1, NULL, NULL, "not a number"},
        {"+14155238886,whatsapp:+14155238886", -1, NULL, NULL, "twice"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char ids[WA_CHANNELS_MAX][WA_CHANNEL_MAX], err[200] = "";
        int n = wa_channel_list("twilio", cases[i].csv, ids, WA_CHANNELS_MAX, err, sizeof err);
        print_message("\"%s\" -> %d %s\n", cases[i].csv, n, n < 0 ? err : ids[0]);
        assert_int_equal(n, cases[i].n);
        if (n > 0) assert_string_equal(ids[0], cases[i].first);
        if (n > 1) assert_string_equal(ids[1], cases[i].second);
        if (cases[i].err_has) assert_non_null(strstr(err, cases[i].err_has));
    }
    char ids[2][WA_CHANNEL_MAX], err[200];
    assert_int_equal(wa_channel_list("twilio", "+14155238886,+14155550199,+14155550100", ids, 2,
                                     err, sizeof err),
                     -1);
    assert_non_null(strstr(err, "more than 2"));
    assert_string_equal(wa_channel_number("baileys:+972500000001"), "+972500000001");
    assert_null(wa_channel_number("baileys"));
    assert_true(wa_channel_is_default("twilio", "twilio", "twilio:+1"));
    assert_true(wa_channel_is_default("twilio:+1", "twilio", "twilio:+1"));
    assert_false(wa_channel_is_default("twilio:+2", "twilio", "twilio:+1"));
}

/* BAILEYS_CHANNELS and BAILEYS_FAILOVER_TO: a number with a value each. */
static void test_entries(void **state)
{
    (void)state;
    struct wa_channel_entry e[WA_CHANNELS_MAX];
    char err[200] = "";
    assert_int_equal(wa_channel_entries("baileys",
                                        "+972500000001=http://127.0.0.1:3001/send, "
                                        "+972500000002=http://127.0.0.1:3011/send",
                                        e, WA_CHANNELS_MAX, 1, err, sizeof err),
                     2);
    assert_string_equal(e[0].id, "baileys:+972500000001");
    assert_string_equal(e[0].value, "http://127.0.0.1:3001/send");
    assert_string_equal(e[1].id, "baileys:+972500000002");
    assert_string_equal(e[1].value, "http://127.0.0.1:3011/send");
    static const struct {
        const char *csv;
        int with_value;
        const char *err_has;
    } bad[] = {
        {"+972500000001", 1, "needs a value"}, {"+972500000001=", 1, "needs a value"},
        {"=http://x", 1, "not a number"},      {"+972500000001=a,+972500000001=b", 1, "twice"},
        {"+14155238886=+1", 0, "without '='"}, {"", 1, "no number"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        assert_int_equal(wa_channel_entries("baileys", bad[i].csv, e, WA_CHANNELS_MAX,
                                            bad[i].with_value, err, sizeof err),
                         -1);
        print_message("\"%s\" -> %s\n", bad[i].csv, err);
        assert_non_null(strstr(err, bad[i].err_has));
    }
    /* A channel as a request names it: canonical only, so one number has one id. */
    char p[16];
    assert_int_equal(wa_channel_parse("twilio:+14155238886", p, sizeof p), 0);
    assert_string_equal(p, "twilio");
    assert_int_equal(wa_channel_parse("baileys:+972500000001", p, sizeof p), 0);
    assert_string_equal(p, "baileys");
    assert_int_equal(wa_channel_parse("baileys", p, sizeof p), 0);
    assert_string_equal(p, "baileys");
    assert_int_equal(wa_channel_parse("twilio:whatsapp:+14155238886", p, sizeof p), -1);
    assert_int_equal(wa_channel_parse("twilio:14155238886", p, sizeof p), -1);
    assert_int_equal(wa_channel_parse("twilio:+1 415 523 8886", p, sizeof p), -1);
    assert_int_equal(wa_channel_parse("sms:+14155238886", p, sizeof p), -1);
    assert_int_equal(wa_channel_parse("twilio:", p, sizeof p), -1);
    assert_int_equal(wa_channel_parse("", p, sizeof p), -1);
    assert_int_equal(wa_channel_parse(NULL, p, sizeof p), -1);
}

/* sender-baileys: each command to its session's bridge; one bridge takes every number. */
static void test_baileys_sessions(void **state)
{
    (void)state;
    char err[300] = "";
    assert_int_equal(sbl_channels_load("", "http://127.0.0.1:3001/send", "", err, sizeof err), 0);
    assert_int_equal(sbl_n_channels, 1);
    assert_string_equal(sbl_channels[0].id, "baileys");
    assert_string_equal(sbl_channels[0].health_url, "http://127.0.0.1:3001/health");
    assert_ptr_equal(sbl_channel_of("baileys:+972500000009"), &sbl_channels[0]);
    assert_ptr_equal(sbl_channel_of(NULL), &sbl_channels[0]);

    assert_int_equal(sbl_channels_load("+972500000001=http://127.0.0.1:3001/send,"
                                       "+972500000002=https://b2.example/wa/send",
                                       "http://unused/send", "", err, sizeof err),
                     0);
    assert_int_equal(sbl_n_channels, 2);
    assert_string_equal(sbl_channels[1].id, "baileys:+972500000002");
    assert_string_equal(sbl_channels[1].send_url, "https://b2.example/wa/send");
    assert_string_equal(sbl_channels[1].health_url, "https://b2.example/wa/health");
    assert_ptr_equal(sbl_channel_of("baileys:+972500000002"), &sbl_channels[1]);
    assert_ptr_equal(sbl_channel_of("baileys"), &sbl_channels[0]); /* the default */
    assert_ptr_equal(sbl_channel_of(NULL), &sbl_channels[0]);
    assert_null(sbl_channel_of("baileys:+972500000009")); /* never from another session */

    assert_int_equal(
        sbl_channels_load("+972500000001=127.0.0.1:3001/send", "", "", err, sizeof err), -1);
    assert_non_null(strstr(err, "not an http(s) URL"));
    assert_int_equal(sbl_channels_load("+97250=http://x/send", "", "", err, sizeof err), -1);
    assert_non_null(strstr(err, "BAILEYS_CHANNELS"));
}

/* A command names its channel and, for Baileys, where it may fail over and until when; one
 * from before channels fails over under the contact's window, as it did then. */
static void test_command_fields(void **state)
{
    (void)state;
    struct wa_outbound o;
    char err[256];
    /* The id is the key's; the rest as a router of each time wrote it. */
    static const char now_tail[] =
        "\",\"idempotencyKey\":\"k1\",\"to\":\"+14155550100\",\"type\":\"text\","
        "\"text\":\"hi\",\"route\":\"baileys\",\"windowUntilMs\":1000,\"routedAtMs\":5,"
        "\"channel\":\"baileys:+972500000001\",\"failoverChannel\":\"twilio:+14155238886\","
        "\"failoverWindowUntilMs\":0}";
    static const char before_tail[] =
        "\",\"idempotencyKey\":\"k1\",\"to\":\"+14155550100\",\"type\":\"text\","
        "\"text\":\"hi\",\"route\":\"baileys\",\"windowUntilMs\":1000,\"routedAtMs\":5}";
    char id[37], buf[1024];
    wa_outbound_id("k1", id);
    snprintf(buf, sizeof buf, "{\"v\":1,\"id\":\"%s%s", id, now_tail);
    json_t *root = wa_outbound_decode(buf, strlen(buf), WA_OUT_COMMAND, &o, err, sizeof err);
    assert_non_null(root);
    assert_string_equal(o.channel, "baileys:+972500000001");
    assert_string_equal(o.failover_channel, "twilio:+14155238886");
    assert_int_equal(o.failover_window_until_ms, 0);
    /* Re-engagement on: the hold's length travels too, and comes back as it went. */
    o.failover_hold_ms = 604800000;
    char *again = wa_outbound_encode(&o, WA_OUT_COMMAND);
    assert_non_null(strstr(again, "\"failoverChannel\":\"twilio:+14155238886\""));
    struct wa_outbound back;
    json_t *root2 =
        wa_outbound_decode(again, strlen(again), WA_OUT_COMMAND, &back, err, sizeof err);
    assert_non_null(root2);
    assert_int_equal(back.failover_hold_ms, 604800000);
    json_decref(root2);
    free(again);
    json_decref(root);
    snprintf(buf, sizeof buf, "{\"v\":1,\"id\":\"%s%s", id, before_tail);
    root = wa_outbound_decode(buf, strlen(buf), WA_OUT_COMMAND, &o, err, sizeof err);
    assert_non_null(root);
    assert_null(o.channel);
    assert_int_equal(o.failover_window_until_ms, 1000);
    json_decref(root);
}

/* sender-twilio sends from the command's number when it is one of its own, else refuses. */
static void test_twilio_from(void **state)
{
    (void)state;
    char err[200], buf[40];
    stw_nchannels = wa_channel_list("twilio", "whatsapp:+14155238886,whatsapp:+14155550199",
                                    stw_channels, WA_CHANNELS_MAX, err, sizeof err);
    assert_int_equal(stw_nchannels, 2);
    struct wa_outbound o = {0};
    assert_string_equal(stw_from(&o, buf, sizeof buf), "whatsapp:+14155238886");
    o.channel = "twilio";
    assert_string_equal(stw_from(&o, buf, sizeof buf), "whatsapp:+14155238886");
    o.channel = "twilio:+14155550199";
    assert_string_equal(stw_from(&o, buf, sizeof buf), "whatsapp:+14155550199");
    o.channel = "twilio:+14155550777";
    assert_null(stw_from(&o, buf, sizeof buf));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_list),
        cmocka_unit_test(test_entries),
        cmocka_unit_test(test_baileys_sessions),
        cmocka_unit_test(test_command_fields),
        cmocka_unit_test(test_twilio_from),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
