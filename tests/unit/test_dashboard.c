/* test_dashboard.c - the dashboard API's query parameters, table-driven. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "dash.h"

struct dash_config dash_cfg; /* params.c reads none of it */
struct wa_media_store dash_store;

static void test_numbers(void **state)
{
    (void)state;
    char err[128];
    int v;
    static const struct {
        const char *in;
        int want; /* -1: refused */
    } limits[] = {{NULL, 50},
                  {"1", 1},
                  {"200", 200},
                  {"0", -1},
                  {"201", -1},
                  {"", -1},
                  {"-5", -1},
                  {"5x", -1},
                  {" 5", -1},
                  {"+5", -1},
                  {"99999999999999999999", -1}};
    for (size_t i = 0; i < sizeof limits / sizeof limits[0]; i++) {
        int r = dash_parse_limit(limits[i].in, &v, err, sizeof err);
        print_message("limit %s\n", limits[i].in ? limits[i].in : "(none)");
        if (limits[i].want < 0) {
            assert_int_equal(r, -1);
            assert_non_null(strstr(err, "limit"));
        } else {
            assert_int_equal(r, 0);
            assert_int_equal(v, limits[i].want);
        }
    }
    assert_int_equal(dash_parse_minutes(NULL, &v, err, sizeof err), 0);
    assert_int_equal(v, 60);
    assert_int_equal(dash_parse_minutes("1440", &v, err, sizeof err), 0);
    assert_int_equal(dash_parse_minutes("1441", &v, err, sizeof err), -1);
    char id[24];
    assert_int_equal(dash_parse_id("17", id, err, sizeof err), 0);
    assert_string_equal(id, "17");
    assert_int_equal(dash_parse_id("0", id, err, sizeof err), -1);
    assert_int_equal(dash_parse_id("abc", id, err, sizeof err), -1);
    assert_int_equal(dash_parse_id(NULL, id, err, sizeof err), -1);
    assert_int_equal(dash_parse_id("1;drop", id, err, sizeof err), -1);
}

static void test_cursors(void **state)
{
    (void)state;
    char err[128], a[24], b[24], ts[64], mid[40];
    assert_int_equal(dash_parse_lead_cursor(NULL, a, b, err, sizeof err), 0);
    assert_string_equal(a, "");
    assert_int_equal(dash_parse_lead_cursor("1795478400000_17", a, b, err, sizeof err), 0);
    assert_string_equal(a, "1795478400000");
    assert_string_equal(b, "17");
    static const char *const bad_leads[] = {"garbage", "_17", "1795_", "1_2_3",
                                            "-1_2",    "1_0", "1_x",   "12345678901234567890123_1"};
    for (size_t i = 0; i < sizeof bad_leads / sizeof bad_leads[0]; i++)
        assert_int_equal(dash_parse_lead_cursor(bad_leads[i], a, b, err, sizeof err), -1);

    const char *good = "2026-11-24 03:04:53.123456+00|0d4c0a52-6a6b-8f5e-9d2c-6c3e2e7b9a11";
    assert_int_equal(dash_parse_message_cursor(good, ts, mid, err, sizeof err), 0);
    assert_string_equal(ts, "2026-11-24 03:04:53.123456+00");
    assert_string_equal(mid, "0d4c0a52-6a6b-8f5e-9d2c-6c3e2e7b9a11");
    static const char *const bad_msgs[] = {"2026|nope",
                                           "|0d4c0a52-6a6b-8f5e-9d2c-6c3e2e7b9a11",
                                           "x';--|0d4c0a52-6a6b-8f5e-9d2c-6c3e2e7b9a11",
                                           "2026-11-24",
                                           "2026-11-24|",
                                           "2026-11-24|0d4c0a52-6a6b-8f5e-9d2c-6c3e2e7b9a1"};
    for (size_t i = 0; i < sizeof bad_msgs / sizeof bad_msgs[0]; i++) {
        print_message("cursor %s\n", bad_msgs[i]);
        assert_int_equal(dash_parse_message_cursor(bad_msgs[i], ts, mid, err, sizeof err), -1);
    }
}

/* Wrong tokens from one address: five in the window, then a wait; other addresses untouched. */
static void test_login_throttle(void **state)
{
    (void)state;
    dash_login_reset();
    const int64_t t0 = 1800000000000LL, W = DASH_LOGIN_WINDOW_MS;
    for (int i = 0; i < DASH_LOGIN_FAILURES - 1; i++) {
        assert_int_equal(dash_login_wait_ms("203.0.113.7", t0 + i), 0);
        dash_login_failed("203.0.113.7", t0 + i);
    }
    assert_int_equal(dash_login_wait_ms("203.0.113.7", t0 + 10), 0); /* four: still allowed */
    dash_login_failed("203.0.113.7", t0 + 10);                       /* the fifth */
    assert_int_equal(dash_login_wait_ms("203.0.113.7", t0 + 11), W - 1);
    assert_int_equal(dash_login_wait_ms("203.0.113.8", t0 + 11), 0);
    assert_int_equal(dash_login_wait_ms("2001:db8::1", t0 + 11), 0);
    /* The wait runs from the last failure, then the address starts afresh. */
    assert_int_equal(dash_login_wait_ms("203.0.113.7", t0 + 10 + W), 0);
    dash_login_failed("203.0.113.7", t0 + 10 + W);
    assert_int_equal(dash_login_wait_ms("203.0.113.7", t0 + 11 + W), 0);
    /* Failures spread wider than the window never add up to a wait. */
    dash_login_reset();
    for (int i = 0; i < 20; i++) {
        dash_login_failed("198.51.100.1", t0 + (int64_t)i * W);
        assert_int_equal(dash_login_wait_ms("198.51.100.1", t0 + (int64_t)i * W + 1), 0);
    }
    /* A success forgets the address's failures. */
    dash_login_reset();
    for (int i = 0; i < DASH_LOGIN_FAILURES - 1; i++)
        dash_login_failed("192.0.2.1", t0 + i);
    dash_login_succeeded("192.0.2.1");
    dash_login_failed("192.0.2.1", t0 + 100);
    assert_int_equal(dash_login_wait_ms("192.0.2.1", t0 + 101), 0);
    /* Many addresses: the table keeps working; the newest is remembered. */
    char ip[48];
    for (int i = 0; i < 2000; i++) {
        snprintf(ip, sizeof ip, "10.0.%d.%d", i / 256, i % 256);
        dash_login_failed(ip, t0 + i);
    }
    for (int k = 0; k < DASH_LOGIN_FAILURES; k++)
        dash_login_failed("10.9.9.9", t0 + 3000 + k);
    assert_true(dash_login_wait_ms("10.9.9.9", t0 + 3010) > 0);
}

static json_t *reply(const char *body, char *err)
{
    return dash_reply_request(body, strlen(body), "+972501234567", err, 256);
}

/* The operator's reply becomes the send API's request, or a refusal that says why. */
static void test_reply(void **state)
{
    (void)state;
    char err[256];
    json_t *r = reply("{\"idempotencyKey\":\"0f8fad5b-d9cb\",\"type\":\"text\",\"text\":\"hi\","
                      "\"channel\":\"twilio:+14155238886\"}",
                      err);
    assert_non_null(r);
    char *s = json_dumps(r, JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(s, "{\"channel\":\"twilio:+14155238886\",\"idempotencyKey\":"
                           "\"dashboard:0f8fad5b-d9cb\",\"text\":\"hi\",\"to\":\"+972501234567\","
                           "\"type\":\"text\"}");
    free(s);
    json_decref(r);
    r = reply(
        "{\"idempotencyKey\":\"0f8fad5b-d9cb\",\"type\":\"template\",\"template\":"
        "{\"contentSid\":\"HX00000000000000000000000000000002\",\"variables\":{\"1\":\"Dana\"}}}",
        err);
    assert_non_null(r);
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(json_object_get(r, "template"), "variables"), "1")),
                        "Dana");
    json_decref(r);
    static const char *const bad[][2] = {
        {"[]", "JSON object"},
        {"{\"type\":\"text\",\"text\":\"hi\"}", "idempotencyKey"},
        {"{\"idempotencyKey\":\"not hex!\",\"type\":\"text\",\"text\":\"hi\"}", "idempotencyKey"},
        {"{\"idempotencyKey\":\"0f8fad5b\",\"type\":\"media\",\"text\":\"hi\"}", "no text"},
        {"{\"idempotencyKey\":\"0f8fad5b\",\"type\":\"voice\",\"text\":\"hi\"}", "type"},
        {"{\"idempotencyKey\":\"0f8fad5b\",\"type\":\"text\",\"text\":\"  \"}", "text is required"},
        {"{\"idempotencyKey\":\"0f8fad5b\",\"type\":\"text\",\"text\":\"hi\",\"to\":\"+1\"}",
         "unknown field to"},
        {"{\"idempotencyKey\":\"0f8fad5b\",\"type\":\"text\",\"text\":\"hi\",\"channel\":\"sms\"}",
         "channel"},
        {"{\"idempotencyKey\":\"0f8fad5b\",\"type\":\"template\",\"template\":{\"contentSid\":"
         "\"HX1\"}}",
         "contentSid"},
        {"{\"idempotencyKey\":\"0f8fad5b\",\"type\":\"template\",\"template\":{\"contentSid\":"
         "\"HX00000000000000000000000000000002\",\"variables\":{\"1\":5}}}",
         "variables.1: must be a string"},
    };
    /* Its length is the send API's rule (characters, not bytes): 4096 letters of Hebrew pass. */
    char *text = malloc(4096 * 2 + 128), *p = text;
    p += sprintf(p, "{\"idempotencyKey\":\"0f8fad5b\",\"type\":\"text\",\"text\":\"");
    for (int i = 0; i < 4096; i++)
        p += sprintf(p, "\u05d0");
    strcpy(p, "\"}");
    r = reply(text, err);
    assert_non_null(r);
    json_decref(r);
    strcpy(p, "x\"}"); /* 4097 characters */
    assert_null(reply(text, err));
    assert_non_null(strstr(err, "text"));
    free(text);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        assert_null(reply(bad[i][0], err));
        assert_non_null(strstr(err, bad[i][1]));
    }
    int t;
    assert_int_equal(dash_reply_kind("template", &t, err, sizeof err), 0);
    assert_int_equal(t, 1);
    assert_int_equal(dash_reply_kind("media", &t, err, sizeof err), -1);
    assert_int_equal(dash_reply_channel("baileys", err, sizeof err), 0);
    assert_int_equal(dash_reply_channel("twilio:+14155238886", err, sizeof err), 0);
    assert_int_equal(dash_reply_channel("sms:+1", err, sizeof err), -1);
    assert_int_equal(dash_reply_template("HX00000000000000000000000000000002", err, sizeof err), 0);
    assert_int_equal(dash_reply_template("HX'; --", err, sizeof err), -1);
}

/* A media reply names the upload's mediaId; its words are the caption. */
static void test_media_reply(void **state)
{
    (void)state;
    char err[256];
    json_t *r = reply("{\"idempotencyKey\":\"0f8fad5b-d9cb\",\"type\":\"media\",\"media\":"
                      "{\"mediaId\":\"17\",\"caption\":\"the flat\"}}",
                      err);
    assert_non_null(r);
    char *s = json_dumps(r, JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(s, "{\"idempotencyKey\":\"dashboard:0f8fad5b-d9cb\",\"media\":{\"caption\":"
                           "\"the flat\",\"mediaId\":\"17\"},\"to\":\"+972501234567\",\"type\":"
                           "\"media\"}");
    free(s);
    json_decref(r);
    static const char *const bad[][2] = {
        {"{\"idempotencyKey\":\"0f8fad5b\",\"type\":\"media\"}", "media is required"},
        {"{\"idempotencyKey\":\"0f8fad5b\",\"type\":\"media\",\"media\":{}}", "mediaId"},
        {"{\"idempotencyKey\":\"0f8fad5b\",\"type\":\"media\",\"media\":{\"mediaId\":17}}",
         "mediaId"},
        {"{\"idempotencyKey\":\"0f8fad5b\",\"type\":\"media\",\"media\":{\"mediaId\":\"0\"}}",
         "mediaId"},
        {"{\"idempotencyKey\":\"0f8fad5b\",\"type\":\"media\",\"media\":{\"mediaId\":\"1x\"}}",
         "mediaId"},
        {"{\"idempotencyKey\":\"0f8fad5b\",\"type\":\"media\",\"media\":{\"url\":"
         "\"https://example.com/a.jpg\"}}",
         "unknown field url"},
        {"{\"idempotencyKey\":\"0f8fad5b\",\"type\":\"media\",\"media\":{\"mediaId\":\"1\","
         "\"caption\":5}}",
         "caption"},
        {"{\"idempotencyKey\":\"0f8fad5b\",\"type\":\"text\",\"text\":\"hi\",\"media\":"
         "{\"mediaId\":\"1\"}}",
         "only a media reply"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        assert_null(reply(bad[i][0], err));
        print_message("%zu: %s\n", i, err);
        assert_non_null(strstr(err, bad[i][1]));
    }
    /* The caption's length is the send API's rule (1024). */
    char body[1200];
    int n = snprintf(body, sizeof body,
                     "{\"idempotencyKey\":\"0f8fad5b\",\"type\":\"media\",\"media\":"
                     "{\"mediaId\":\"1\",\"caption\":\"");
    memset(body + n, 'a', 1025);
    strcpy(body + n + 1025, "\"}}");
    assert_null(reply(body, err));
    assert_non_null(strstr(err, "caption"));
}

/* The upload's headers, before a byte of the file is read. */
static void test_upload_request(void **state)
{
    (void)state;
    char words[32];
    dash_size_words(16000000, words, sizeof words);
    assert_string_equal(words, "16.0 MB");
    dash_size_words(999, words, sizeof words);
    assert_string_equal(words, "999 bytes");
    struct dash_upload_req u;
    unsigned status;
    char err[256];
    assert_int_equal(dash_upload_request("0f8fad5b-d9cb", "Image/JPEG; name=x", "2048",
                                         "plan%20A.jpg", 4096, &u, &status, err, sizeof err),
                     0);
    assert_string_equal(u.key, "dashboard:0f8fad5b-d9cb");
    assert_string_equal(u.mime, "image/jpeg");
    assert_int_equal(u.length, 2048);
    assert_string_equal(u.filename, "plan A.jpg");
    assert_int_equal(dash_upload_request("0f8fad5b", "application/octet-stream", NULL, NULL, 4096,
                                         &u, &status, err, sizeof err),
                     0);
    assert_string_equal(u.mime, ""); /* the browser does not know: the bytes decide */
    assert_int_equal(u.length, -1);
    assert_int_equal(
        dash_upload_request("0f8fad5b", NULL, "4096", NULL, 4096, &u, &status, err, sizeof err), 0);
    static const struct {
        const char *key, *ctype, *length;
        unsigned status;
        const char *says;
    } bad[] = {
        {NULL, "image/png", "10", 400, "Idempotency-Key"},
        {"short", "image/png", "10", 400, "Idempotency-Key"},
        {"0f8fad5b;drop", "image/png", "10", 400, "Idempotency-Key"},
        {"0f8fad5b", "image/png", "4097", 413,
         "too large to send: 4097 bytes, the most is 4096 bytes"},
        {"0f8fad5b", "image/png", "99999999999999999999", 400, "Content-Length"},
        {"0f8fad5b", "image/png", "-1", 400, "Content-Length"},
        {"0f8fad5b", "image/png", "", 400, "Content-Length"},
        {"0f8fad5b", "image", "10", 415, "type/subtype"},
        {"0f8fad5b", "image/png/x", "10", 415, "type/subtype"},
        {"0f8fad5b", "text/html\r\nX: y", "10", 415, "type/subtype"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        assert_int_equal(dash_upload_request(bad[i].key, bad[i].ctype, bad[i].length, NULL, 4096,
                                             &u, &status, err, sizeof err),
                         -1);
        print_message("%zu: %u %s\n", i, status, err);
        assert_int_equal(status, bad[i].status);
        assert_non_null(strstr(err, bad[i].says));
    }
}

/* The name a document keeps: what the page encoded, made safe; never a refusal. */
static void test_upload_filename(void **state)
{
    (void)state;
    static const char *const cases[][2] = {
        {"floor-plan.pdf", "floor-plan.pdf"},
        {"%D7%97%D7%95%D7%96%D7%94%20%D7%A9%D7%9B%D7%99%D7%A8%D7%95%D7%AA.pdf",
         "\xD7\x97\xD7\x95\xD7\x96\xD7\x94 \xD7\xA9\xD7\x9B\xD7\x99\xD7\xA8\xD7\x95\xD7\xAA.pdf"},
        {"C%3A%5Cfakepath%5Cplan.pdf", "plan.pdf"}, /* a path: its last segment */
        {"..%2F..%2Fetc%2Fpasswd", "passwd"},
        {"%20%20contract%20.pdf%20", "contract .pdf"},
        {"a%0Ab.pdf", ""},  /* a control character */
        {"a%00b.pdf", ""},  /* a NUL */
        {"%FF%FE.pdf", ""}, /* not UTF-8 */
        {"bad%zz.pdf", ""}, /* not percent-encoding */
        {"%2E%2E", ""},
        {"", ""},
    };
    char out[201];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        dash_upload_filename(cases[i][0], out, sizeof out);
        print_message("%zu: %s -> %s\n", i, cases[i][0], out);
        assert_string_equal(out, cases[i][1]);
    }
    dash_upload_filename(NULL, out, sizeof out);
    assert_string_equal(out, "");
    /* A long name is cut at a character, never inside one. */
    char lng[700] = "";
    for (int i = 0; i < 100; i++)
        strcat(lng, "%D7%90");
    dash_upload_filename(lng, out, 11);
    assert_string_equal(out, "\xD7\x90\xD7\x90\xD7\x90\xD7\x90\xD7\x90");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_numbers),         cmocka_unit_test(test_cursors),
        cmocka_unit_test(test_login_throttle),  cmocka_unit_test(test_reply),
        cmocka_unit_test(test_media_reply),     cmocka_unit_test(test_upload_request),
        cmocka_unit_test(test_upload_filename),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
