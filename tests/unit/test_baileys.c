/* test_baileys.c - the bridge's JSON body to events, and the IP allowlist, table-driven. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ingress.h"
#include "wa_net.h"
#include "wa_outbound.h"

#define NOW 1795478400000LL

static json_t *ok(const char *body, enum ing_baileys_kind want_kind, const char *want_key)
{
    char *ev = NULL, key[17], err[256] = "";
    enum ing_baileys_kind kind;
    print_message("body=%s\n", body);
    int r = ing_baileys_normalize(body, strlen(body), NOW, &ev, &kind, key, err, sizeof err);
    if (r != 0) print_message("error=%s\n", err);
    assert_int_equal(r, 0);
    assert_int_equal(kind, want_kind);
    assert_string_equal(key, want_key);
    json_t *j = json_loads(ev, 0, NULL);
    assert_non_null(j);
    free(ev);
    return j;
}

static const char *str(json_t *o, const char *path1, const char *path2)
{
    json_t *v = json_object_get(o, path1);
    if (path2) v = json_object_get(v, path2);
    return json_string_value(v);
}

static void test_text_message(void **state)
{
    (void)state;
    json_t *j =
        ok("{\"remoteJid\":\"972501234567@s.whatsapp.net\",\"messageId\":\"3EB0C767D0\","
           "\"timestamp\":1795478000,\"type\":\"text\",\"text\":\"\\u05e9\\u05dc\\u05d5\\u05dd\","
           "\"media\":null,\"pushName\":\"Dana\",\"phone\":null,\"futureField\":1}",
           ING_BAILEYS_MESSAGE, "972501234567");
    assert_string_equal(str(j, "provider", NULL), "baileys");
    assert_string_equal(str(j, "provider_message_id", NULL),
                        "972501234567@s.whatsapp.net/3EB0C767D0");
    assert_string_equal(str(j, "contact", "phone"), "+972501234567");
    assert_string_equal(str(j, "contact", "profile_name"), "Dana");
    assert_string_equal(str(j, "text", NULL), "\xd7\xa9\xd7\x9c\xd7\x95\xd7\x9d");
    /* Received long after the second WhatsApp stamped: the end of that second. */
    assert_int_equal(json_integer_value(json_object_get(j, "timestamp_ms")), 1795478000999LL);
    assert_int_equal(json_integer_value(json_object_get(j, "received_ms")), NOW);
    /* The whole body is kept, unknown fields included. */
    assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "raw"), "futureField")),
                     1);
    json_decref(j);
}

static void test_lid_media_location(void **state)
{
    (void)state;
    /* A LID chat: the bridge knows the phone; both are kept. */
    json_t *j = ok("{\"event\":\"message\",\"remoteJid\":\"123456789@lid\",\"messageId\":\"A1\","
                   "\"timestamp\":1795478000,\"type\":\"image\",\"text\":\"caption\","
                   "\"media\":{\"mimetype\":\"image/jpeg\",\"size\":1234,\"url\":\"http://"
                   "127.0.0.1:3001/media/x\"},"
                   "\"phone\":\"+14155550100\",\"lid\":\"123456789@lid\"}",
                   ING_BAILEYS_MESSAGE, "14155550100");
    assert_string_equal(str(j, "contact", "lid"), "123456789@lid");
    json_t *m = json_array_get(json_object_get(j, "media"), 0);
    assert_string_equal(str(m, "mime", NULL), "image/jpeg");
    assert_int_equal(json_integer_value(json_object_get(m, "size")), 1234);
    json_decref(j);

    j = ok("{\"remoteJid\":\"14155550100:7@s.whatsapp.net\",\"messageId\":\"L1\",\"type\":"
           "\"location\","
           "\"location\":{\"latitude\":32.0853,\"longitude\":34.781768,\"name\":\"Office\"}}",
           ING_BAILEYS_MESSAGE, "14155550100");
    assert_string_equal(str(j, "location", "latitude"), "32.0853");
    assert_string_equal(str(j, "location", "label"), "Office");
    assert_int_equal(json_integer_value(json_object_get(j, "timestamp_ms")), NOW);
    json_decref(j);
}

/* Media the bridge could not download, the seed's literal "media" type, and media with no
 * declared size or type: the message reaches the CRM with its text in every case. */
static void test_media_shapes(void **state)
{
    (void)state;
    static const struct {
        const char *type, *media;
        const char *want_type, *want_mime, *want_url, *want_unavailable;
        long long want_size;
    } cases[] = {
        {"image",
         "{\"url\":null,\"mimetype\":\"image/jpeg\",\"size\":null,"
         "\"unavailable\":\"download_failed: 410 Gone after 5 tries\"}",
         "image", "image/jpeg", NULL, "download_failed: 410 Gone after 5 tries", -1},
        {"document", "{\"url\":null,\"unavailable\":\"too_large: 200000000 bytes\"}", "document",
         NULL, NULL, "too_large: 200000000 bytes", -1},
        {"media", "{\"url\":\"http://b/media/1\",\"mimetype\":\"image/png\",\"size\":9}", "image",
         "image/png", "http://b/media/1", NULL, 9},
        {"media", "{\"url\":\"http://b/media/2\",\"mimetype\":\"video/mp4\"}", "video", "video/mp4",
         "http://b/media/2", NULL, -1},
        {"media", "{\"url\":\"http://b/media/3\",\"mimetype\":\"audio/ogg\"}", "audio", "audio/ogg",
         "http://b/media/3", NULL, -1},
        {"media", "{\"url\":\"http://b/media/4\"}", "document", NULL, "http://b/media/4", NULL, -1},
        {"document", "{\"url\":\"https://b/media/5\",\"mimetype\":null,\"size\":0}", "document",
         NULL, "https://b/media/5", NULL, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char body[600];
        snprintf(body, sizeof body,
                 "{\"remoteJid\":\"972501234567@s.whatsapp.net\",\"messageId\":\"M%zu\","
                 "\"type\":\"%s\",\"text\":\"the caption\",\"media\":%s}",
                 i, cases[i].type, cases[i].media);
        json_t *j = ok(body, ING_BAILEYS_MESSAGE, "972501234567");
        assert_string_equal(str(j, "type", NULL), cases[i].want_type);
        assert_string_equal(str(j, "text", NULL), "the caption");
        json_t *m = json_array_get(json_object_get(j, "media"), 0);
        assert_non_null(m);
        const char *mime = str(m, "mime", NULL), *url = str(m, "url", NULL);
        const char *why = str(m, "unavailable", NULL);
        if (cases[i].want_mime)
            assert_string_equal(mime, cases[i].want_mime);
        else
            assert_null(mime);
        if (cases[i].want_url)
            assert_string_equal(url, cases[i].want_url);
        else
            assert_null(json_object_get(m, "url"));
        if (cases[i].want_unavailable)
            assert_string_equal(why, cases[i].want_unavailable);
        else
            assert_null(why);
        json_t *size = json_object_get(m, "size");
        if (cases[i].want_size >= 0)
            assert_int_equal(json_integer_value(size), cases[i].want_size);
        else
            assert_null(size);
        /* What ingress produces, the router reads back. */
        char *enc = json_dumps(j, JSON_COMPACT), err[256];
        struct wa_inbound back;
        json_t *root = wa_inbound_decode(enc, strlen(enc), &back, err, sizeof err);
        if (!root) print_message("decode: %s\n", err);
        assert_non_null(root);
        assert_int_equal(back.nmedia, 1);
        assert_true(!back.media[0].url == !cases[i].want_url);
        assert_true(!back.media[0].unavailable == !cases[i].want_unavailable);
        json_decref(root);
        free(enc);
        json_decref(j);
    }
}

static void test_timestamp_refined_within_its_second(void **state)
{
    (void)state;
    static const struct {
        long long ts_s, now_ms, want_ms;
    } cases[] = {
        {1795478400, 1795478400352LL, 1795478400352LL}, /* same second: our finer clock */
        {1795478400, 1795478403000LL, 1795478400999LL}, /* delivered later: end of its second */
        {1795478400, 1795478399000LL, 1795478400000LL}, /* our clock behind: its second's start */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char body[200], *ev = NULL, key[17], err[256];
        enum ing_baileys_kind kind;
        snprintf(body, sizeof body,
                 "{\"remoteJid\":\"972501234567@s.whatsapp.net\",\"messageId\":\"T%zu\","
                 "\"type\":\"text\",\"timestamp\":%lld}",
                 i, cases[i].ts_s);
        assert_int_equal(ing_baileys_normalize(body, strlen(body), cases[i].now_ms, &ev, &kind, key,
                                               err, sizeof err),
                         0);
        json_t *j = json_loads(ev, 0, NULL);
        assert_int_equal(json_integer_value(json_object_get(j, "timestamp_ms")), cases[i].want_ms);
        json_decref(j);
        free(ev);
    }
}

static void test_receipts(void **state)
{
    (void)state;
    static const struct {
        const char *given, *ours;
    } cases[] = {{"sent", "sent"},
                 {"delivered", "delivered"},
                 {"read", "read"},
                 {"played", "read"},
                 {"error", "failed"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char body[256];
        snprintf(body, sizeof body,
                 "{\"event\":\"status\",\"remoteJid\":\"972501234567@s.whatsapp.net\","
                 "\"messageId\":\"OUT1\",\"status\":\"%s\",\"timestamp\":1795478000}",
                 cases[i].given);
        json_t *j = ok(body, ING_BAILEYS_STATUS, "972501234567");
        assert_string_equal(str(j, "status", NULL), cases[i].ours);
        assert_string_equal(str(j, "provider_status", NULL), cases[i].given);
        assert_string_equal(str(j, "source", NULL), "receipt");
        assert_string_equal(str(j, "provider_message_id", NULL),
                            "972501234567@s.whatsapp.net/OUT1");
        json_decref(j);
    }
}

/* A receipt for a message we sent names its idempotencyKey: the status then
 * carries our message id, the same one the send API gave for that key. */
static void test_receipt_names_our_message(void **state)
{
    (void)state;
    const char *body = "{\"event\":\"status\",\"remoteJid\":\"972501234567@s.whatsapp.net\","
                       "\"messageId\":\"OUT2\",\"status\":\"delivered\","
                       "\"idempotencyKey\":\"order-1042-confirmation\"}";
    char want[37];
    wa_outbound_id("order-1042-confirmation", want);
    json_t *j = ok(body, ING_BAILEYS_STATUS, "972501234567");
    assert_string_equal(str(j, "message_id", NULL), want);
    assert_string_equal(str(j, "provider_message_id", NULL), "972501234567@s.whatsapp.net/OUT2");
    /* and the router's decoder reads it back */
    char *text = json_dumps(j, JSON_COMPACT);
    struct wa_status st;
    char err[256];
    json_t *root = wa_status_decode(text, strlen(text), &st, err, sizeof err);
    assert_non_null(root);
    assert_string_equal(st.message_id, want);
    json_decref(root);
    free(text);
    json_decref(j);

    /* A receipt without a key (a message sent from the phone) has no id of ours. */
    j = ok("{\"event\":\"status\",\"remoteJid\":\"972501234567@s.whatsapp.net\","
           "\"messageId\":\"OUT3\",\"status\":\"read\"}",
           ING_BAILEYS_STATUS, "972501234567");
    assert_null(json_object_get(j, "message_id"));
    json_decref(j);
}

/* The bridge names its session's own number as "self": a message carries it as "to" (the
 * channel it came in on), and the router reads it back. Without it, no "to". A receipt with it is
 * taken (an unknown field must not park the chat's receipts) and keeps it in raw only. */
static void test_self_is_our_number(void **state)
{
    (void)state;
    static const struct {
        const char *self, *want_to;
    } cases[] = {
        {"\"+972500000002\"", "+972500000002"},
        {"\"972500000002\"", "+972500000002"}, /* digits: normalized as any phone */
        {"null", NULL},
        {NULL, NULL}, /* not logged in yet, or a bridge older than the field */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char body[300], self[64] = "";
        if (cases[i].self) snprintf(self, sizeof self, ",\"self\":%s", cases[i].self);
        snprintf(body, sizeof body,
                 "{\"event\":\"message\",\"remoteJid\":\"972501234567@s.whatsapp.net\","
                 "\"messageId\":\"S%zu\",\"type\":\"text\",\"text\":\"hi\"%s}",
                 i, self);
        json_t *j = ok(body, ING_BAILEYS_MESSAGE, "972501234567");
        if (cases[i].want_to)
            assert_string_equal(str(j, "to", NULL), cases[i].want_to);
        else
            assert_null(json_object_get(j, "to"));
        assert_string_equal(str(j, "contact", "phone"), "+972501234567");
        char *enc = json_dumps(j, JSON_COMPACT), err[256];
        struct wa_inbound back;
        json_t *root = wa_inbound_decode(enc, strlen(enc), &back, err, sizeof err);
        assert_non_null(root);
        if (cases[i].want_to)
            assert_string_equal(back.to, cases[i].want_to);
        else
            assert_null(back.to);
        json_decref(root);
        free(enc);
        json_decref(j);
    }

    json_t *j = ok("{\"event\":\"status\",\"remoteJid\":\"972501234567@s.whatsapp.net\","
                   "\"messageId\":\"OUT9\",\"status\":\"delivered\",\"self\":\"+972500000002\"}",
                   ING_BAILEYS_STATUS, "972501234567");
    assert_string_equal(str(j, "status", NULL), "delivered");
    assert_string_equal(str(j, "raw", "self"), "+972500000002");
    json_decref(j);
}

static void test_refusals(void **state)
{
    (void)state;
    static const struct {
        const char *body, *reason;
    } cases[] = {
        {"", "invalid JSON"},
        {"[1]", "JSON object"},
        {"{\"remoteJid\":\"x@s.whatsapp.net\",\"remoteJid\":\"y\"}", "invalid JSON"}, /* dup key */
        {"{\"messageId\":\"1\",\"type\":\"text\"}", "remoteJid is required"},
        {"{\"remoteJid\":\"972501234567@s.whatsapp.net\",\"type\":\"text\"}", "messageId"},
        {"{\"remoteJid\":\"status@broadcast\",\"messageId\":\"1\",\"type\":\"text\"}", "broadcast"},
        {"{\"remoteJid\":\"123@lid\",\"messageId\":\"1\",\"type\":\"text\"}", "no phone number"},
        {"{\"remoteJid\":\"972501234567@s.whatsapp.net\",\"messageId\":\"1\",\"type\":\"fax\"}",
         "type must be"},
        {"{\"remoteJid\":\"972501234567@s.whatsapp.net\",\"messageId\":\"1\",\"type\":\"text\","
         "\"text\":5}",
         "text must be a string"},
        {"{\"remoteJid\":\"972501234567@s.whatsapp.net\",\"messageId\":\"1\",\"type\":\"text\","
         "\"timestamp\":\"yesterday\"}",
         "timestamp"},
        {"{\"remoteJid\":\"972501234567@s.whatsapp.net\",\"messageId\":\"1\",\"type\":\"text\","
         "\"phone\":\"not a phone\"}",
         "E.164"},
        {"{\"remoteJid\":\"972501234567@s.whatsapp.net\",\"messageId\":\"1\",\"type\":\"image\","
         "\"media\":{\"url\":\"file:///etc/passwd\",\"mimetype\":\"image/png\"}}",
         "http(s)"},
        {"{\"remoteJid\":\"972501234567@s.whatsapp.net\",\"messageId\":\"1\",\"type\":\"image\","
         "\"media\":{\"url\":null,\"mimetype\":\"image/png\"}}",
         "media.unavailable says why"},
        {"{\"remoteJid\":\"972501234567@s.whatsapp.net\",\"messageId\":\"1\",\"type\":\"image\","
         "\"media\":{\"url\":\"http://b/m\",\"unavailable\":\"x\"}}",
         "give one"},
        {"{\"remoteJid\":\"972501234567@s.whatsapp.net\",\"messageId\":\"1\",\"type\":\"image\","
         "\"media\":{\"url\":null,\"unavailable\":\"\"}}",
         "1 to 500 bytes"},
        {"{\"remoteJid\":\"972501234567@s.whatsapp.net\",\"messageId\":\"1\",\"type\":\"image\","
         "\"media\":{\"url\":\"http://b/m\",\"size\":\"big\"}}",
         "media.size"},
        {"{\"remoteJid\":\"972501234567@s.whatsapp.net\",\"messageId\":\"1\",\"type\":\"image\","
         "\"media\":[1]}",
         "media must be an object"},
        {"{\"remoteJid\":\"972501234567@s.whatsapp.net\",\"messageId\":\"1\",\"type\":\"text\","
         "\"fromMe\":true}",
         "fromMe"},
        {"{\"event\":\"status\",\"remoteJid\":\"972501234567@s.whatsapp.net\",\"messageId\":\"1\","
         "\"status\":\"seen\"}",
         "status must be"},
        {"{\"event\":\"status\",\"remoteJid\":\"972501234567@s.whatsapp.net\",\"messageId\":\"1\","
         "\"status\":\"read\",\"idempotencyKey\":\"\"}",
         "idempotencyKey must be"},
        {"{\"event\":\"status\",\"remoteJid\":\"972501234567@s.whatsapp.net\",\"messageId\":\"1\","
         "\"status\":\"read\",\"idempotencyKey\":7}",
         "idempotencyKey must be a string"},
        {"{\"event\":\"typing\",\"remoteJid\":\"972501234567@s.whatsapp.net\",\"messageId\":\"1\"}",
         "event must be"},
        {"{\"remoteJid\":\"972501234567@s.whatsapp.net\",\"messageId\":\"1\",\"type\":\"text\","
         "\"text\":\"a\\u0000b\"}",
         "invalid JSON"},
        {"{\"remoteJid\":\"972501234567@s.whatsapp.net\",\"messageId\":\"1\",\"type\":\"text\","
         "\"self\":\"972500000001:12@s.whatsapp.net\"}",
         "self is not a phone number"},
        {"{\"remoteJid\":\"972501234567@s.whatsapp.net\",\"messageId\":\"1\",\"type\":\"text\","
         "\"self\":\"+1234567\"}",
         "self is not a phone number"},
        {"{\"remoteJid\":\"972501234567@s.whatsapp.net\",\"messageId\":\"1\",\"type\":\"text\","
         "\"self\":972500000001}",
         "self must be a string"},
        {"{\"event\":\"status\",\"remoteJid\":\"972501234567@s.whatsapp.net\",\"messageId\":\"1\","
         "\"status\":\"read\",\"self\":\"\"}",
         "self is not a phone number"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *ev = NULL, key[17], err[256] = "";
        enum ing_baileys_kind kind;
        print_message("body=%s\n", cases[i].body);
        assert_int_equal(ing_baileys_normalize(cases[i].body, strlen(cases[i].body), NOW, &ev,
                                               &kind, key, err, sizeof err),
                         -1);
        assert_null(ev);
        print_message("error=%s\n", err);
        assert_non_null(strstr(err, cases[i].reason));
    }
}

static void test_ip_allowlist(void **state)
{
    (void)state;
    static const struct {
        const char *list, *ip;
        int want;
    } cases[] = {
        {"", "203.0.113.9", 0},
        {NULL, "203.0.113.9", 0},
        {"127.0.0.1", "127.0.0.1", 1},
        {"127.0.0.1", "127.0.0.2", 0},
        {"10.0.0.0/8, 172.16.0.0/12", "172.20.1.1", 1},
        {"10.0.0.0/8, 172.16.0.0/12", "172.32.0.1", 0},
        {"0.0.0.0/0", "8.8.8.8", 1},
        {"127.0.0.1", "", 0},
        {"127.0.0.1", "::1", 0},
        {"garbage", "127.0.0.1", 0},
        /* A malformed prefix length matches nothing: it was read as /0, allowing everyone. */
        {"10.1.2.0/", "8.8.8.8", 0},
        {"10.1.2.0/x", "8.8.8.8", 0},
        {"10.1.2.0/33", "10.1.2.3", 0},
        {"10.1.2.0/-1", "8.8.8.8", 0},
        {"10.1.2.0/24", "10.1.2.200", 1},
        {"10.1.2.0/24", "10.1.3.1", 0},
        /* IPv6, and the families kept apart. */
        {"::1", "::1", 1},
        {"2001:db8::/32", "2001:db8:5::1", 1},
        {"2001:db8::/32", "2001:db9::1", 0},
        {"2001:db8::/33", "2001:db8:8000::1", 0},
        {"::/0", "10.0.0.1", 0},
        {"0.0.0.0/0", "::1", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        print_message("%s ~ %s\n", cases[i].list ? cases[i].list : "(null)", cases[i].ip);
        assert_int_equal(wa_netlist_match(cases[i].list, cases[i].ip), cases[i].want);
    }
    /* Checked at start: one clear line for the first bad entry. */
    char err[200];
    assert_int_equal(wa_netlist_check("10.0.0.0/8, 2001:db8::/32, 127.0.0.1", err, sizeof err), 0);
    assert_int_equal(wa_netlist_check("", err, sizeof err), 0);
    static const char *const bad[] = {"10.1.2.0/", "10.1.2.0/x", "10.0.0.0/8,,1.2.3.4",
                                      "1.2.3",     "::1/129",    "10.0.0.0/8 /8"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(wa_netlist_check(bad[i], err, sizeof err), -1);
        print_message("%s -> %s\n", bad[i], err);
        assert_non_null(strstr(err, "is not an address or a network"));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text_message),
        cmocka_unit_test(test_lid_media_location),
        cmocka_unit_test(test_media_shapes),
        cmocka_unit_test(test_timestamp_refined_within_its_second),
        cmocka_unit_test(test_receipts),
        cmocka_unit_test(test_receipt_names_our_message),
        cmocka_unit_test(test_self_is_our_number),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_ip_allowlist),
    };
    return cmocka_run_group_tests_name("baileys_normalize", tests, NULL, NULL);
}
