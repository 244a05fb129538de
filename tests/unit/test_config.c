/* test_config.c - environment configuration: defaults, validation, one error line each. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wa_config.h"

static const char *s_url, *s_listen, *s_mode, *s_secret, *s_opt;
static long n_int;

static const struct wa_cfg table[] = {
    {"T_URL", NULL, WA_CFG_URL, 0, 0, NULL, "public URL", &s_url, NULL},
    {"T_LISTEN", "127.0.0.1:8080", WA_CFG_LISTEN, 0, 0, NULL, "listen", &s_listen, NULL},
    {"T_MODE", "auto", WA_CFG_ENUM, 0, 0, "auto|twilio|baileys", "mode", &s_mode, NULL},
    {"T_INT", "10", WA_CFG_INT, 1, 100, NULL, "a number", NULL, &n_int},
    {"T_SECRET", NULL, WA_CFG_SECRET, 0, 0, NULL, "token", &s_secret, NULL},
    {"T_OPT", "", WA_CFG_STR, 0, 0, NULL, "optional", &s_opt, NULL},
};

static void clear(void)
{
    const char *names[] = {"T_URL", "T_LISTEN", "T_MODE", "T_INT", "T_SECRET", "T_OPT"};
    for (size_t i = 0; i < 6; i++)
        unsetenv(names[i]);
}

static void test_defaults_and_required(void **state)
{
    (void)state;
    clear();
    /* Two required variables are unset: two errors. */
    assert_int_equal(wa_config_load(table, WA_CFG_COUNT(table)), 2);
    setenv("T_URL", "https://example.com", 1);
    setenv("T_SECRET", "s3cret", 1);
    assert_int_equal(wa_config_load(table, WA_CFG_COUNT(table)), 0);
    assert_string_equal(s_listen, "127.0.0.1:8080");
    assert_string_equal(s_mode, "auto");
    assert_int_equal(n_int, 10);
    assert_null(s_opt);
    /* Empty counts as unset. */
    setenv("T_SECRET", "", 1);
    assert_int_equal(wa_config_load(table, WA_CFG_COUNT(table)), 1);
}

static void test_validation(void **state)
{
    (void)state;
    static const struct {
        const char *name, *value;
        int errors;
    } cases[] = {
        {"T_URL", "ftp://example.com", 1},
        {"T_URL", "example.com", 1},
        {"T_URL", "http://a/b#frag", 1},
        {"T_URL", "http://127.0.0.1:8080", 0},
        {"T_LISTEN", "8080", 1},
        {"T_LISTEN", "0.0.0.0:70000", 1},
        {"T_LISTEN", "0.0.0.0:9", 0},
        {"T_MODE", "smoke", 1},
        {"T_MODE", "baileys", 0},
        {"T_INT", "0", 1},
        {"T_INT", "101", 1},
        {"T_INT", "12abc", 1},
        {"T_INT", "100", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        clear();
        setenv("T_URL", "https://example.com", 1);
        setenv("T_SECRET", "x", 1);
        setenv(cases[i].name, cases[i].value, 1);
        print_message("%s=%s\n", cases[i].name, cases[i].value);
        assert_int_equal(wa_config_load(table, WA_CFG_COUNT(table)), cases[i].errors);
    }
}

/* Nothing the log shows of a setting gives a password away, whatever form the URL takes. */
static void test_shown(void **state)
{
    (void)state;
    assert_string_equal(wa_config_shown("s3cret", WA_CFG_SECRET), "****");
    assert_string_equal(wa_config_shown("postgresql://wa:pw@127.0.0.1/wa", WA_CFG_STR),
                        "(set, contains credentials)");
    assert_string_equal(wa_config_shown("host=127.0.0.1 dbname=wa user=wa password=pw", WA_CFG_STR),
                        "(set, contains credentials)");
    assert_string_equal(
        wa_config_shown("postgresql://127.0.0.1/wa?user=wa&PASSWORD=pw", WA_CFG_STR),
        "(set, contains credentials)");
    assert_string_equal(wa_config_shown("postgresql://127.0.0.1/wa", WA_CFG_STR),
                        "postgresql://127.0.0.1/wa");
    assert_string_equal(wa_config_shown("127.0.0.1:9092", WA_CFG_STR), "127.0.0.1:9092");
}

static void test_split_listen(void **state)
{
    (void)state;
    char host[16];
    unsigned port;
    assert_int_equal(wa_config_split_listen("127.0.0.1:80", host, sizeof host, &port), 0);
    assert_string_equal(host, "127.0.0.1");
    assert_int_equal(port, 80);
    /* Port 0: any free port (instances of one service on one host network). */
    assert_int_equal(wa_config_split_listen("127.0.0.1:0", host, sizeof host, &port), 0);
    assert_int_equal(port, 0);
    assert_int_equal(wa_config_split_listen("127.0.0.1:65536", host, sizeof host, &port), -1);
    assert_int_equal(wa_config_split_listen("127.0.0.1:-1", host, sizeof host, &port), -1);
    assert_int_equal(wa_config_split_listen(":80", host, sizeof host, &port), -1);
    assert_int_equal(
        wa_config_split_listen("averyveryverylonghostname:80", host, sizeof host, &port), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_and_required),
        cmocka_unit_test(test_validation),
        cmocka_unit_test(test_split_listen),
        cmocka_unit_test(test_shown),
    };
    return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
