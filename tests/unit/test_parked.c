/* test_parked.c - the bridge's report of a parked outbox entry to its wa.error record. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ingress.h"

static json_t *ok(const char *body, const char *want_key)
{
    char *rec = NULL, key[ING_PARKED_KEY_MAX], err[256] = "";
    print_message("body=%s\n", body);
    int r = ing_parked_normalize(body, strlen(body), &rec, key, err, sizeof err);
    if (r != 0) print_message("error=%s\n", err);
    assert_int_equal(r, 0);
    assert_string_equal(key, want_key);
    json_t *j = json_loads(rec, 0, NULL);
    assert_non_null(j);
    free(rec);
    return j;
}

static const char *str(json_t *o, const char *k1, const char *k2)
{
    json_t *v = json_object_get(o, k1);
    if (k2) v = json_object_get(v, k2);
    return json_string_value(v);
}

static void test_refused_message(void **state)
{
    (void)state;
    /* A 7-digit number ingress does not take (docs: Niue), refused with 400. */
    const char *payload = "{\"event\":\"message\",\"remoteJid\":\"6834002@s.whatsapp.net\","
                          "\"messageId\":\"3EB0A\",\"text\":\"\\u05e9\\u05dc\\u05d5\\u05dd\","
                          "\"phone\":\"+6834002\"}";
    json_t *p = json_string(payload);
    char *pj = json_dumps(p, JSON_ENCODE_ANY);
    char body[2048];
    snprintf(body, sizeof body,
             "{\"file\":\"01795478400000000001.json\",\"kind\":\"message\",\"chat\":"
             "\"6834002@s.whatsapp.net\",\"status\":400,\"response\":\"{\\\"error\\\":\\\"bad_"
             "request\\\"}\",\"rejectedAt\":\"2026-11-24T10:00:00.000Z\",\"payload\":%s,"
             "\"payloadBytes\":%zu,\"truncated\":false,\"future\":1}",
             pj, strlen(payload));
    free(pj);
    json_decref(p);
    /* No phone ingress takes: keyed by the file. */
    json_t *j = ok(body, "01795478400000000001.json");
    assert_string_equal(str(j, "stage", NULL), "baileys-bridge");
    assert_string_equal(str(j, "code", NULL), "rejected_by_ingress");
    assert_string_equal(str(j, "provider", NULL), "baileys");
    assert_true(json_is_false(json_object_get(j, "retryable")));
    /* The payload, exactly as the bridge had it: nothing is lost. */
    assert_string_equal(str(j, "payload", NULL), payload);
    assert_null(json_object_get(j, "payload_base64"));
    assert_null(json_object_get(j, "contact"));
    assert_string_equal(str(j, "parked", "file"), "01795478400000000001.json");
    assert_string_equal(str(j, "parked", "kind"), "message");
    assert_string_equal(str(j, "parked", "response"), "{\"error\":\"bad_request\"}");
    assert_string_equal(str(j, "parked", "rejected_at"), "2026-11-24T10:00:00.000Z");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "parked"), "status")),
                     400);
    assert_true(json_is_false(json_object_get(json_object_get(j, "parked"), "truncated")));
    const char *text = str(j, "text", NULL);
    assert_non_null(strstr(text, "outbox/rejected/01795478400000000001.json"));
    assert_non_null(strstr(text, "ingress answered 400"));
    assert_null(strstr(text, "first"));
    json_decref(j);
}

static void test_contact_key(void **state)
{
    (void)state;
    /* A receipt ingress refused (413 say), with a phone: the contact's key and partition. */
    json_t *j = ok("{\"file\":\"a.json\",\"kind\":\"status\",\"status\":413,"
                   "\"payload\":\"{\\\"remoteJid\\\":\\\"972501234567:3@s.whatsapp.net\\\"}\","
                   "\"payloadBytes\":45,\"truncated\":false}",
                   "972501234567");
    assert_string_equal(str(j, "contact", "phone"), "+972501234567");
    json_decref(j);
    j = ok("{\"file\":\"b.json\",\"kind\":\"message\",\"status\":400,"
           "\"payload\":\"{\\\"remoteJid\\\":\\\"1@lid\\\",\\\"phone\\\":\\\"+14155550100\\\"}\","
           "\"payloadBytes\":44,\"truncated\":false}",
           "14155550100");
    json_decref(j);
    /* Refused for a "\u0000" in its text, the payload still names its contact. */
    j = ok("{\"file\":\"n.json\",\"kind\":\"message\",\"status\":400,"
           "\"payload\":\"{\\\"phone\\\":\\\"+972501234567\\\",\\\"text\\\":\\\"a\\\\u0000b\\\"}\","
           "\"payloadBytes\":43,\"truncated\":false}",
           "972501234567");
    json_decref(j);
}

static void test_truncated(void **state)
{
    (void)state;
    /* The first bytes of a large payload: said so, with the whole size; the key is the file's
     * (a cut payload is not read for a phone). */
    json_t *j =
        ok("{\"file\":\"c.json\",\"kind\":\"message\",\"status\":413,\"response\":\"too "
           "large\",\"payload\":\"{\\\"phone\\\":\\\"+972501234567\\\",\\\"text\\\":\\\"aaa\","
           "\"payloadBytes\":700000,\"truncated\":true}",
           "c.json");
    assert_true(json_is_true(json_object_get(json_object_get(j, "parked"), "truncated")));
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(j, "parked"), "payload_bytes")), 700000);
    const char *text = str(j, "text", NULL);
    assert_non_null(strstr(text, "first 36 of 700000 bytes"));
    assert_non_null(strstr(text, "the whole entry stays in the bridge's outbox/rejected/c.json"));
    json_decref(j);
}

static void test_unreadable(void **state)
{
    (void)state;
    json_t *j = ok("{\"file\":\"d.json\",\"kind\":\"unreadable\",\"reason\":\"Unexpected end of "
                   "JSON input\",\"payload\":\"{\\\"chat\\\":\",\"payloadBytes\":8,"
                   "\"truncated\":false}",
                   "d.json");
    assert_string_equal(str(j, "code", NULL), "unreadable_entry");
    assert_string_equal(str(j, "payload", NULL), "{\"chat\":");
    assert_non_null(strstr(str(j, "text", NULL), "could not read an outbox entry"));
    json_decref(j);
}

static void test_long_response_excerpt(void **state)
{
    (void)state;
    /* The human text repeats at most 300 bytes of the answer, cut between characters; the
     * whole answer is in parked.response. */
    char resp[1200] = "";
    for (int i = 0; i < 200; i++)
        strcat(resp, "\xd7\xa9"); /* 2 bytes each: 400 bytes */
    char body[2048];
    snprintf(body, sizeof body,
             "{\"file\":\"e.json\",\"kind\":\"message\",\"status\":422,\"response\":\"%s\","
             "\"payload\":\"x\",\"payloadBytes\":1,\"truncated\":false}",
             resp);
    json_t *j = ok(body, "e.json");
    assert_string_equal(str(j, "parked", "response"), resp);
    const char *text = str(j, "text", NULL);
    assert_null(strstr(text, resp));
    assert_non_null(strstr(text, "…"));
    json_decref(j);
}

static void test_refusals(void **state)
{
    (void)state;
    static const struct {
        const char *body, *why;
    } cases[] = {
        {"", "invalid JSON"},
        {"[]", "must be a JSON object"},
        {"{\"kind\":\"message\",\"status\":400,\"payload\":\"\",\"payloadBytes\":0,\"truncated\":"
         "false}",
         "file is required"},
        {"{\"file\":\"../etc/passwd\",\"kind\":\"m\",\"status\":400,\"payload\":\"\","
         "\"payloadBytes\":0,\"truncated\":false}",
         "file must be a file name"},
        {"{\"file\":\".hidden\",\"kind\":\"m\",\"status\":400,\"payload\":\"\",\"payloadBytes\":0,"
         "\"truncated\":false}",
         "file must be a file name"},
        {"{\"file\":\"a\",\"status\":400,\"payload\":\"\",\"payloadBytes\":0,\"truncated\":false}",
         "kind is required"},
        {"{\"file\":\"a\",\"kind\":\"\",\"status\":400,\"payload\":\"\",\"payloadBytes\":0,"
         "\"truncated\":false}",
         "kind must not be empty"},
        {"{\"file\":\"a\",\"kind\":\"m\",\"status\":500,\"payload\":\"\",\"payloadBytes\":0,"
         "\"truncated\":false}",
         "status must be ingress's 4xx"},
        {"{\"file\":\"a\",\"kind\":\"m\",\"status\":\"400\",\"payload\":\"\",\"payloadBytes\":0,"
         "\"truncated\":false}",
         "status must be ingress's 4xx"},
        {"{\"file\":\"a\",\"kind\":\"m\",\"payload\":\"\",\"payloadBytes\":0,\"truncated\":false}",
         "status or reason is required"},
        {"{\"file\":\"a\",\"kind\":\"m\",\"status\":400,\"payloadBytes\":0,\"truncated\":false}",
         "payload is required"},
        {"{\"file\":\"a\",\"kind\":\"m\",\"status\":400,\"payload\":{},\"payloadBytes\":0,"
         "\"truncated\":false}",
         "payload must be a string"},
        {"{\"file\":\"a\",\"kind\":\"m\",\"status\":400,\"payload\":\"ab\",\"truncated\":false}",
         "payloadBytes must be"},
        {"{\"file\":\"a\",\"kind\":\"m\",\"status\":400,\"payload\":\"ab\",\"payloadBytes\":-1,"
         "\"truncated\":false}",
         "payloadBytes must be"},
        {"{\"file\":\"a\",\"kind\":\"m\",\"status\":400,\"payload\":\"ab\",\"payloadBytes\":2}",
         "truncated must be true or false"},
        {"{\"file\":\"a\",\"kind\":\"m\",\"status\":400,\"payload\":\"ab\",\"payloadBytes\":3,"
         "\"truncated\":false}",
         "payloadBytes must be the payload's size"},
        {"{\"file\":\"a\",\"kind\":\"m\",\"status\":400,\"payload\":\"ab\",\"payloadBytes\":2,"
         "\"truncated\":true}",
         "truncated: payloadBytes must be larger"},
        {"{\"file\":\"a\",\"file\":\"b\",\"kind\":\"m\",\"status\":400,\"payload\":\"\","
         "\"payloadBytes\":0,\"truncated\":false}",
         "invalid JSON"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *rec = (char *)"untouched", key[ING_PARKED_KEY_MAX], err[256] = "";
        int r =
            ing_parked_normalize(cases[i].body, strlen(cases[i].body), &rec, key, err, sizeof err);
        print_message("case %zu: %s -> %s\n", i, cases[i].body, err);
        assert_int_equal(r, -1);
        assert_null(rec);
        assert_non_null(strstr(err, cases[i].why));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_refused_message),
        cmocka_unit_test(test_contact_key),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_unreadable),
        cmocka_unit_test(test_long_response_excerpt),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
