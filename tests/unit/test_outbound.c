/* test_outbound.c - the send request codec, message ids, backoff, the rate limit, and what each
 * provider answer means to the senders; table-driven. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "ingress.h"
#include "sender_baileys.h"
#include "sender_twilio.h"
#include "wa_backoff.h"
#include "wa_event.h"
#include "wa_outbound.h"

static void test_decode_table(void **state)
{
    (void)state;
    static const struct {
        const char *json;
        const char *err; /* NULL: valid */
    } cases[] = {
        {"{\"to\":\"+14155550100\",\"type\":\"text\",\"text\":\"hi\",\"idempotencyKey\":\"k\"}",
         NULL},
        {"{\"to\":\"whatsapp:+14155550100\",\"type\":\"media\",\"media\":{\"url\":\"https://x.test/"
         "a.jpg\",\"caption\":\"c\",\"mimetype\":\"image/jpeg\"},\"idempotencyKey\":\"k\"}",
         NULL},
        {"{\"to\":\"+14155550100\",\"type\":\"template\",\"template\":{\"contentSid\":"
         "\"HX0123456789abcdef0123456789abcdef\",\"variables\":{\"1\":\"a\"}},\"provider\":"
         "\"twilio\",\"idempotencyKey\":\"k\"}",
         NULL},
        {"{\"to\":\"+14155550100\",\"type\":\"text\",\"text\":\"hi\"}", "idempotencyKey: required"},
        {"{\"to\":\"+14155550100\",\"type\":\"text\",\"text\":\"hi\",\"idempotencyKey\":\"\"}",
         "idempotencyKey: must not be empty"},
        {"{\"to\":\"+14155550100\",\"type\":\"text\",\"text\":\"hi\",\"idempotencyKey\":\"a\\nb\"}",
         "control character"},
        {"{\"to\":\"+14155550100\",\"type\":\"text\",\"text\":\"a\\u0000b\",\"idempotencyKey\":"
         "\"k\"}",
         "NUL"},
        {"{\"to\":\"12\",\"type\":\"text\",\"text\":\"hi\",\"idempotencyKey\":\"k\"}",
         "to: not a phone number"},
        {"{\"type\":\"text\",\"text\":\"hi\",\"idempotencyKey\":\"k\"}", "to: required"},
        {"{\"to\":\"+14155550100\",\"text\":\"hi\",\"idempotencyKey\":\"k\"}", "type: required"},
        {"{\"to\":\"+14155550100\",\"type\":\"text\",\"idempotencyKey\":\"k\"}",
         "text: required for type text"},
        {"{\"to\":\"+14155550100\",\"type\":\"text\",\"text\":\"hi\",\"media\":{\"url\":\"https://"
         "x.test/a\"},\"idempotencyKey\":\"k\"}",
         "type text takes only text"},
        {"{\"to\":\"+14155550100\",\"type\":\"media\",\"media\":{\"mediaId\":17},"
         "\"idempotencyKey\":\"k\"}",
         NULL},
        {"{\"to\":\"+14155550100\",\"type\":\"media\",\"media\":{\"mediaId\":\"17\"},"
         "\"idempotencyKey\":\"k\"}",
         NULL},
        {"{\"to\":\"+14155550100\",\"type\":\"media\",\"media\":{\"mediaId\":0},"
         "\"idempotencyKey\":\"k\"}",
         "media.mediaId: a stored media id is a positive integer"},
        {"{\"to\":\"+14155550100\",\"type\":\"media\",\"media\":{\"mediaId\":1.5},"
         "\"idempotencyKey\":\"k\"}",
         "media.mediaId: must be a string"},
        {"{\"to\":\"+14155550100\",\"type\":\"media\",\"media\":{},\"idempotencyKey\":\"k\"}",
         "exactly one of url and mediaId"},
        {"{\"to\":\"+14155550100\",\"type\":\"media\",\"media\":{\"url\":\"file:///etc/passwd\"},"
         "\"idempotencyKey\":\"k\"}",
         "media.url"},
        {"{\"to\":\"+14155550100\",\"type\":\"media\",\"media\":{\"url\":\"https://x.test/a\","
         "\"size\":1},\"idempotencyKey\":\"k\"}",
         "media.unknown field \"size\""},
        {"{\"to\":\"+14155550100\",\"type\":\"template\",\"template\":{\"contentSid\":\"HX12\"},"
         "\"idempotencyKey\":\"k\"}",
         "template.contentSid"},
        {"{\"to\":\"+14155550100\",\"type\":\"template\",\"template\":{\"contentSid\":"
         "\"HX0123456789abcdef0123456789abcdef\",\"variables\":{\"1\":2}},\"idempotencyKey\":"
         "\"k\"}",
         "template.variables.1: must be a string"},
        {"{\"to\":\"+14155550100\",\"type\":\"text\",\"text\":\"hi\",\"provider\":\"sms\","
         "\"idempotencyKey\":\"k\"}",
         "provider: must be twilio or baileys"},
        {"{\"to\":\"+14155550100\",\"type\":\"text\",\"text\":\"hi\",\"channel\":"
         "\"baileys:+972500000002\",\"idempotencyKey\":\"k\"}",
         NULL},
        {"{\"to\":\"+14155550100\",\"type\":\"text\",\"text\":\"hi\",\"channel\":"
         "\"whatsapp:+14155238886\",\"idempotencyKey\":\"k\"}",
         "channel: must be twilio:+<E.164>"},
        {"{\"to\":\"+14155550100\",\"type\":\"text\",\"text\":\"hi\",\"channel\":"
         "\"twilio:+14155238886\",\"provider\":\"baileys\",\"idempotencyKey\":\"k\"}",
         "channel: twilio:+14155238886 is a twilio number, but provider says baileys"},
        {"{\"to\":\"+14155550100\",\"type\":\"text\",\"text\":\"hi\",\"id\":\"x\","
         "\"idempotencyKey\":\"k\"}",
         "unknown field \"id\""},
        {"{\"to\":\"+14155550100\",\"type\":\"text\",\"text\":\"hi\",\"to\":\"+14155550101\","
         "\"idempotencyKey\":\"k\"}",
         "not valid JSON"},
        {"[1]", "must be a JSON object"},
        {"", "not valid JSON"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct wa_outbound o;
        char err[256] = "";
        json_t *root = wa_outbound_decode(cases[i].json, strlen(cases[i].json), WA_OUT_API, &o, err,
                                          sizeof err);
        print_message("case %zu: %s -> %s\n", i, cases[i].json, root ? "ok" : err);
        if (!cases[i].err) {
            assert_non_null(root);
            assert_string_equal(o.to, "+14155550100");
            assert_int_equal(strlen(o.id), 36);
        } else {
            assert_null(root);
            assert_non_null(strstr(err, cases[i].err));
        }
        json_decref(root);
    }
}

static void test_text_limit_counts_characters(void **state)
{
    (void)state;
    /* 4096 Hebrew letters are 8192 bytes and still allowed; one more is not. */
    for (int extra = 0; extra <= 1; extra++) {
        struct wa_buf b = {0};
        wa_buf_appendf(
            &b, "{\"to\":\"+972501234567\",\"type\":\"text\",\"idempotencyKey\":\"k\",\"text\":\"");
        for (int i = 0; i < 4096 + extra; i++)
            wa_buf_append(&b, "ש", strlen("ש"));
        wa_buf_append(&b, "\"}", 2);
        struct wa_outbound o;
        char err[256];
        json_t *root = wa_outbound_decode(b.data, b.len, WA_OUT_API, &o, err, sizeof err);
        if (extra)
            assert_null(root);
        else
            assert_non_null(root);
        json_decref(root);
        wa_buf_free(&b);
    }
}

static void test_ids_and_commands(void **state)
{
    (void)state;
    char a[37], b[37], c[37];
    wa_outbound_id("order-1", a);
    wa_outbound_id("order-1", b);
    wa_outbound_id("order-2", c);
    assert_string_equal(a, b);
    assert_string_not_equal(a, c);
    assert_true(wa_uuid_valid(a));
    assert_int_equal(a[14], '8');           /* RFC 9562 version 8 */
    assert_non_null(strchr("89ab", a[19])); /* variant 10 */

    const char *req = "{\"to\":\"+14155550100\",\"type\":\"text\",\"text\":\"שלום 👋\","
                      "\"idempotencyKey\":\"order-1\"}";
    struct wa_outbound o, back;
    char err[256];
    json_t *root = wa_outbound_decode(req, strlen(req), WA_OUT_API, &o, err, sizeof err);
    assert_non_null(root);
    assert_string_equal(o.id, a);
    o.route = "baileys";
    o.window_until_ms = 1795478400000;
    o.requested_ms = 1795478000000;
    o.reason = "reply via source (Baileys)";
    char *cmd = wa_outbound_encode(&o, WA_OUT_COMMAND);
    json_t *r2 = wa_outbound_decode(cmd, strlen(cmd), WA_OUT_COMMAND, &back, err, sizeof err);
    assert_non_null(r2);
    assert_string_equal(back.id, a);
    assert_string_equal(back.text, "שלום 👋");
    assert_string_equal(back.route, "baileys");
    assert_int_equal(back.window_until_ms, 1795478400000);
    assert_int_equal(back.requested_ms, 1795478000000);
    assert_false(back.failover);
    /* A command is not a request: the routing fields are refused there. */
    json_t *r3 = wa_outbound_decode(cmd, strlen(cmd), WA_OUT_RECORD, &back, err, sizeof err);
    assert_null(r3);
    assert_non_null(strstr(err, "unknown field"));
    /* A record whose id does not belong to its key is refused. */
    const char *forged =
        "{\"v\":1,\"id\":\"00000000-0000-8000-8000-000000000000\",\"to\":"
        "\"+14155550100\",\"type\":\"text\",\"text\":\"x\",\"idempotencyKey\":\"k\"}";
    assert_null(wa_outbound_decode(forged, strlen(forged), WA_OUT_RECORD, &back, err, sizeof err));
    assert_non_null(strstr(err, "id: does not belong"));
    free(cmd);
    json_decref(r2);
    json_decref(root);
}

static void test_backoff(void **state)
{
    (void)state;
    /* Without jitter (r = 0.5): 1 s, 2 s, 4 s … capped at 30 s. */
    static const int64_t want[] = {1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000};
    for (int i = 0; i < 8; i++)
        assert_int_equal(wa_backoff_ms(i + 1, 1000, 30000, 0.2, 0.5), want[i]);
    /* ±20 %, and never above the cap. */
    assert_int_equal(wa_backoff_ms(1, 1000, 30000, 0.2, 0.0), 800);
    assert_in_range(wa_backoff_ms(1, 1000, 30000, 0.2, 0.999999), 1199, 1200);
    assert_int_equal(wa_backoff_ms(9, 1000, 30000, 0.2, 0.999999), 30000);
    assert_int_equal(wa_backoff_ms(100, 1000, 30000, 0.2, 0.0), 24000);
    /* A longer Retry-After wins, within the cap. */
    assert_int_equal(wa_backoff_pause(1, 1000, 30000, 5000), 5000);
    assert_int_equal(wa_backoff_pause(1, 1000, 30000, 90000), 30000);
    assert_in_range(wa_backoff_pause(3, 1000, 30000, 10), 3200, 4800);
    for (int i = 0; i < 1000; i++) {
        double r = wa_jitter_random();
        assert_true(r >= 0.0 && r < 1.0);
    }
}

static void test_number_rates(void **state)
{
    (void)state;
    char ch[WA_CHANNELS_MAX][WA_CHANNEL_MAX] = {"twilio:+14155238886", "twilio:+14155550199",
                                                "twilio:+442071838750"};
    double r[WA_CHANNELS_MAX];
    char err[300];
    /* Every number at TWILIO_RATE_PER_SECOND ... */
    assert_int_equal(stw_rates_parse("", 80, ch, 3, r, err, sizeof err), 0);
    for (int i = 0; i < 3; i++)
        assert_true(r[i] == 80);
    /* ... but those TWILIO_NUMBER_RATES names, in any form of the number. */
    assert_int_equal(stw_rates_parse("+14155550199=40, whatsapp:+442071838750=0.5", 80, ch, 3, r,
                                     err, sizeof err),
                     0);
    assert_true(r[0] == 80 && r[1] == 40 && r[2] == 0.5);
    static const struct {
        const char *spec, *why;
    } bad[] = {
        {"+15005550006=10", "+15005550006 is not a number of TWILIO_WA_FROM"},
        {"+14155550199=0", "the rate must be a number of messages per second from 0.01 to 10000"},
        {"+14155550199=fast", "the rate must be"},
        {"+14155550199=20000", "the rate must be"},
        {"+14155550199=nan", "the rate must be"},
        {"+14155550199", "needs a value"},
        {"12=4", "TWILIO_NUMBER_RATES"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        assert_int_equal(stw_rates_parse(bad[i].spec, 80, ch, 3, r, err, sizeof err), -1);
        if (!strstr(err, bad[i].why))
            fail_msg("%s: \"%s\" lacks \"%s\"", bad[i].spec, err, bad[i].why);
    }
}

static struct wa_client_result answer(long status, int sent, int refused, const char *body)
{
    struct wa_client_result r;
    memset(&r, 0, sizeof r);
    r.status = status;
    r.sent = sent;
    r.refused = refused;
    wa_buf_append(&r.body, body, strlen(body));
    wa_buf_append(&r.body, "", 1);
    r.body.len--;
    snprintf(r.error, sizeof r.error, "%s", status ? "" : "Timeout was reached");
    return r;
}

static void test_twilio_verdicts(void **state)
{
    (void)state;
    static const struct {
        long status;
        int sent;
        const char *body;
        enum wa_verdict want;
        const char *code;
    } cases[] = {
        {201, 1, "{\"sid\":\"SM0123456789abcdef0123456789abcdef\",\"status\":\"queued\"}",
         WA_VERDICT_SENT, ""},
        {201, 1, "{}", WA_VERDICT_SENT, "no_sid"},
        {429, 1, "{\"code\":20429,\"message\":\"Too Many Requests\",\"status\":429}",
         WA_VERDICT_RETRY, "20429"},
        {503, 1, "{\"code\":20503,\"message\":\"Service unavailable\"}", WA_VERDICT_RETRY, "20503"},
        {500, 1, "not json", WA_VERDICT_RETRY, "http_500"},
        /* From a gateway in front of the API: it may have passed the request on. */
        {502, 1, "<html>Bad Gateway</html>", WA_VERDICT_UNKNOWN, "http_502"},
        {504, 1, "", WA_VERDICT_UNKNOWN, "http_504"},
        {400, 1, "{\"code\":21211,\"message\":\"Invalid 'To' Phone Number\"}", WA_VERDICT_FAILED,
         "21211"},
        {401, 1, "{\"code\":20003,\"message\":\"Authenticate\"}", WA_VERDICT_FAILED, "20003"},
        {0, 0, "", WA_VERDICT_RETRY, "transport"},
        {0, 1, "", WA_VERDICT_UNKNOWN, "unknown_outcome"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct wa_client_result r = answer(cases[i].status, cases[i].sent, 0, cases[i].body);
        struct wa_outcome oc;
        stw_classify(&r, &oc);
        print_message("case %zu: http %ld -> %d %s\n", i, cases[i].status, oc.verdict, oc.code);
        assert_int_equal(oc.verdict, cases[i].want);
        assert_string_equal(oc.code, cases[i].code);
        if (cases[i].want == WA_VERDICT_SENT && !cases[i].code[0])
            assert_string_equal(oc.id, "SM0123456789abcdef0123456789abcdef");
        wa_buf_free(&r.body);
    }
}

static void test_twilio_find_created(void **state)
{
    (void)state;
    /* 1795478445000 ms is Tue, 24 Nov 2026 00:00:45 +0000. */
    static const char *const msg_fmt =
        "{\"sid\":\"%s\",\"to\":\"%s\",\"from\":\"whatsapp:+14155238886\",\"direction\":"
        "\"%s\",\"body\":\"%s\",\"date_created\":\"%s\"}";
    static const struct {
        const char *sid, *to, *dir, *body, *date;
        int want;
    } cases[] = {
        {"SM1", "whatsapp:+972501234567", "outbound-api", "hello",
         "Tue, 24 Nov 2026 00:00:45 +0000", 1},
        /* the same second, written in another zone */
        {"SM2", "whatsapp:+972501234567", "outbound-api", "hello",
         "Tue, 24 Nov 2026 02:00:45 +0200", 1},
        {"SM3", "whatsapp:+972501234567", "outbound-api", "hello",
         "Tue, 24 Nov 2026 00:00:43 +0000", 0}, /* made before our call: an earlier message */
        {"SM4", "whatsapp:+972501234568", "outbound-api", "hello",
         "Tue, 24 Nov 2026 00:00:46 +0000", 0}, /* another number */
        {"SM5", "whatsapp:+972501234567", "inbound", "hello", "Tue, 24 Nov 2026 00:00:46 +0000", 0},
        {"SM6", "whatsapp:+972501234567", "outbound-api", "hello!",
         "Tue, 24 Nov 2026 00:00:46 +0000", 0}, /* another text */
        {"SM7", "whatsapp:+972501234567", "outbound-api", "hello", "yesterday", 0},
    };
    struct wa_outbound o;
    memset(&o, 0, sizeof o);
    snprintf(o.to, sizeof o.to, "%s", "+972501234567");
    o.text = "hello";
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char msg[512], list[700], sid[64] = "";
        snprintf(msg, sizeof msg, msg_fmt, cases[i].sid, cases[i].to, cases[i].dir, cases[i].body,
                 cases[i].date);
        snprintf(list, sizeof list, "{\"messages\":[%s],\"page\":0}", msg);
        print_message("case %zu: %s\n", i, cases[i].sid);
        assert_int_equal(stw_find_created(list, strlen(list), &o, "whatsapp:+14155238886",
                                          1795478445400LL, sid, sizeof sid),
                         cases[i].want);
        if (cases[i].want) assert_string_equal(sid, cases[i].sid);
    }
    /* A template's body is its rendered content: any outbound message made since counts. */
    o.text = NULL;
    o.content_sid = "HX0123456789abcdef0123456789abcdef";
    const char *tpl = "{\"messages\":[{\"sid\":\"SM8\",\"to\":\"whatsapp:+972501234567\",\"from\":"
                      "\"whatsapp:+14155238886\",\"direction\":\"outbound-api\",\"body\":\"Hi "
                      "Dana\",\"date_created\":\"Tue, 24 Nov 2026 00:00:46 +0000\"}]}";
    char sid[64];
    assert_int_equal(stw_find_created(tpl, strlen(tpl), &o, "whatsapp:+14155238886",
                                      1795478445400LL, sid, sizeof sid),
                     1);
    assert_int_equal(stw_find_created("<html>", 6, &o, "whatsapp:+14155238886", 0, sid, sizeof sid),
                     -1);
    assert_int_equal(
        stw_find_created("{\"messages\":[]}", 15, &o, "whatsapp:+14155238886", 0, sid, sizeof sid),
        0);
}

static void test_twilio_form(void **state)
{
    (void)state;
    CURL *h = curl_easy_init();
    struct wa_outbound o;
    memset(&o, 0, sizeof o);
    snprintf(o.id, sizeof o.id, "%s", "0d4c0a52-6a6b-8f5e-9d2c-6c3e2e7b9a11");
    snprintf(o.to, sizeof o.to, "%s", "+972501234567");
    o.type = "text";
    o.text = "שלום & +1";
    struct wa_buf f = {0};
    stw_form(h, &o, "whatsapp:+14155238886", "https://wa.example.com/", &f);
    assert_string_equal(
        f.data, "To=whatsapp%3A%2B972501234567&From=whatsapp%3A%2B14155238886&Body=%D7%A9%D7%9C%"
                "D7%95%D7%9D%20%26%20%2B1&StatusCallback=https%3A%2F%2Fwa.example.com%2Fapi%"
                "2Fwhatsapp%2Ftwilio%2Fstatus%3Fid%3D0d4c0a52-6a6b-8f5e-9d2c-6c3e2e7b9a11");
    wa_buf_free(&f);

    json_t *vars = json_pack("{s:s}", "1", "Dana");
    o.type = "template";
    o.text = NULL;
    o.content_sid = "HX0123456789abcdef0123456789abcdef";
    o.variables = vars;
    stw_form(h, &o, "whatsapp:+14155238886", "https://wa.example.com", &f);
    assert_non_null(strstr(f.data, "&ContentSid=HX0123456789abcdef0123456789abcdef&"
                                   "ContentVariables=%7B%221%22%3A%22Dana%22%7D&"));
    assert_null(strstr(f.data, "Body="));
    wa_buf_free(&f);
    json_decref(vars);

    o.type = "media";
    o.content_sid = NULL;
    o.variables = NULL;
    o.media_url = "https://cdn.example.com/a b.jpg";
    o.caption = "look";
    stw_form(h, &o, "whatsapp:+14155238886", "https://wa.example.com", &f);
    assert_non_null(
        strstr(f.data, "&MediaUrl=https%3A%2F%2Fcdn.example.com%2Fa%20b.jpg&Body=look&"));
    wa_buf_free(&f);
    curl_easy_cleanup(h);
}

static void test_bridge_verdicts(void **state)
{
    (void)state;
    static const struct {
        long status;
        int sent, refused;
        const char *body;
        enum wa_verdict want;
        int earlier_unknown;
    } cases[] = {
        {200, 1, 0, "{\"ok\":true,\"messageId\":\"3EB0AA\"}", WA_VERDICT_SENT, 0},
        {200, 1, 0, "{\"ok\":true,\"messageId\":\"3EB0AA\",\"duplicate\":true}", WA_VERDICT_SENT,
         0},
        {503, 1, 0, "{\"ok\":false,\"error\":\"not_connected\"}", WA_VERDICT_DOWN, 0},
        /* Down, and an earlier attempt with this key was in flight: down, but not unsent. */
        {503, 1, 0, "{\"ok\":false,\"error\":\"not_connected\",\"earlierAttempt\":\"unknown\"}",
         WA_VERDICT_DOWN, 1},
        {0, 0, 1, "", WA_VERDICT_DOWN, 0},    /* connection refused */
        {0, 0, 0, "", WA_VERDICT_DOWN, 0},    /* connect timeout: nothing left */
        {0, 1, 0, "", WA_VERDICT_UNKNOWN, 0}, /* timeout after the request was written */
        {502, 1, 0, "{\"ok\":false,\"error\":\"send_failed\",\"retryable\":true}",
         WA_VERDICT_UNKNOWN, 0},
        {503, 1, 0, "{\"ok\":false,\"error\":\"overloaded\"}", WA_VERDICT_RETRY, 0},
        {429, 1, 0, "{\"ok\":false,\"error\":\"rate_limited\",\"retryAfterMs\":200}",
         WA_VERDICT_RETRY, 0},
        {400, 1, 0, "{\"ok\":false,\"error\":\"bad_request\",\"reason\":\"bad to\"}",
         WA_VERDICT_FAILED, 0},
        {401, 1, 0, "{\"error\":\"missing_secret\"}", WA_VERDICT_FAILED, 0},
        {200, 1, 0, "{\"ok\":true}", WA_VERDICT_UNKNOWN, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct wa_client_result r =
            answer(cases[i].status, cases[i].sent, cases[i].refused, cases[i].body);
        struct wa_outcome oc;
        sbl_classify(&r, &oc);
        print_message("case %zu: http %ld -> %d %s\n", i, cases[i].status, oc.verdict, oc.text);
        assert_int_equal(oc.verdict, cases[i].want);
        assert_int_equal(oc.earlier_unknown, cases[i].earlier_unknown);
        if (oc.verdict == WA_VERDICT_SENT) assert_string_equal(oc.id, "3EB0AA");
        wa_buf_free(&r.body);
    }
}

static void test_bridge_request(void **state)
{
    (void)state;
    struct wa_outbound o;
    memset(&o, 0, sizeof o);
    snprintf(o.to, sizeof o.to, "%s", "+972501234567");
    o.idempotency_key = "k1";
    o.type = "media";
    o.media_url = "https://x.test/a.pdf";
    o.caption = "the contract";
    char *s = sbl_request(&o, NULL);
    assert_string_equal(s, "{\"to\":\"+972501234567\",\"idempotencyKey\":\"k1\",\"type\":\"media\","
                           "\"mediaUrl\":\"https://x.test/a.pdf\",\"caption\":\"the contract\"}");
    free(s);
    /* An operator's upload keeps its name (a document shows it). */
    s = sbl_request(&o, "חוזה שכירות.pdf");
    assert_non_null(strstr(s, ",\"fileName\":\"חוזה שכירות.pdf\"}"));
    free(s);
}

static void test_twilio_status_callback(void **state)
{
    (void)state;
    static const char body[] =
        "MessageSid=SM0123456789abcdef0123456789abcdef&MessageStatus=undelivered&"
        "To=whatsapp%3A%2B972501234567&From=whatsapp%3A%2B14155238886&ErrorCode=63016&"
        "ErrorMessage=outside+the+window&ChannelPrefix=whatsapp";
    struct wa_form f;
    char err[256], phone[17], id[37];
    assert_int_equal(wa_form_parse(body, strlen(body), &f, err, sizeof err), 0);
    struct wa_status st;
    json_t *raw;
    assert_int_equal(ing_twilio_status_normalize(
                         &f, "/api/whatsapp/twilio/status?id=0d4c0a52-6a6b-8f5e-9d2c-6c3e2e7b9a11",
                         1000, &st, phone, id, &raw, err, sizeof err),
                     0);
    assert_string_equal(st.message_id, "0d4c0a52-6a6b-8f5e-9d2c-6c3e2e7b9a11");
    assert_string_equal(st.status, "undelivered");
    assert_string_equal(st.error_code, "63016");
    assert_string_equal(st.phone, "+972501234567");
    char *enc = wa_status_encode(&st);
    struct wa_status back;
    json_t *r2 = wa_status_decode(enc, strlen(enc), &back, err, sizeof err);
    assert_non_null(r2);
    assert_string_equal(back.provider_message_id, "SM0123456789abcdef0123456789abcdef");
    assert_string_equal(back.error_text, "outside the window");
    assert_string_equal(json_string_value(json_object_get(back.raw, "ChannelPrefix")), "whatsapp");
    free(enc);
    json_decref(r2);
    json_decref(raw);
    wa_form_free(&f);

    /* Our words for Twilio's; an inbound status is not ours; a bad id is ignored. */
    static const struct {
        const char *twilio, *ours;
    } words[] = {{"accepted", "queued"}, {"sending", "queued"},
                 {"sent", "sent"},       {"read", "read"},
                 {"canceled", "failed"}, {"received", NULL},
                 {"receiving", NULL},    {"partially_delivered", "delivered"}};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
        char b[200];
        snprintf(b, sizeof b, "MessageSid=SM1&MessageStatus=%s", words[i].twilio);
        assert_int_equal(wa_form_parse(b, strlen(b), &f, err, sizeof err), 0);
        int r = ing_twilio_status_normalize(&f, "/api/whatsapp/twilio/status?id=nope", 1, &st,
                                            phone, id, &raw, err, sizeof err);
        if (words[i].ours) {
            assert_int_equal(r, 0);
            assert_string_equal(st.status, words[i].ours);
            assert_null(st.message_id);
            json_decref(raw);
        } else {
            assert_int_equal(r, -1);
        }
        wa_form_free(&f);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decode_table),
        cmocka_unit_test(test_text_limit_counts_characters),
        cmocka_unit_test(test_ids_and_commands),
        cmocka_unit_test(test_backoff),
        cmocka_unit_test(test_number_rates),
        cmocka_unit_test(test_twilio_verdicts),
        cmocka_unit_test(test_twilio_form),
        cmocka_unit_test(test_twilio_find_created),
        cmocka_unit_test(test_bridge_verdicts),
        cmocka_unit_test(test_bridge_request),
        cmocka_unit_test(test_twilio_status_callback),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
