/* test_kafka_wait.c - delivery reports with several threads on one producer: each waiter wakes
 * when its own report is in, and a report never touches a waiter that has returned. No broker:
 * records to a closed port time out, and the timeout is the report. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdlib.h>

#include "wa_kafka.h"
#include "wa_util.h"

#define WAITERS 4
#define RECORDS 3

static rd_kafka_t *rk;

struct waiter {
    struct wa_delivery d[RECORDS]; /* outlives its on_done call */
    _Atomic int64_t reported_ms[RECORDS];
    int64_t returned_ms[RECORDS];
    rd_kafka_resp_err_t err[RECORDS], stack_err;
    int i;
};

static void noted(struct wa_delivery *d)
{
    struct waiter *w = d->ctx;
    atomic_store(&w->reported_ms[d - w->d], wa_now_ms());
}

static void *wait_records(void *arg)
{
    struct waiter *w = arg;
    for (int i = 0; i < RECORDS; i++) {
        w->d[i].on_done = noted;
        w->d[i].ctx = w;
        assert_int_equal(wa_kafka_produce(rk, "t", "k", "v", 1, &w->d[i]), 0);
        w->err[i] = wa_kafka_wait(rk, &w->d[i], 1);
        w->returned_ms[i] = wa_now_ms();
    }
    /* The common case: a delivery on the stack, gone the moment the wait returns. */
    struct wa_delivery d = {0};
    assert_int_equal(wa_kafka_produce(rk, "t", "k", "v", 1, &d), 0);
    w->stack_err = wa_kafka_wait(rk, &d, 1);
    return NULL;
}

static void *serve(void *arg)
{
    (void)arg;
    wa_kafka_serve(rk);
    return NULL;
}

static int cmp(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static void test_waiters_wake_on_their_report(void **state)
{
    (void)state;
    char err[256];
    rk = wa_kafka_producer_new("127.0.0.1:1", "test", 300, err, sizeof err);
    assert_non_null(rk);
    pthread_t server, threads[WAITERS];
    static struct waiter ws[WAITERS];
    pthread_create(&server, NULL, serve, NULL);
    for (int i = 0; i < WAITERS; i++)
        pthread_create(&threads[i], NULL, wait_records, &ws[i]);
    for (int i = 0; i < WAITERS; i++)
        pthread_join(threads[i], NULL);
    wa_stop();
    pthread_join(server, NULL);

    int64_t late[WAITERS * RECORDS];
    int n = 0;
    for (int i = 0; i < WAITERS; i++) {
        assert_int_equal(ws[i].stack_err, RD_KAFKA_RESP_ERR__MSG_TIMED_OUT);
        for (int j = 0; j < RECORDS; j++) {
            assert_int_equal(ws[i].err[j], RD_KAFKA_RESP_ERR__MSG_TIMED_OUT);
            int64_t reported = atomic_load(&ws[i].reported_ms[j]);
            assert_true(reported > 0);
            late[n++] = ws[i].returned_ms[j] - reported;
        }
    }
    qsort(late, (size_t)n, sizeof late[0], cmp);
    print_message("waiter lateness after its report: median %lld ms, max %lld ms\n",
                  (long long)late[n / 2], (long long)late[n - 1]);
    /* Polling waiters lost reports to the serving thread and slept out their poll (a median of
     * 9 ms here before wa_kafka_serve()). */
    assert_true(late[n / 2] < 5);
    rd_kafka_destroy(rk);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_waiters_wake_on_their_report)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
