/* test_chains.c - a batch as one chain per contact: order kept within a chain, the cap that ends
 * a batch, the longest chain first. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "wa_chains.h"

/* Records as "partition:key" strings, added in order; the chains as "0,2|1" (record indexes per
 * chain, heads in order, chains separated by '|'), and how many records were taken. */
static void check(const char *label, const char *const *recs, int max_len, int taken,
                  const char *want)
{
    print_message("%s\n", label);
    static struct wa_chains c;
    wa_chains_reset(&c);
    int n = 0;
    for (; recs[n]; n++) {
        const char *colon = strchr(recs[n], ':');
        int32_t partition = (int32_t)(recs[n][0] - '0');
        if (!wa_chains_add(&c, partition, colon + 1, strlen(colon + 1), max_len)) break;
    }
    assert_int_equal(n, taken);
    assert_int_equal(c.n, taken);
    wa_chains_order(&c);
    char got[256] = "";
    for (int k = 0; k < c.nchains; k++) {
        int len = 0;
        for (int i = c.heads[k]; i >= 0; i = c.next[i], len++)
            snprintf(got + strlen(got), sizeof got - strlen(got), "%s%d",
                     i == c.heads[k] ? (k ? "|" : "") : ",", i);
        assert_int_equal(len, c.lens[k]);
    }
    assert_string_equal(got, want);
}

static void test_chains(void **state)
{
    (void)state;
    check("one contact: one chain, in order", (const char *[]){"0:a", "0:a", "0:a", NULL}, 8, 3,
          "0,1,2");
    check("two contacts interleaved: two chains, each in order",
          (const char *[]){"0:a", "0:b", "0:a", "0:b", "0:a", NULL}, 8, 5, "0,2,4|1,3");
    check("the same key on two partitions is two chains (never happens with one topic's keys)",
          (const char *[]){"0:a", "1:a", NULL}, 8, 2, "0|1");
    check("a key and its prefix differ", (const char *[]){"0:ab", "0:a", "0:ab", NULL}, 8, 3,
          "0,2|1");
    check("no key: one chain per partition", (const char *[]){"0:", "0:", "1:", NULL}, 8, 3,
          "0,1|2");
    check("the longest chain first, equal ones as found",
          (const char *[]){"0:a", "0:b", "0:c", "0:c", "0:b", "0:c", NULL}, 8, 6, "2,3,5|1,4|0");
    check("a contact's third with a cap of 2 ends the batch before it",
          (const char *[]){"0:a", "0:b", "0:a", "0:b", "0:a", "0:c", NULL}, 2, 4, "0,2|1,3");
}

static void test_full(void **state)
{
    (void)state;
    static struct wa_chains c;
    wa_chains_reset(&c);
    char keys[WA_CHAINS_MAX][16];
    for (int i = 0; i < WA_CHAINS_MAX; i++) {
        snprintf(keys[i], sizeof keys[i], "k%d", i);
        assert_int_equal(wa_chains_add(&c, 0, keys[i], strlen(keys[i]), 8), 1);
    }
    assert_int_equal(wa_chains_add(&c, 0, "k0", 2, 8), 0); /* full */
    assert_int_equal(c.n, WA_CHAINS_MAX);
    assert_int_equal(c.nchains, WA_CHAINS_MAX);
    wa_chains_reset(&c);
    assert_int_equal(c.n, 0);
    assert_int_equal(wa_chains_add(&c, 0, "k0", 2, 8), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_chains), cmocka_unit_test(test_full)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
