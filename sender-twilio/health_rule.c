/* health_rule.c - what Twilio's answers to our sends say of a channel's health
 * (docs/architecture.md §3.3, sender-twilio/README.md); pure. health.c publishes what it decides.
 */
#include "sender_twilio.h"

#include <stdio.h>
#include <string.h>

/* Twilio's codes that refuse our account or our sender number, whatever the message: no send
 * from this channel can pass until someone fixes the account or the number. */
static const char *const broken_codes[] = {
    "20003", /* authentication failed: wrong Account SID or auth token */
    "20005", /* the account is not active (suspended or closed) */
    "20404", /* the account (the API path) does not exist */
    "21212", /* the From number is not a valid number */
    "21606", /* the From number is not a WhatsApp sender of this account */
    "21660", /* the From number belongs to another account */
    "63007", /* no WhatsApp channel with this From address */
};

enum stw_signal stw_health_signal(const struct wa_outcome *oc, long http_status)
{
    switch (oc->verdict) {
    case WA_VERDICT_SENT:
        return STW_SIGNAL_PASS;
    case WA_VERDICT_FAILED:
        if (http_status == 401 || http_status == 403 || http_status == 404)
            return STW_SIGNAL_BROKEN;
        for (size_t i = 0; i < sizeof broken_codes / sizeof *broken_codes; i++)
            if (strcmp(oc->code, broken_codes[i]) == 0) return STW_SIGNAL_BROKEN;
        /* Any other refusal is about the message (an invalid recipient, 63016 outside the
         * window, a bad template): Twilio took our credentials and our number to judge it. */
        return STW_SIGNAL_PASS;
    default:
        /* Nothing reached Twilio (refused connection, connect timeout), no clear answer came
         * (timeout, 502, 504), or Twilio did not take it (429, 5xx): each may be a blip. */
        return STW_SIGNAL_FAIL;
    }
}

int stw_health_see(struct stw_health *h, const struct stw_health_rule *rule,
                   const struct wa_outcome *oc, long http_status, int64_t now_ms)
{
    enum stw_state before = h->state;
    switch (stw_health_signal(oc, http_status)) {
    case STW_SIGNAL_PASS:
        h->failures = 0;
        if (h->state != STW_HEALTH_UP) h->since_ms = now_ms;
        h->state = STW_HEALTH_UP;
        if (oc->verdict == WA_VERDICT_SENT)
            snprintf(h->reason, sizeof h->reason, "Twilio took a message");
        else
            snprintf(h->reason, sizeof h->reason,
                     "the number works; Twilio refused a message for its own sake: %.180s",
                     oc->text);
        break;
    case STW_SIGNAL_FAIL:
        if (h->failures++ == 0) h->first_failure_ms = now_ms;
        /* Below the threshold the last word stands: UP, or none yet. */
        if (h->state != STW_HEALTH_DOWN && h->failures < rule->failures_down) break;
        if (h->state != STW_HEALTH_DOWN) h->since_ms = h->first_failure_ms;
        h->state = STW_HEALTH_DOWN;
        snprintf(h->reason, sizeof h->reason, "%d sends failed in a row: %.200s", h->failures,
                 oc->text);
        break;
    case STW_SIGNAL_BROKEN:
        if (h->failures++ == 0) h->first_failure_ms = now_ms;
        if (h->state != STW_HEALTH_DOWN) h->since_ms = now_ms;
        h->state = STW_HEALTH_DOWN;
        snprintf(h->reason, sizeof h->reason, "Twilio refuses our account or number: %.200s",
                 oc->text);
        break;
    }
    if (h->state == STW_HEALTH_NONE) return 0;
    if (h->state == before && now_ms - h->published_ms < rule->heartbeat_ms) return 0;
    h->published_ms = now_ms;
    return 1;
}

const char *stw_health_name(enum stw_state s)
{
    return s == STW_HEALTH_UP ? "UP" : s == STW_HEALTH_DOWN ? "DOWN" : "NONE";
}
