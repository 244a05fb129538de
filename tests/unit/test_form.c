/* test_form.c - the form parser and UTF-8 checks, table-driven. */
#pragma GCC diagnostic ignored "-Wmissing-field-initializers" /* tables omit defaults on purpose   \
                                                               */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wa_form.h"

struct want_pair {
    const char *key, *value;
    size_t value_len; /* 0: strlen(value) */
};

static void check(const char *label, const char *body, const struct want_pair *want, size_t n)
{
    struct wa_form f;
    char err[64];
    print_message("case %s\n", label);
    assert_int_equal(wa_form_parse(body, strlen(body), &f, err, sizeof err), 0);
    assert_int_equal(f.n, n);
    for (size_t i = 0; i < n; i++) {
        size_t vl = want[i].value_len ? want[i].value_len : strlen(want[i].value);
        assert_string_equal(f.pairs[i].key, want[i].key);
        assert_int_equal(f.pairs[i].value_len, vl);
        assert_memory_equal(f.pairs[i].value, want[i].value, vl);
    }
    wa_form_free(&f);
}

static void test_table(void **state)
{
    (void)state;
    {
        const struct want_pair w[] = {{"a", "1"}, {"b", "2"}};
        check("simple", "a=1&b=2", w, 2);
    }
    {
        const struct want_pair w[] = {{"Digits", "5678"}, {"Digits", "1234"}, {"Digits", "1234"}};
        check("repeated keys keep order", "Digits=5678&Digits=1234&Digits=1234", w, 3);
    }
    {
        const struct want_pair w[] = {{"From", "whatsapp:+14155550100"}, {"Body", "a b+c"}};
        check("+ is space, %2B is plus", "From=whatsapp%3A%2B14155550100&Body=a+b%2Bc", w, 2);
    }
    {
        const struct want_pair w[] = {{"Body", ""}, {"Flag", ""}, {"X", "="}};
        check("empty values", "Body=&Flag&X==", w, 3);
    }
    {
        const struct want_pair w[] = {{"a", "1"}, {"b", "2"}};
        check("empty segments", "&a=1&&b=2&", w, 2);
    }
    {
        /* "שלום 👋" */
        const struct want_pair w[] = {
            {"Body", "\xd7\xa9\xd7\x9c\xd7\x95\xd7\x9d \xf0\x9f\x91\x8b"}};
        check("hebrew and emoji", "Body=%D7%A9%D7%9C%D7%95%D7%9D+%F0%9F%91%8B", w, 1);
    }
    {
        const struct want_pair w[] = {{"Body", "100%", 0}, {"q", "%zz%4"}};
        check("stray percent kept literally", "Body=100%&q=%zz%4", w, 2);
    }
    {
        const struct want_pair w[] = {{"k", "a\0b", 3}};
        check("NUL byte survives with its length", "k=a%00b", w, 1);
    }
    {
        const struct want_pair w[] = {{"Body", "\xff\xfe"}};
        check("invalid UTF-8 passes through the parser", "Body=%FF%FE", w, 1);
    }
}

static void test_too_many_pairs(void **state)
{
    (void)state;
    size_t n = WA_FORM_MAX_PAIRS + 1;
    char *body = malloc(n * 4 + 1);
    size_t o = 0;
    for (size_t i = 0; i < n; i++)
        o += (size_t)sprintf(body + o, "a=%c&", 'x');
    struct wa_form f;
    char err[64];
    assert_int_equal(wa_form_parse(body, o, &f, err, sizeof err), -1);
    assert_non_null(strstr(err, "more than"));
    assert_int_equal(wa_form_parse(body, o - 4, &f, err, sizeof err), 0); /* exactly the limit */
    assert_int_equal(f.n, WA_FORM_MAX_PAIRS);
    wa_form_free(&f);
    free(body);
}

static void test_lookup(void **state)
{
    (void)state;
    struct wa_form f;
    char err[64];
    const char *b = "A=1&AB=2&A=3";
    assert_int_equal(wa_form_parse(b, strlen(b), &f, err, sizeof err), 0);
    assert_string_equal(wa_form_get(&f, "A"), "1");
    assert_string_equal(wa_form_get(&f, "AB"), "2");
    assert_null(wa_form_get(&f, "B"));
    wa_form_free(&f);
}

static void test_utf8(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        int valid;
    } cases[] = {
        {"plain", 1},
        {"\xd7\xa9\xd7\x9c\xd7\x95\xd7\x9d", 1},
        {"\xf0\x9f\x91\x8b", 1},
        {"\xc0\xaf", 0},         /* overlong '/' */
        {"\xed\xa0\x80", 0},     /* surrogate */
        {"\xf4\x90\x80\x80", 0}, /* above U+10FFFF */
        {"\xe2\x82", 0},         /* truncated */
        {"\x80", 0},             /* lone continuation */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        assert_int_equal(wa_utf8_valid(cases[i].s, strlen(cases[i].s)), cases[i].valid);
    size_t l;
    char *s = wa_utf8_sanitize("a\xffz", 3, &l);
    assert_string_equal(s, "a\xef\xbf\xbdz");
    assert_true(wa_utf8_valid(s, l));
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_too_many_pairs),
        cmocka_unit_test(test_lookup),
        cmocka_unit_test(test_utf8),
    };
    return cmocka_run_group_tests_name("form", tests, NULL, NULL);
}
