/* test_phone.c - E.164 normalization, table-driven. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "wa_phone.h"

static void test_table(void **state)
{
    (void)state;
    static const struct {
        const char *in, *want; /* want NULL: refused */
    } cases[] = {
        {"whatsapp:+14155550100", "+14155550100"},
        {"WhatsApp:+972501234567", "+972501234567"},
        {"+1 (415) 555-0100", "+14155550100"},
        {"14155550100", "+14155550100"}, /* WaId: digits, no plus */
        {"0014155550100", "+14155550100"},
        {"+44.20.7946.0018", "+442079460018"},
        {"+123456789012345", "+123456789012345"}, /* 15 digits, the E.164 maximum */
        {"+1234567890123456", NULL},              /* 16 digits */
        {"+1234567", NULL},                       /* too short */
        {"+0123456789", NULL},                    /* no country code starts with 0 */
        {"", NULL},
        {"whatsapp:", NULL},
        {"+1415555010a", NULL},
        {"++14155550100", NULL},
        {"1415+5550100", NULL},
        {"messenger:+14155550100", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char out[17];
        int r = wa_phone_e164(cases[i].in, out, sizeof out);
        print_message("in=%s\n", cases[i].in);
        if (cases[i].want) {
            assert_int_equal(r, 0);
            assert_string_equal(out, cases[i].want);
        } else {
            assert_int_equal(r, -1);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_table)};
    return cmocka_run_group_tests_name("phone", tests, NULL, NULL);
}
