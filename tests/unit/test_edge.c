/* test_edge.c - the client's address behind trusted proxies (TRUSTED_PROXIES, X-Forwarded-For). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "wa_edge.h"

static void test_resolve(void **state)
{
    (void)state;
    static const struct {
        const char *trusted, *peer, *forwarded, *want;
    } cases[] = {
        /* No proxy trusted: the header is anyone's to write, so it is ignored. */
        {"", "203.0.113.9", "10.0.0.1", "203.0.113.9"},
        {NULL, "203.0.113.9", "10.0.0.1", "203.0.113.9"},
        /* From a proxy that is not trusted: ignored too. */
        {"127.0.0.1", "198.51.100.7", "10.0.0.1", "198.51.100.7"},
        /* The trusted proxy's word. */
        {"127.0.0.1", "127.0.0.1", "203.0.113.9", "203.0.113.9"},
        {"127.0.0.1", "127.0.0.1", " 203.0.113.9 ", "203.0.113.9"},
        {"172.16.0.0/12", "172.18.0.5", "2001:db8::9", "2001:db8::9"},
        /* Trusted, but no header: the proxy itself. */
        {"127.0.0.1", "127.0.0.1", NULL, "127.0.0.1"},
        /* A client that wrote its own header: the proxy appended the real address, and only the
         * rightmost entry not one of ours counts. */
        {"127.0.0.1", "127.0.0.1", "1.2.3.4, 203.0.113.9", "203.0.113.9"},
        /* Two proxies of ours in a row. */
        {"127.0.0.1, 10.0.0.0/8", "127.0.0.1", "203.0.113.9, 10.1.1.1", "203.0.113.9"},
        /* Something that is not an address: nothing past it is believed. */
        {"127.0.0.1, 10.0.0.0/8", "127.0.0.1", "203.0.113.9, evil, 10.1.1.1", "10.1.1.1"},
        {"127.0.0.1", "127.0.0.1", "unknown", "127.0.0.1"},
        {"127.0.0.1", "127.0.0.1", "", "127.0.0.1"},
        {"127.0.0.1", "127.0.0.1", "203.0.113.9,", "127.0.0.1"},
        {"127.0.0.1", "127.0.0.1", "203.0.113.9:4711", "127.0.0.1"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char out[64];
        wa_edge_resolve(cases[i].trusted, cases[i].peer, cases[i].forwarded, out, sizeof out);
        print_message("[%s] %s <- %s => %s\n", cases[i].trusted ? cases[i].trusted : "(null)",
                      cases[i].peer, cases[i].forwarded ? cases[i].forwarded : "(none)", out);
        assert_string_equal(out, cases[i].want);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resolve),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
