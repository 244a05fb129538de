/* test_twilio_sig.c - X-Twilio-Signature against published vectors: twilio-python's
 * tests/unit/test_request_validator.py, twilio-go's client/request_validator_test.go and the
 * worked example on Twilio's "Webhooks security" page. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "wa_twilio_sig.h"

#define TOKEN "12345"
#define URL "https://mycompany.com/myapp.php?foo=1&bar=2"

static struct wa_form form_of(const char *body)
{
    struct wa_form f;
    char err[64];
    assert_int_equal(wa_form_parse(body, strlen(body), &f, err, sizeof err), 0);
    return f;
}

/* Vector A's parameters, form-encoded ('+' in a phone number is %2B). */
#define BODY_A                                                                                     \
    "CallSid=CA1234567890ABCDE&Caller=%2B14158675309&Digits=1234&From=%2B14158675309&To="          \
    "%2B18005551212"

static void sign_case(const char *url, const char *body, const char *want)
{
    struct wa_form f = form_of(body);
    char got[WA_TWILIO_SIG_LEN];
    wa_twilio_sign(TOKEN, url, &f, got);
    assert_string_equal(got, want);
    assert_true(wa_twilio_valid(TOKEN, url, &f, want));
    wa_form_free(&f);
}

static void test_vectors_sign(void **state)
{
    (void)state;
    static const struct {
        const char *label, *url, *body, *want;
    } cases[] = {
        {"A", URL, BODY_A, "RSOYDt4T1cUTdK1PDd93/VVr8B8="},
        {"A :443", "https://mycompany.com:443/myapp.php?foo=1&bar=2", BODY_A,
         "kvajT1Ptam85bY51eRf/AJRuM3w="},
        {"A http :80", "http://mycompany.com:80/myapp.php?foo=1&bar=2", BODY_A,
         "0ZXoZLH/DfblKGATFgpif+LLRf4="},
        {"A http :1234", "http://mycompany.com:1234/myapp.php?foo=1&bar=2", BODY_A,
         "Zmvh+3yNM1Phv2jhDCwEM3q5ebU="},
        {"B", URL,
         "CallSid=CA1234567890ABCDE&Caller=%2B12349013030&Digits=1234&From=%2B12349013030&To="
         "%2B18005551212",
         "0/KCTR6DLpKmkAf8muzZqo1nDgQ="},
        {"C repeated keys", URL, "Sid=CA123&SidAccount=AC123&Digits=5678&Digits=1234&Digits=1234",
         "IK+Dwps556ElfBT0I3Rgjkr1wJU="},
        {"E prefix order", URL, BODY_A "&ReasonConferenceEnded=test&Reason=Participant",
         "vOEb5UThFn24KEfnOFLQY2AE5FY="},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        print_message("vector %s\n", cases[i].label);
        sign_case(cases[i].url, cases[i].body, cases[i].want);
    }
}

/* Twilio's SDKs accept the signature of either port variant. */
static void test_port_variants(void **state)
{
    (void)state;
    struct wa_form f = form_of(BODY_A);
    /* Signed without the port, received with it, and the reverse. */
    assert_true(wa_twilio_valid(TOKEN, "https://mycompany.com:443/myapp.php?foo=1&bar=2", &f,
                                "RSOYDt4T1cUTdK1PDd93/VVr8B8="));
    assert_true(wa_twilio_valid(TOKEN, URL, &f, "kvajT1Ptam85bY51eRf/AJRuM3w="));
    /* An explicit non-standard port may be stripped: it validates against A. */
    assert_true(wa_twilio_valid(TOKEN, "https://mycompany.com:1234/myapp.php?foo=1&bar=2", &f,
                                "RSOYDt4T1cUTdK1PDd93/VVr8B8="));
    /* ...but a signature for another port does not cross over. */
    assert_false(wa_twilio_valid(TOKEN, URL, &f, "Zmvh+3yNM1Phv2jhDCwEM3q5ebU="));
    wa_form_free(&f);
}

static void test_rejects(void **state)
{
    (void)state;
    struct wa_form f = form_of(BODY_A);
    assert_false(wa_twilio_valid(TOKEN, URL, &f, "RSOYDt4T1cUTdK1PDd93/VVr8B8")); /* truncated */
    assert_false(wa_twilio_valid(TOKEN, URL, &f, "RSOYDt4T1cUTdK1PDd93/VVr8B8=="));
    assert_false(wa_twilio_valid(TOKEN, URL, &f, "rSOYDt4T1cUTdK1PDd93/VVr8B8="));
    assert_false(wa_twilio_valid(TOKEN, URL, &f, ""));
    assert_false(wa_twilio_valid(TOKEN, URL, &f, NULL));
    assert_false(wa_twilio_valid("54321", URL, &f, "RSOYDt4T1cUTdK1PDd93/VVr8B8="));
    assert_false(wa_twilio_valid(TOKEN, "https://mycompany.com/myapp.php?foo=1&bar=3", &f,
                                 "RSOYDt4T1cUTdK1PDd93/VVr8B8="));
    wa_form_free(&f);
    /* A value changed in transit. */
    f = form_of("CallSid=CA1234567890ABCDE&Caller=%2B14158675309&Digits=1235&From=%2B14158675309"
                "&To=%2B18005551212");
    assert_false(wa_twilio_valid(TOKEN, URL, &f, "RSOYDt4T1cUTdK1PDd93/VVr8B8="));
    wa_form_free(&f);
}

static void test_json_vector_d(void **state)
{
    (void)state;
    const char *body = "{\"property\": \"value\", \"boolean\": true}";
    const char *hash = "0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620";
    char url[256];
    snprintf(url, sizeof url, "%s&bodySHA256=%s", URL, hash);
    assert_true(
        wa_twilio_valid_json(TOKEN, url, body, strlen(body), "a9nBmqA0ju/hNViExpshrM61xv4="));
    snprintf(url, sizeof url, "https://mycompany.com/myapp.php?bodySHA256=%s", hash);
    assert_true(
        wa_twilio_valid_json(TOKEN, url, body, strlen(body), "y77kIzt2vzLz71DgmJGsen2scGs="));
    /* The body was altered: the hash no longer matches. */
    assert_false(wa_twilio_valid_json(TOKEN, url, "{}", 2, "y77kIzt2vzLz71DgmJGsen2scGs="));
}

static void test_url_variants(void **state)
{
    (void)state;
    char a[128], b[128];
    assert_int_equal(wa_twilio_url_variants("https://h.example/p?q=1", a, b, sizeof a), 0);
    assert_string_equal(a, "https://h.example/p?q=1");
    assert_string_equal(b, "https://h.example:443/p?q=1");
    assert_int_equal(wa_twilio_url_variants("http://u:pw@h.example:8080", a, b, sizeof a), 0);
    assert_string_equal(a, "http://u:pw@h.example");
    assert_string_equal(b, "http://u:pw@h.example:8080");
    assert_int_equal(wa_twilio_url_variants("no-scheme/path", a, b, sizeof a), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vectors_sign), cmocka_unit_test(test_port_variants),
        cmocka_unit_test(test_rejects),      cmocka_unit_test(test_json_vector_d),
        cmocka_unit_test(test_url_variants),
    };
    return cmocka_run_group_tests_name("twilio_signature", tests, NULL, NULL);
}
