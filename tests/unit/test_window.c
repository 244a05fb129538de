/* test_window.c - the 24-hour window, at its edges. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "wa_window.h"

static void test_edges(void **state)
{
    (void)state;
    const int64_t t = 1795478000000LL; /* a contact's last message */
    static const struct {
        const char *label;
        int64_t last, now;
        int open;
        int64_t closes;
    } cases[] = {
        {"never wrote", 0, t, 0, 0},
        {"no time at all", -5, t, 0, 0},
        {"just wrote", t, t, 1, t + WA_WINDOW_MS},
        {"23h59m59.999s later", t, t + WA_WINDOW_MS - 1, 1, t + WA_WINDOW_MS},
        {"exactly 24 h later: closed", t, t + WA_WINDOW_MS, 0, t + WA_WINDOW_MS},
        {"a day and a second later", t, t + WA_WINDOW_MS + 1000, 0, t + WA_WINDOW_MS},
        {"a clock behind the message: open", t, t - 5000, 1, t + WA_WINDOW_MS},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        print_message("%s\n", cases[i].label);
        assert_int_equal(wa_window_open(cases[i].last, cases[i].now), cases[i].open);
        assert_int_equal(wa_window_closes_ms(cases[i].last), cases[i].closes);
    }
    assert_int_equal(WA_WINDOW_MS, 86400000LL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_edges)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
