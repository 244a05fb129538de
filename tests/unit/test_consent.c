/* test_consent.c - stop and start keywords in English and Hebrew: exact words only, whatever
 * their case and the whitespace around them; and the Twilio failures that mean "no more". */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consent.h"

/* The defaults of router/main.c. */
#define OPTOUT "STOP,UNSUBSCRIBE,CANCEL,הסר,הסרה,ביטול"
#define OPTIN "START"

static void test_match(void **state)
{
    (void)state;
    struct rtr_keywords kw;
    char err[200] = "";
    assert_int_equal(rtr_keywords_load(&kw, OPTOUT, OPTIN, err, sizeof err), 0);
    assert_int_equal(kw.n, 7);
    static const struct {
        const char *text;
        enum rtr_consent want;
        const char *keyword;
    } cases[] = {
        /* English, any case, whitespace around */
        {"STOP", RTR_CONSENT_OPTOUT, "STOP"},
        {"stop", RTR_CONSENT_OPTOUT, "STOP"},
        {"Stop", RTR_CONSENT_OPTOUT, "STOP"},
        {"sToP", RTR_CONSENT_OPTOUT, "STOP"},
        {"  STOP  ", RTR_CONSENT_OPTOUT, "STOP"},
        {"\tstop\r\n", RTR_CONSENT_OPTOUT, "STOP"},
        {"\xc2\xa0Stop\xe2\x80\x8b", RTR_CONSENT_OPTOUT, "STOP"}, /* NBSP before, ZWSP after */
        {"unsubscribe", RTR_CONSENT_OPTOUT, "UNSUBSCRIBE"},
        {"Cancel\n", RTR_CONSENT_OPTOUT, "CANCEL"},
        {"START", RTR_CONSENT_OPTIN, "START"},
        {" start ", RTR_CONSENT_OPTIN, "START"},
        /* Hebrew: no case; the direction marks phones add, and vowel points, do not count */
        {"הסר", RTR_CONSENT_OPTOUT, "הסר"},
        {"  הסרה\n", RTR_CONSENT_OPTOUT, "הסרה"},
        {"ביטול", RTR_CONSENT_OPTOUT, "ביטול"},
        {"\xe2\x80\x8f"
         "ביטול"
         "\xe2\x80\x8e",
         RTR_CONSENT_OPTOUT, "ביטול"}, /* RLM, LRM */
        {"\xef\xbb\xbf"
         "הסר",
         RTR_CONSENT_OPTOUT, "הסר"},        /* a BOM */
        {"הָסֵר", RTR_CONSENT_OPTOUT, "הסר"}, /* with niqqud */
        {"\xe3\x80\x80"
         "הסר"
         "\xe2\x80\xaf",
         RTR_CONSENT_OPTOUT, "הסר"}, /* ideographic, NNBSP */
        /* Not a keyword: more words, a substring, punctuation, a word inside another */
        {"stop by tomorrow?", RTR_CONSENT_NONE, NULL},
        {"please stop", RTR_CONSENT_NONE, NULL},
        {"STOP!", RTR_CONSENT_NONE, NULL},
        {"stop.", RTR_CONSENT_NONE, NULL},
        {"STOPS", RTR_CONSENT_NONE, NULL},
        {"sto", RTR_CONSENT_NONE, NULL},
        {"S T O P", RTR_CONSENT_NONE, NULL},
        {"nonstop", RTR_CONSENT_NONE, NULL},
        {"cancellation", RTR_CONSENT_NONE, NULL},
        {"restart", RTR_CONSENT_NONE, NULL},
        {"start now", RTR_CONSENT_NONE, NULL},
        {"הסר אותי מהרשימה", RTR_CONSENT_NONE, NULL},
        {"ביטולים", RTR_CONSENT_NONE, NULL},
        {"לא הסר", RTR_CONSENT_NONE, NULL},
        {"הס", RTR_CONSENT_NONE, NULL},
        {"stop\xe2\x80\x8bnow", RTR_CONSENT_NONE, NULL}, /* an invisible mark is no separator */
        /* Nothing, blanks only, not UTF-8 */
        {"", RTR_CONSENT_NONE, NULL},
        {"   \n", RTR_CONSENT_NONE, NULL},
        {"st\xffop", RTR_CONSENT_NONE, NULL},
        {"STOP\xc0\xaf", RTR_CONSENT_NONE, NULL},     /* an overlong '/' */
        {"\xed\xa0\x80STOP", RTR_CONSENT_NONE, NULL}, /* a surrogate */
        {"STOP\xe2\x80", RTR_CONSENT_NONE, NULL},     /* cut short */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *keyword = "unset";
        print_message("%zu: \"%s\"\n", i, cases[i].text);
        assert_int_equal(rtr_consent_match(&kw, cases[i].text, strlen(cases[i].text), &keyword),
                         cases[i].want);
        if (cases[i].keyword)
            assert_string_equal(keyword, cases[i].keyword);
        else
            assert_null(keyword);
    }
    const char *keyword;
    assert_int_equal(rtr_consent_match(&kw, NULL, 0, &keyword), RTR_CONSENT_NONE);
    /* A NUL inside the text is part of it: "STOP\0x" is not STOP. */
    assert_int_equal(rtr_consent_match(&kw, "STOP\0x", 6, &keyword), RTR_CONSENT_NONE);
    /* A long text is read to its end and matches nothing. */
    char big[5000];
    memset(big, ' ', sizeof big);
    memcpy(big + 2000, "STOP", 4);
    assert_int_equal(rtr_consent_match(&kw, big, sizeof big, &keyword), RTR_CONSENT_OPTOUT);
    memcpy(big + 3000, "x", 1);
    assert_int_equal(rtr_consent_match(&kw, big, sizeof big, &keyword), RTR_CONSENT_NONE);
}

static void test_configured(void **state)
{
    (void)state;
    struct rtr_keywords kw;
    char err[200] = "";
    /* Other languages: Latin with accents and Cyrillic fold too; spaces around entries go. */
    assert_int_equal(
        rtr_keywords_load(&kw, " Arrêt , ÉLŐSZÓ,СТОП", " Júlia,הרשמה ", err, sizeof err), 0);
    const char *keyword;
    static const struct {
        const char *text;
        enum rtr_consent want;
    } cases[] = {
        {"arrêt", RTR_CONSENT_OPTOUT},  {"ARRÊT", RTR_CONSENT_OPTOUT}, {"arret", RTR_CONSENT_NONE},
        {"élőszó", RTR_CONSENT_OPTOUT}, {"стоп", RTR_CONSENT_OPTOUT},  {"JÚLIA", RTR_CONSENT_OPTIN},
        {"הרשמה", RTR_CONSENT_OPTIN},   {"STOP", RTR_CONSENT_NONE}, /* not configured here */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        print_message("\"%s\"\n", cases[i].text);
        assert_int_equal(rtr_consent_match(&kw, cases[i].text, strlen(cases[i].text), &keyword),
                         cases[i].want);
    }
    assert_int_equal(rtr_consent_match(&kw, " arrêt", 7, &keyword), RTR_CONSENT_OPTOUT);
    assert_string_equal(keyword, "Arrêt");

    static const struct {
        const char *optout, *optin, *err_has;
    } bad[] = {
        {"STOP,,CANCEL", "START", "OPTOUT_KEYWORDS: entry 2 is empty"},
        {"STOP, ", "START", "OPTOUT_KEYWORDS: entry 2 is empty"},
        {"STOP", "start,stop", "OPTIN_KEYWORDS: \"stop\" is in both"},
        {"STOP", "ST\xff", "OPTIN_KEYWORDS: entry 1 is not UTF-8"},
        {"0123456789012345678901234567890123456789012345678901234567890123", "START",
         "is longer than 63 bytes"},
        {"\xd6\xb8", "START", "nothing but vowel points"},
        {"a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q,r,s,t,u,v,w,x,y,z,0,1,2,3,4,5", "START",
         "more than 32 keywords"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(rtr_keywords_load(&kw, bad[i].optout, bad[i].optin, err, sizeof err), -1);
        print_message("%s\n", err);
        assert_non_null(strstr(err, bad[i].err_has));
    }
    /* The same word twice in one list is kept once. */
    assert_int_equal(rtr_keywords_load(&kw, "STOP,stop", "START", err, sizeof err), 0);
    assert_int_equal(kw.n, 2);
}

static void test_refusals(void **state)
{
    (void)state;
    static const struct {
        const char *provider, *status, *code;
        enum rtr_refusal want;
    } cases[] = {
        {"twilio", "failed", "63033", RTR_REFUSED_ALL},
        {"twilio", "undelivered", "63033", RTR_REFUSED_ALL},
        {"twilio", "failed", "63049", RTR_REFUSED_TEMPLATE},
        {"twilio", "undelivered", "63049", RTR_REFUSED_TEMPLATE},
        {"twilio", "failed", "63016", RTR_REFUSED_NOTHING},
        {"twilio", "failed", "630330", RTR_REFUSED_NOTHING},
        {"twilio", "delivered", "63033", RTR_REFUSED_NOTHING},
        {"twilio", "failed", NULL, RTR_REFUSED_NOTHING},
        {"baileys", "failed", "63033", RTR_REFUSED_NOTHING},
        {NULL, "failed", "63033", RTR_REFUSED_NOTHING},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        assert_int_equal(rtr_refusal_of(cases[i].provider, cases[i].status, cases[i].code),
                         cases[i].want);
}

static void test_confirmation_key(void **state)
{
    (void)state;
    static const struct {
        const char *key;
        int64_t id;
    } cases[] = {
        {"optout-confirmation:1", 1},
        {"optout-confirmation:4711", 4711},
        {"optout-confirmation:999999999999999999", 999999999999999999LL},
        {"optout-confirmation:1000000000000000000", 0}, /* 19 digits */
        {"optout-confirmation:", 0},
        {"optout-confirmation:0", 0},
        {"optout-confirmation:012", 0},
        {"optout-confirmation:12a", 0},
        {"optout-confirmation:-3", 0},
        {"optout-confirmation: 3", 0},
        {"Optout-confirmation:3", 0},
        {"x-optout-confirmation:3", 0},
        {"order-1234", 0},
        {NULL, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        assert_int_equal(rtr_confirmation_of(cases[i].key), cases[i].id);
}

/* The events as docs/events.md shows them (the SQL adds contact and message_id). */
static void test_events(void **state)
{
    (void)state;
    char *e = rtr_consent_event(RTR_CONSENT_OPTOUT, "twilio", "twilio:+14155238886", "keyword",
                                "STOP", 1795478400012LL);
    assert_string_equal(e, "{\"v\":1,\"type\":\"contact.optout\",\"provider\":\"twilio\","
                           "\"source\":\"keyword\",\"at_ms\":1795478400012,"
                           "\"channel\":\"twilio:+14155238886\",\"keyword\":\"STOP\"}");
    free(e);
    e = rtr_consent_event(RTR_CONSENT_OPTIN, "baileys", "baileys:+972500000001", "keyword", "START",
                          5);
    assert_non_null(strstr(e, "\"type\":\"contact.optin\""));
    assert_non_null(strstr(e, "\"keyword\":\"START\""));
    free(e);
    e = rtr_consent_event(RTR_CONSENT_OPTOUT, "twilio", NULL, "twilio_error", "63033", 5);
    assert_string_equal(e, "{\"v\":1,\"type\":\"contact.optout\",\"provider\":\"twilio\","
                           "\"source\":\"twilio_error\",\"at_ms\":5,\"error_code\":\"63033\"}");
    free(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_match),    cmocka_unit_test(test_configured),
        cmocka_unit_test(test_refusals), cmocka_unit_test(test_confirmation_key),
        cmocka_unit_test(test_events),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
