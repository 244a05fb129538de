/* test_content.c - a page of Twilio's Content API list read into templates: what is kept, what
 * is skipped, and where the next page is. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "sender_twilio.h"

static const char PAGE[] =
    "{\"contents\":["
    "{\"sid\":\"HX0123456789abcdef0123456789abcdef\",\"friendly_name\":\"appointment_reminder\","
    "\"language\":\"en\",\"variables\":{\"1\":\"Dana\",\"2\":\"12/1\",\"3\":4},"
    "\"types\":{\"twilio/text\":{\"body\":\"Hello {{1}}, on {{2}}.\"}},"
    "\"approval_requests\":{\"name\":\"appointment_reminder\",\"category\":\"UTILITY\","
    "\"status\":\"approved\",\"rejection_reason\":\"\"}},"
    "{\"sid\":\"HX00000000000000000000000000000003\",\"friendly_name\":\"win_back\","
    "\"types\":{\"twilio/media\":{\"body\":\"Come back\",\"media\":[\"https://x/y.jpg\"]}},"
    "\"approval_requests\":{\"whatsapp\":{\"category\":\"MARKETING\",\"status\":\"rejected\","
    "\"rejection_reason\":\"policy\"}}},"
    "{\"sid\":\"HX00000000000000000000000000000004\",\"friendly_name\":\"draft\"},"
    "{\"sid\":\"MM00000000000000000000000000000004\",\"friendly_name\":\"not a template\"},"
    "{\"sid\":\"HX00000000000000000000000000000005\"},"
    "\"junk\""
    "],\"meta\":{\"next_page_url\":\"https://content.twilio.com/v1/ContentAndApprovals?"
    "PageSize=2&PageToken=PT2\",\"key\":\"contents\"}}";

static void test_page(void **state)
{
    (void)state;
    struct stw_template t[8];
    char next[256], err[128];
    int n = stw_content_page(PAGE, strlen(PAGE), t, 8, next, sizeof next, err, sizeof err);
    assert_int_equal(n, 3); /* a non-HX sid, a nameless item and a string are skipped */
    assert_string_equal(t[0].sid, "HX0123456789abcdef0123456789abcdef");
    assert_string_equal(t[0].name, "appointment_reminder");
    assert_string_equal(t[0].status, "approved");
    assert_string_equal(t[0].category, "UTILITY");
    assert_string_equal(t[0].body, "Hello {{1}}, on {{2}}.");
    assert_string_equal(t[0].variables, "{\"1\":\"Dana\",\"2\":\"12/1\"}"); /* 3 was no string */
    /* The per-channel form of approval: the WhatsApp one counts; a body of another type. */
    assert_string_equal(t[1].status, "rejected");
    assert_string_equal(t[1].category, "MARKETING");
    assert_string_equal(t[1].rejection_reason, "policy");
    assert_string_equal(t[1].body, "Come back");
    /* Never submitted: no approval object at all. */
    assert_string_equal(t[2].status, "unsubmitted");
    assert_null(t[2].body);
    assert_string_equal(t[2].types, "{}");
    assert_string_equal(
        next, "https://content.twilio.com/v1/ContentAndApprovals?PageSize=2&PageToken=PT2");
    for (int i = 0; i < n; i++)
        stw_template_free(&t[i]);

    /* At most max; no next page at the end. */
    const char last[] = "{\"contents\":[],\"meta\":{\"next_page_url\":null}}";
    assert_int_equal(stw_content_page(last, strlen(last), t, 8, next, sizeof next, err, sizeof err),
                     0);
    assert_string_equal(next, "");
    assert_int_equal(stw_content_page(PAGE, strlen(PAGE), t, 1, next, sizeof next, err, sizeof err),
                     1);
    stw_template_free(&t[0]);
    const char bad[] = "{\"messages\":[]}";
    assert_int_equal(stw_content_page(bad, strlen(bad), t, 8, next, sizeof next, err, sizeof err),
                     -1);
    assert_non_null(strstr(err, "contents"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_page)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
