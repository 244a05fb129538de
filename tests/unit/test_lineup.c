/* test_lineup.c - the commands a sender holds: a contact's commands one after the other, others
 * past a contact that waits, the offset never past a command not done, a revoke's drop. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "wa_lineup.h"

static struct wa_lineup q;
static int64_t next_offset[4];

/* Adds a record of key on partition at the partition's next offset (from 100). */
static int add(int32_t partition, const char *key)
{
    return wa_lineup_add(&q, partition, 100 + next_offset[partition]++, key, strlen(key));
}

static void reset(void)
{
    wa_lineup_init(&q);
    memset(next_offset, 0, sizeof next_offset);
}

/* Ends slot; returns the offset to store for want_partition, or -1 when none moved. */
static int64_t end(int slot, int done, int32_t want_partition)
{
    int32_t p = -1;
    int64_t off = -1;
    if (!wa_lineup_end(&q, slot, done, &p, &off)) return -1;
    assert_int_equal(p, want_partition);
    return off;
}

static void test_one_contact_in_order(void **state)
{
    (void)state;
    reset();
    int a1 = add(0, "a"), a2 = add(0, "a"), a3 = add(0, "a");
    assert_int_equal(wa_lineup_take(&q), a1);
    assert_int_equal(wa_lineup_take(&q), -1); /* a2 waits for a1 */
    assert_int_equal(end(a1, 1, 0), 101);
    assert_int_equal(wa_lineup_take(&q), a2);
    assert_int_equal(wa_lineup_take(&q), -1);
    assert_int_equal(end(a2, 1, 0), 102);
    assert_int_equal(wa_lineup_take(&q), a3);
    assert_int_equal(end(a3, 1, 0), 103);
    assert_int_equal(q.held, 0);
}

static void test_others_pass_a_waiting_contact(void **state)
{
    (void)state;
    reset();
    /* a is slow (its first command backs off); b and c, on the same partition, go on. */
    int a1 = add(0, "a"), a2 = add(0, "a"), b1 = add(0, "b"), c1 = add(0, "c"), b2 = add(0, "b");
    assert_int_equal(q.ready, 3); /* a2 and b2 wait behind their contact's first */
    assert_int_equal(wa_lineup_take(&q), a1);
    assert_int_equal(wa_lineup_take(&q), b1);
    assert_int_equal(wa_lineup_take(&q), c1);
    assert_int_equal(wa_lineup_take(&q), -1);
    assert_int_equal(q.ready, 0);
    assert_int_equal(end(b1, 1, 0), -1); /* a1 is older and not ended: nothing to store */
    assert_int_equal(q.ready, 1);        /* b2 */
    assert_int_equal(wa_lineup_take(&q), b2);
    assert_int_equal(end(c1, 1, 0), -1);
    assert_int_equal(end(b2, 1, 0), -1);
    assert_int_equal(q.held, 5);
    assert_int_equal(end(a1, 1, 0), 101); /* a2 not ended: stops there */
    assert_int_equal(wa_lineup_take(&q), a2);
    assert_int_equal(end(a2, 1, 0), 105); /* past b1, c1 and b2, ended before */
    assert_int_equal(q.held, 0);
}

static void test_partitions_apart(void **state)
{
    (void)state;
    reset();
    /* The same key on two partitions is two contacts (never happens with one topic's keys). */
    int x = add(0, "a"), y = add(1, "a");
    assert_int_equal(wa_lineup_take(&q), x);
    assert_int_equal(wa_lineup_take(&q), y);
    assert_int_equal(end(y, 1, 1), 101);
    assert_int_equal(end(x, 1, 0), 101);
    /* A key and its prefix differ; the oldest ready first. */
    int ab = add(0, "ab"), a = add(0, "a"), ab2 = add(0, "ab");
    assert_int_equal(wa_lineup_take(&q), ab);
    assert_int_equal(wa_lineup_take(&q), a);
    assert_int_equal(wa_lineup_take(&q), -1);
    assert_int_equal(end(ab, 1, 0), 102);
    assert_int_equal(wa_lineup_take(&q), ab2);
    assert_int_equal(end(ab2, 1, 0), -1);
    assert_int_equal(end(a, 1, 0), 104);
}

static void test_not_done_holds_the_offset_and_the_contact(void **state)
{
    (void)state;
    reset();
    int a1 = add(0, "a"), a2 = add(0, "a"), b1 = add(0, "b");
    assert_int_equal(wa_lineup_take(&q), a1);
    assert_int_equal(wa_lineup_take(&q), b1);
    int c1 = add(1, "c");
    assert_int_equal(end(a1, 0, 0), -1); /* to be read again */
    assert_true(wa_lineup_dropping(&q, 0));
    assert_int_equal(q.r[a2].state, WA_LINEUP_DROPPED); /* a2 may not overtake it */
    assert_int_equal(end(b1, 1, 0), -1);                /* never past a1 */
    /* A new command of a does not start either: it would overtake a1 and a2. */
    int a3 = add(0, "a");
    assert_int_equal(q.r[a3].state, WA_LINEUP_DROPPED);
    assert_int_equal(q.ready, 1);             /* c1 */
    assert_int_equal(wa_lineup_take(&q), c1); /* the other partition goes on */
    assert_int_equal(wa_lineup_take(&q), -1);
    assert_int_equal(end(c1, 1, 1), 101);
    int slots[WA_LINEUP_MAX];
    assert_int_equal(wa_lineup_forget(&q, 0, slots), 4);
    assert_int_equal(q.held, 0);
}

static void test_revoke(void **state)
{
    (void)state;
    reset();
    int a1 = add(0, "a"), a2 = add(0, "a"), b1 = add(0, "b"), c1 = add(1, "c");
    assert_int_equal(wa_lineup_take(&q), a1);
    assert_int_equal(q.ready, 2);               /* b1, c1 */
    assert_int_equal(wa_lineup_drop(&q, 0), 1); /* a1 still runs */
    assert_int_equal(q.ready, 1);               /* c1 */
    assert_true(wa_lineup_dropping(&q, 0));
    assert_false(wa_lineup_dropping(&q, 1));
    assert_int_equal(q.r[a2].state, WA_LINEUP_DROPPED);
    assert_int_equal(q.r[b1].state, WA_LINEUP_DROPPED);
    assert_int_equal(wa_lineup_take(&q), c1); /* partition 1 goes on; b1 is not taken */
    assert_int_equal(end(a1, 1, 0), 101);
    assert_int_equal(wa_lineup_drop(&q, 0), 0);
    int slots[WA_LINEUP_MAX];
    assert_int_equal(wa_lineup_forget(&q, 0, slots), 2);
    assert_false(wa_lineup_dropping(&q, 0));
    assert_int_equal(q.held, 1);
    /* Assigned again later: its records come anew, and a is ready (nothing of it is held). */
    int a2b = wa_lineup_add(&q, 0, 101, "a", 1);
    assert_int_equal(wa_lineup_take(&q), a2b);
    assert_int_equal(end(a2b, 1, 0), 102);
    assert_int_equal(end(c1, 1, 1), 101);
    assert_int_equal(q.held, 0);
}

static void test_again(void **state)
{
    (void)state;
    reset();
    int a1 = add(0, "a"), b1 = add(0, "b"), a2 = add(0, "a");
    assert_int_equal(wa_lineup_take(&q), a1);
    assert_int_equal(q.ready, 1);
    wa_lineup_again(&q, a1); /* first again, before b1; a2 still behind it */
    assert_int_equal(q.ready, 2);
    assert_int_equal(wa_lineup_take(&q), a1);
    assert_int_equal(wa_lineup_take(&q), b1);
    assert_int_equal(wa_lineup_take(&q), -1);
    assert_int_equal(end(a1, 1, 0), 101);
    assert_int_equal(wa_lineup_take(&q), a2);
    /* On a partition being dropped it is dropped, and the drop may finish. */
    assert_int_equal(wa_lineup_drop(&q, 0), 2);
    wa_lineup_again(&q, a2);
    assert_int_equal(q.r[a2].state, WA_LINEUP_DROPPED);
    assert_int_equal(q.ready, 0);
    assert_int_equal(wa_lineup_take(&q), -1);
    assert_int_equal(end(b1, 1, 0), 102);
    assert_int_equal(wa_lineup_drop(&q, 0), 0);
    int slots[WA_LINEUP_MAX];
    assert_int_equal(wa_lineup_forget(&q, 0, slots), 1);
    assert_int_equal(q.held, 0);
}

static void test_full(void **state)
{
    (void)state;
    reset();
    static char keys[WA_LINEUP_MAX][16];
    for (int i = 0; i < WA_LINEUP_MAX; i++) {
        snprintf(keys[i], sizeof keys[i], "k%d", i % 300);
        assert_true(wa_lineup_add(&q, 0, i, keys[i], strlen(keys[i])) >= 0);
    }
    assert_int_equal(q.ready, 300); /* each key's first; the others wait behind them */
    assert_int_equal(wa_lineup_add(&q, 0, WA_LINEUP_MAX, "k", 1), -1);
    assert_int_equal(wa_lineup_add(&q, WA_LINEUP_PARTS, 0, "k", 1), -2);
    assert_int_equal(wa_lineup_add(&q, -1, 0, "k", 1), -2);
    /* Everything runs, in order per key; the offset reaches the end. */
    int64_t last = -1;
    int ran = 0;
    for (int s; (s = wa_lineup_take(&q)) >= 0; ran++) {
        int32_t p;
        int64_t off;
        if (wa_lineup_end(&q, s, 1, &p, &off)) last = off;
    }
    assert_int_equal(ran, WA_LINEUP_MAX);
    assert_int_equal(q.ready, 0);
    assert_int_equal(last, WA_LINEUP_MAX);
    assert_int_equal(q.held, 0);
    assert_true(wa_lineup_add(&q, 0, 0, "k", 1) >= 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_contact_in_order),
        cmocka_unit_test(test_others_pass_a_waiting_contact),
        cmocka_unit_test(test_partitions_apart),
        cmocka_unit_test(test_not_done_holds_the_offset_and_the_contact),
        cmocka_unit_test(test_revoke),
        cmocka_unit_test(test_again),
        cmocka_unit_test(test_full),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
