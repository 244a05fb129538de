/* send.c - one command of wa.send.twilio: the Messages API calls around the shared send
 * decision (wa_send_drive). */
#include "sender_twilio.h"
#include "wa_log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct stw_metrics stw_m;

/* One command's provider side. */
struct call {
    CURL *h;
    struct wa_sender *s; /* its lane: the number's pace reserved through its Postgres pool */
    char userpwd[256];
    const char *from; /* the channel's number, whatsapp:+E164 */
    int channel;      /* its index in stw_channels, for its health */
};

double stw_rates[WA_CHANNELS_MAX];

static void call(void *ctx, const struct wa_outbound *o, int attempt, struct wa_outcome *oc)
{
    struct call *c = ctx;
    /* The number's next slot, shared by every instance (docs/architecture.md §4). */
    int64_t wait_us = 0;
    if (wa_send_pace(c->s, stw_channels[c->channel], stw_rates[c->channel], &wait_us) != WA_OK) {
        memset(oc, 0, sizeof *oc);
        oc->verdict = WA_VERDICT_RETRY; /* nothing left: provably not sent */
        snprintf(oc->code, sizeof oc->code, "pacing");
        snprintf(oc->text, sizeof oc->text, "the number's pace could not be read from Postgres");
        return;
    }
    if (wait_us > 0) {
        wa_metric_add(stw_m.throttled_ms, (wait_us + 999) / 1000);
        wa_sleep_ms((wait_us + 999) / 1000);
    }
    if (!wa_running()) {
        memset(oc, 0, sizeof *oc);
        oc->verdict = WA_VERDICT_RETRY;
        snprintf(oc->text, sizeof oc->text, "stopping");
        return;
    }
    char url[1024];
    snprintf(url, sizeof url, "%s/2010-04-01/Accounts/%s/Messages.json", stw_cfg.api_base,
             stw_cfg.account_sid);
    struct wa_buf form = {0};
    stw_form(c->h, o, c->from, stw_cfg.public_base_url, &form);
    static const char *const headers[] = {"Content-Type: application/x-www-form-urlencoded",
                                          "Accept: application/json", NULL};
    struct wa_client_result r;
    wa_client_call(c->h, "POST", url, headers, form.data, form.len, c->userpwd,
                   stw_cfg.connect_timeout_ms, stw_cfg.timeout_ms, &r);
    wa_buf_free(&form);
    wa_metric_observe(stw_m.send.call_seconds, r.elapsed_ms / 1000.0);
    stw_classify(&r, oc);
    stw_health_note(c->channel, oc, r.status);
    wa_info("id=%s to=%s attempt=%d http=%ld verdict=%d sid=%s code=%s ms=%.1f", o->id, o->to,
            attempt, r.status, oc->verdict, oc->id, oc->code, r.elapsed_ms);
    wa_buf_free(&r.body);
}

/* After an ambiguous answer, Twilio's own list of the messages to this number says whether the
 * call made one: 1 (oc->id filled), 0 (it did not), -1 (the list could not be read). */
static int reconcile(void *ctx, const struct wa_outbound *o, int64_t since_ms,
                     struct wa_outcome *oc)
{
    struct call *c = ctx;
    char to[40], url[1024];
    snprintf(to, sizeof to, "whatsapp:%s", o->to);
    char *eto = curl_easy_escape(c->h, to, 0), *efrom = curl_easy_escape(c->h, c->from, 0);
    snprintf(url, sizeof url, "%s/2010-04-01/Accounts/%s/Messages.json?To=%s&From=%s&PageSize=20",
             stw_cfg.api_base, stw_cfg.account_sid, eto, efrom);
    curl_free(eto);
    curl_free(efrom);
    static const char *const headers[] = {"Accept: application/json", NULL};
    struct wa_client_result r;
    wa_client_call(c->h, "GET", url, headers, NULL, 0, c->userpwd, stw_cfg.connect_timeout_ms,
                   stw_cfg.timeout_ms, &r);
    int found = r.status == 200 ? stw_find_created(r.body.data, r.body.len, o, c->from, since_ms,
                                                   oc->id, sizeof oc->id)
                                : -1;
    wa_buf_free(&r.body);
    /* The call counted as a failure; Twilio having the message after all is a pass. */
    if (found == 1)
        stw_health_note(c->channel, &(struct wa_outcome){.verdict = WA_VERDICT_SENT}, 0);
    wa_info("id=%s reconciled after an ambiguous answer: %s (list http=%ld)", o->id,
            found == 1   ? "Twilio has it"
            : found == 0 ? "Twilio does not have it"
                         : "unknown",
            r.status);
    return found;
}

enum wa_result stw_handle(struct wa_sender *s, CURL *h, const rd_kafka_message_t *m)
{
    char err[512];
    struct wa_outbound o;
    json_t *root = wa_outbound_decode(m->payload, m->len, WA_OUT_COMMAND, &o, err, sizeof err);
    if (!root || strcmp(o.route, "twilio") != 0) {
        wa_warn("invalid command partition=%d offset=%lld reason=\"%s\"", m->partition,
                (long long)m->offset, root ? "not routed to twilio" : err);
        wa_metric_add(stw_m.send.invalid, 1);
        json_decref(root);
        return wa_send_error(s, m, "invalid_command", root ? "not routed to twilio" : err, 0);
    }
    enum wa_result result;
    char from[40];
    struct call c = {
        .h = h, .s = s, .from = stw_from(&o, from, sizeof from), .channel = stw_channel_of(&o)};
    if (!c.from) {
        enum wa_result r = wa_send_refuse_channel(s, m, &o, &stw_m.send, "TWILIO_WA_FROM");
        json_decref(root);
        return r;
    }
    char *presigned = NULL;
    if (o.media_id) {
        /* Stored media goes out as a short-lived presigned URL, made now so its
         * lifetime starts at the send. */
        char mime[128], why[512];
        presigned = wa_send_media_url(s, &stw_store, o.media_id, mime, sizeof mime, NULL, 0,
                                      &result, why, sizeof why);
        if (!presigned) {
            if (result != WA_RETRY) {
                wa_metric_add(stw_m.send.failed, 1);
                result = wa_send_refuse(s, m, &o, "media_unknown", why);
            }
            json_decref(root); /* o borrows from it */
            return result;
        }
        o.media_url = presigned;
    }
    snprintf(c.userpwd, sizeof c.userpwd, "%s:%s", stw_cfg.account_sid, stw_cfg.auth_token);
    const struct wa_send_ops ops = {
        /* Twilio has no idempotency key: an unclear answer is settled from its list, never
         * resent blind; Twilio is the last resort, with nowhere to fail over to. */
        .policy = {.dedupes = 0, .reconciles = 1, .fails_over = 0},
        .max_attempts = stw_cfg.max_attempts,
        .base_ms = stw_cfg.base_ms,
        .cap_ms = stw_cfg.cap_ms,
        /* A call, the pause and the list look-up after an unclear answer, each within its
         * timeouts, and 5 s for pacing and the CRM. */
        .settle_ms = 2 * (stw_cfg.connect_timeout_ms + stw_cfg.timeout_ms) + stw_cfg.base_ms + 5000,
        .call = call,
        .reconcile = reconcile,
        .m = &stw_m.send,
        .ctx = &c,
    };
    result = wa_send_drive(s, m, &o, &ops, 1);
    free(presigned);
    json_decref(root);
    return result;
}
