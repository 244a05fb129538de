/* test_prefer.c - the send API's Prefer: wait (RFC 7240), read from whatever a client sends. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "ingress.h"

static void test_wait(void **state)
{
    (void)state;
    static const struct {
        const char *label, *value;
        int wait;
    } cases[] = {
        {"the plain form", "wait=3", 3},
        {"names are case-insensitive", "WAIT=3", 3},
        {"blanks around =", "wait = 3", 3},
        {"tabs and spaces around the element", "\t wait=1 \t", 1},
        {"after other preferences", "respond-async, return=minimal, wait=5", 5},
        {"with parameters of its own (ignored)", "wait=2; foo; bar=\"x\"", 2},
        {"after a preference with parameters", "return=minimal; foo=bar, wait=2", 2},
        {"a quoted value", "wait=\"4\"", 4},
        {"a quoted value with an escaped digit", "wait=\"\\7\"", 7},
        {"leading zeros", "wait=007", 7},
        {"the longest", "wait=10", 10},
        {"longer: cut to the longest", "wait=11", 10},
        {"digits without end: cut, no overflow", "wait=99999999999999999999999999999999", 10},
        {"empty list elements", ", ,wait=1,", 1},
        {"the first wait counts", "wait=3, wait=5", 3},
        {"the first wait counts even unreadable", "wait=abc, wait=5", 0},
        {"a comma inside a quoted value does not split", "foo=\"a, wait=2\", wait=7", 7},
        {"a malformed element before it is skipped", "foo bar, wait=2", 2},
        {"a bad byte in a quoted value before it", "foo=\"a\x01, b\", wait=2", 2},
        {"no header", "", 0},
        {"no wait", "respond-async, return=representation", 0},
        {"zero: nothing to wait for", "wait=0", 0},
        {"negative", "wait=-1", 0},
        {"a fraction", "wait=1.5", 0},
        {"no value", "wait", 0},
        {"an empty value", "wait=", 0},
        {"an empty quoted value", "wait=\"\"", 0},
        {"letters", "wait=abc", 0},
        {"digits then letters", "wait=3s", 0},
        {"two words", "wait=3 4", 0},
        {"an unterminated quote", "wait=\"3", 0},
        {"another name that starts with wait", "waiting=3", 0},
        {"another name that ends with wait", "xwait=3", 0},
        {"a wait inside an unterminated quote", "foo=\"a, wait=2", 0},
        {"a wait as another preference's parameter", "foo; wait=2", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        print_message("%s: %s\n", cases[i].label, cases[i].value);
        assert_int_equal(ing_prefer_wait(cases[i].value, strlen(cases[i].value)), cases[i].wait);
    }
    assert_int_equal(ing_prefer_wait(NULL, 0), 0);
}

/* The length counts, not a terminating NUL: a header is bytes, and may hold one. */
static void test_bytes(void **state)
{
    (void)state;
    assert_int_equal(ing_prefer_wait("wait=3", 5), 0); /* "wait=" */
    assert_int_equal(ing_prefer_wait("wait=3\0, wait=4", 15), 0);
    assert_int_equal(ing_prefer_wait("wait=2, x\0y", 11), 2);
    assert_int_equal(ing_prefer_wait("x\0y, wait=2", 11), 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_wait), cmocka_unit_test(test_bytes)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
