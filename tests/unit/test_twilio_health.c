/* test_twilio_health.c - a Twilio channel's health from sender-twilio's send results
 * (sender-twilio/health_rule.c, docs/architecture.md §3.3): what one answer means, then
 * stories of answers in a row and what the instance reports after each. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "sender_twilio.h"

#define PASS STW_SIGNAL_PASS
#define FAIL STW_SIGNAL_FAIL
#define BROKEN STW_SIGNAL_BROKEN

/* One answer by name, as stw_classify would have read it. */
static const struct answer {
    const char *name;
    enum wa_verdict verdict;
    long http;
    const char *code, *text;
} answers[] = {
    {"sent", WA_VERDICT_SENT, 201, "", ""},
    {"found", WA_VERDICT_SENT, 0, "", ""}, /* an unclear call, then found in Twilio's list */
    {"21211", WA_VERDICT_FAILED, 400, "21211", "HTTP 400: The 'To' number is not valid"},
    {"63016", WA_VERDICT_FAILED, 400, "63016", "HTTP 400: outside the allowed window"},
    {"21610", WA_VERDICT_FAILED, 400, "21610", "HTTP 400: unsubscribed recipient"},
    {"400", WA_VERDICT_FAILED, 400, "http_400", "HTTP 400: no message"},
    {"500", WA_VERDICT_RETRY, 500, "20500", "HTTP 500: Internal Server Error"},
    {"503", WA_VERDICT_RETRY, 503, "20503", "HTTP 503: Service Unavailable"},
    {"429", WA_VERDICT_RETRY, 429, "20429", "HTTP 429: Too Many Requests"},
    {"conn", WA_VERDICT_RETRY, 0, "transport", "not sent: Connection refused"},
    {"timeout", WA_VERDICT_UNKNOWN, 0, "unknown_outcome",
     "no answer after the request was sent: Operation timed out"},
    {"502", WA_VERDICT_UNKNOWN, 502, "20500", "HTTP 502: Bad Gateway"},
    {"504", WA_VERDICT_UNKNOWN, 504, "20500", "HTTP 504: Gateway Timeout"},
    {"401", WA_VERDICT_FAILED, 401, "20003", "HTTP 401: Authenticate"},
    {"403", WA_VERDICT_FAILED, 403, "20003", "HTTP 403: Permission Denied"},
    {"404", WA_VERDICT_FAILED, 404, "20404", "HTTP 404: The requested resource was not found"},
    {"20005", WA_VERDICT_FAILED, 400, "20005", "HTTP 400: Account not active"},
    {"21212", WA_VERDICT_FAILED, 400, "21212", "HTTP 400: Invalid From Number"},
    {"21606", WA_VERDICT_FAILED, 400, "21606", "HTTP 400: The From number is not a sender"},
    {"21660", WA_VERDICT_FAILED, 400, "21660", "HTTP 400: Mismatch between From and account"},
    {"63007", WA_VERDICT_FAILED, 400, "63007", "HTTP 400: Could not find a Channel"},
};

static struct wa_outcome outcome(const char *name, long *http)
{
    for (size_t i = 0; i < sizeof answers / sizeof *answers; i++)
        if (strcmp(answers[i].name, name) == 0) {
            struct wa_outcome oc = {.verdict = answers[i].verdict};
            snprintf(oc.code, sizeof oc.code, "%s", answers[i].code);
            snprintf(oc.text, sizeof oc.text, "%s", answers[i].text);
            *http = answers[i].http;
            return oc;
        }
    fail_msg("no answer named %s", name);
    return (struct wa_outcome){0};
}

static void test_signal(void **state)
{
    (void)state;
    static const struct {
        const char *answer;
        enum stw_signal want;
    } cases[] = {
        /* Twilio took it, or refused it for the message's own sake: the number works. */
        {"sent", PASS},
        {"found", PASS},
        {"21211", PASS},
        {"63016", PASS},
        {"21610", PASS},
        {"400", PASS},
        /* It may pass on the next call: one of these is a blip, a run of them is not. */
        {"500", FAIL},
        {"503", FAIL},
        {"429", FAIL},
        {"conn", FAIL},
        {"timeout", FAIL},
        {"502", FAIL},
        {"504", FAIL},
        /* Our account or our number: nothing from this channel can pass. */
        {"401", BROKEN},
        {"403", BROKEN},
        {"404", BROKEN},
        {"20005", BROKEN},
        {"21212", BROKEN},
        {"21606", BROKEN},
        {"21660", BROKEN},
        {"63007", BROKEN},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        long http;
        struct wa_outcome oc = outcome(cases[i].answer, &http);
        if (stw_health_signal(&oc, http) != cases[i].want)
            fail_msg("%s: signal %d, want %d", cases[i].answer, stw_health_signal(&oc, http),
                     cases[i].want);
    }
}

/* A story: answers gap_ms apart (from t = 1000), and after each what the instance holds and
 * whether it publishes: "-" no word yet, "U" UP, "D" DOWN, with "!" when a report goes out. */
struct story {
    const char *name;
    int failures_down; /* 0: 3, the default */
    int64_t gap_ms;    /* 0: 1000 */
    const char *answers, *want;
    int since;          /* the index of the answer the final state began with */
    const char *reason; /* the final reason starts so */
};

static const struct story stories[] = {
    {"a sent message is UP, reported at once", 0, 0, "sent", "U!", 0, "Twilio took a message"},
    {"a refusal of the message itself: the number works", 0, 0, "21211 63016", "U! U", 0,
     "the number works; Twilio refused a message for its own sake: HTTP 400: outside"},
    {"one blip does not flip it", 0, 0, "sent 500 sent", "U! U U", 0, "Twilio took a message"},
    {"nor do two in a row", 0, 0, "sent 500 conn sent", "U! U U U", 0, "Twilio took a message"},
    {"three failures in a row: DOWN since the first", 0, 0, "sent 500 500 500", "U! U U D!", 1,
     "3 sends failed in a row: HTTP 500: Internal Server Error"},
    {"every kind of failure counts", 0, 0, "sent conn timeout 429", "U! U U D!", 1,
     "3 sends failed in a row: HTTP 429"},
    {"gateways too", 0, 0, "502 503 504", "- - D!", 0, "3 sends failed in a row: HTTP 504"},
    {"a pass resets the count", 0, 0, "500 500 sent 500 500 sent", "- - U! U U U", 2,
     "Twilio took a message"},
    {"no word before a decision", 0, 0, "500 500", "- -", 0, ""},
    {"a pass after DOWN is UP at once", 0, 0, "500 500 500 sent", "- - D! U!", 3,
     "Twilio took a message"},
    {"a message found after an unclear call is a pass", 0, 0, "timeout timeout timeout found",
     "- - D! U!", 3, "Twilio took a message"},
    {"DOWN goes on counting", 0, 0, "500 500 500 500 500", "- - D! D D", 0,
     "5 sends failed in a row: HTTP 500"},
    {"a refused account is DOWN at once", 0, 0, "sent 401", "U! D!", 1,
     "Twilio refuses our account or number: HTTP 401: Authenticate"},
    {"so is a forbidden one", 0, 0, "403", "D!", 0, "Twilio refuses our account or number"},
    {"and an account that is not there", 0, 0, "sent 404", "U! D!", 1,
     "Twilio refuses our account or number: HTTP 404"},
    {"a From that is not our WhatsApp sender", 0, 0, "sent 21606 sent 63007", "U! D! U! D!", 3,
     "Twilio refuses our account or number: HTTP 400: Could not find a Channel"},
    {"other refusals of our number", 0, 0, "21212 sent 21660 sent 20005", "D! U! D! U! D!", 4,
     "Twilio refuses our account or number: HTTP 400: Account not active"},
    {"failures after a refused account keep it DOWN", 0, 0, "401 500", "D! D", 0,
     "2 sends failed in a row: HTTP 500"},
    {"a threshold of one", 1, 0, "sent 500", "U! D!", 1, "1 sends failed in a row"},
    {"UP is reported again once the heartbeat is due", 0, 10000, "sent sent sent sent sent",
     "U! U U U! U", 0, "Twilio took a message"},
    {"so is DOWN", 0, 10000, "500 500 500 500 500 500 500", "- - D! D D D! D", 0,
     "7 sends failed in a row"},
    {"a failure under the threshold is a heartbeat of UP", 0, 30000, "sent 500 500", "U! U! U!", 0,
     "Twilio took a message"},
};

static void play(const struct story *s)
{
    const struct stw_health_rule rule = {.failures_down = s->failures_down ? s->failures_down : 3,
                                         .heartbeat_ms = 30000};
    int64_t gap = s->gap_ms ? s->gap_ms : 1000;
    struct stw_health h = {0};
    char answers_copy[256], want_copy[256];
    snprintf(answers_copy, sizeof answers_copy, "%s", s->answers);
    snprintf(want_copy, sizeof want_copy, "%s", s->want);
    char *sa, *sw;
    char *a = strtok_r(answers_copy, " ", &sa), *w = strtok_r(want_copy, " ", &sw);
    int i = 0;
    for (; a && w; i++, a = strtok_r(NULL, " ", &sa), w = strtok_r(NULL, " ", &sw)) {
        long http;
        struct wa_outcome oc = outcome(a, &http);
        int due = stw_health_see(&h, &rule, &oc, http, 1000 + i * gap);
        char got[3] = {h.state == STW_HEALTH_UP     ? 'U'
                       : h.state == STW_HEALTH_DOWN ? 'D'
                                                    : '-',
                       due ? '!' : '\0', '\0'};
        if (strcmp(got, w) != 0)
            fail_msg("%s: after answer %d (%s): %s, want %s", s->name, i, a, got, w);
    }
    if (a || w) fail_msg("%s: answers and wants differ in number", s->name);
    if (h.state != STW_HEALTH_NONE && h.since_ms != 1000 + s->since * gap)
        fail_msg("%s: since %lld, want answer %d's", s->name, (long long)h.since_ms, s->since);
    if (strncmp(h.reason, s->reason, strlen(s->reason)) != 0)
        fail_msg("%s: reason \"%s\", want \"%s...\"", s->name, h.reason, s->reason);
}

static void test_stories(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof stories / sizeof *stories; i++)
        play(&stories[i]);
}

/* The reason holds Twilio's words, cut: never more than its room, whatever they say. */
static void test_long_text(void **state)
{
    (void)state;
    const struct stw_health_rule rule = {.failures_down = 1, .heartbeat_ms = 30000};
    struct stw_health h = {0};
    struct wa_outcome oc = {.verdict = WA_VERDICT_RETRY};
    memset(oc.text, 'x', sizeof oc.text - 1);
    assert_int_equal(stw_health_see(&h, &rule, &oc, 500, 1000), 1);
    assert_int_equal(h.state, STW_HEALTH_DOWN);
    assert_true(strlen(h.reason) < sizeof h.reason);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_signal),
        cmocka_unit_test(test_stories),
        cmocka_unit_test(test_long_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
