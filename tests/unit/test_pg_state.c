/* test_pg_state.c - which Postgres errors are retried and which are permanent, table-driven. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "wa_pg.h"

static void test_table(void **state)
{
    (void)state;
    static const struct {
        const char *sqlstate;
        int transient;
    } cases[] = {
        {NULL, 1},    /* no answer from the server */
        {"40001", 1}, /* serialization failure */
        {"40P01", 1}, /* deadlock */
        {"40003", 1}, /* statement completion unknown */
        {"57014", 1}, /* statement timeout or cancel */
        {"55P03", 1}, /* lock timeout */
        {"55006", 1}, /* object in use */
        {"25006", 1}, /* read-only after a failover */
        {"58030", 1}, /* I/O error */
        {"08006", 1}, /* connection failure */
        {"08001", 1}, /* cannot establish a connection */
        {"57P01", 1}, /* admin shutdown */
        {"57P03", 1}, /* cannot connect now (starting up) */
        {"53300", 1}, /* too many connections */
        {"53100", 1}, /* disk full */
        {"23505", 0}, /* unique violation: the same row again */
        {"23514", 0}, /* check violation */
        {"22P02", 0}, /* invalid text representation */
        {"42601", 0}, /* syntax error */
        {"40002", 0}, /* integrity constraint violation at commit */
        {"25P02", 0}, /* in a failed transaction: the first error decides */
        {"XX000", 0}, /* internal error */
        {"", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        print_message("sqlstate=%s\n", cases[i].sqlstate ? cases[i].sqlstate : "(none)");
        assert_int_equal(wa_pg_state_transient(cases[i].sqlstate), cases[i].transient);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_table)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
