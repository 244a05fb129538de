/* send.c - one command of wa.send.twilio: claim, call the Messages API, retry, report. */
#include "sender_twilio.h"
#include "wa_backoff.h"
#include "wa_log.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct stw_metrics stw_m;

/* Records a final outcome everywhere it must go. */
static enum wa_result conclude(struct wa_sender *s, const rd_kafka_message_t *m,
                               const struct wa_outbound *o, const char *status,
                               const struct stw_outcome *oc, int attempt, int64_t lat,
                               int retryable)
{
    const char *sid = oc->sid[0] ? oc->sid : NULL;
    const char *code = oc->code[0] ? oc->code : NULL;
    const char *text = oc->text[0] ? oc->text : NULL;
    int ok = strcmp(status, "sent") == 0;
    if (wa_send_finish(s, o->id, status, sid, ok ? NULL : code, ok ? NULL : text, lat) != WA_OK)
        return WA_RETRY;
    if (wa_send_report(s, o, "twilio", status, sid, ok ? NULL : code, ok ? NULL : text, attempt,
                       lat, o->failover, NULL) == WA_RETRY)
        return WA_RETRY;
    if (!ok &&
        wa_send_error(s, m, code ? code : "failed", text ? text : status, retryable) == WA_RETRY)
        return WA_RETRY;
    return WA_OK;
}

/* The workers share the bucket of the one sender number. */
static int64_t take(struct stw_bucket *b)
{
    static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    pthread_mutex_lock(&mu);
    int64_t wait = stw_bucket_take(b, wa_now_ms());
    pthread_mutex_unlock(&mu);
    return wait;
}

/* After an ambiguous answer, Twilio's own list of the messages to this number says whether the
 * call made one: 1 (oc->sid filled), 0 (it did not), -1 (the list could not be read). */
static int reconcile(CURL *h, const struct wa_outbound *o, int64_t since_ms, const char *userpwd,
                     struct stw_outcome *oc)
{
    char to[40], url[1024];
    snprintf(to, sizeof to, "whatsapp:%s", o->to);
    char *eto = curl_easy_escape(h, to, 0), *efrom = curl_easy_escape(h, stw_cfg.from, 0);
    snprintf(url, sizeof url, "%s/2010-04-01/Accounts/%s/Messages.json?To=%s&From=%s&PageSize=20",
             stw_cfg.api_base, stw_cfg.account_sid, eto, efrom);
    curl_free(eto);
    curl_free(efrom);
    static const char *const headers[] = {"Accept: application/json", NULL};
    struct wa_client_result r;
    wa_client_call(h, "GET", url, headers, NULL, 0, userpwd, stw_cfg.connect_timeout_ms,
                   stw_cfg.timeout_ms, &r);
    int found = r.status == 200 ? stw_find_created(r.body.data, r.body.len, o, stw_cfg.from,
                                                   since_ms, oc->sid, sizeof oc->sid)
                                : -1;
    wa_buf_free(&r.body);
    wa_info("id=%s reconciled after an ambiguous answer: %s (list http=%ld)", o->id,
            found == 1   ? "Twilio has it"
            : found == 0 ? "Twilio does not have it"
                         : "unknown",
            r.status);
    return found;
}

enum wa_result stw_handle(struct wa_sender *s, CURL *h, struct stw_bucket *bucket,
                          const rd_kafka_message_t *m)
{
    char err[512];
    struct wa_outbound o;
    json_t *root = wa_outbound_decode(m->payload, m->len, WA_OUT_COMMAND, &o, err, sizeof err);
    if (!root || strcmp(o.route, "twilio") != 0) {
        wa_warn("invalid command partition=%d offset=%lld reason=\"%s\"", m->partition,
                (long long)m->offset, root ? "not routed to twilio" : err);
        wa_metric_add(stw_m.invalid, 1);
        json_decref(root);
        return wa_send_error(s, m, "invalid_command", root ? "not routed to twilio" : err, 0);
    }
    enum wa_result result = WA_OK;
    char *presigned = NULL;
    if (o.media_id) {
        /* Stored media goes out as a short-lived presigned URL, made now so its
         * lifetime starts at the send. */
        char mime[128], why[512];
        enum wa_result r;
        presigned =
            wa_send_media_url(s, &stw_store, o.media_id, mime, sizeof mime, &r, why, sizeof why);
        if (!presigned) {
            json_decref(root);
            if (r == WA_RETRY) return WA_RETRY;
            struct stw_outcome oc = {.verdict = STW_FAILED};
            snprintf(oc.code, sizeof oc.code, "media_unknown");
            snprintf(oc.text, sizeof oc.text, "%s", why);
            wa_metric_add(stw_m.failed, 1);
            return conclude(s, m, &o, "failed", &oc, 0, -1, 0);
        }
        o.media_url = presigned;
    }
    char userpwd[256];
    snprintf(userpwd, sizeof userpwd, "%s:%s", stw_cfg.account_sid, stw_cfg.auth_token);
    char url[1024];
    snprintf(url, sizeof url, "%s/2010-04-01/Accounts/%s/Messages.json", stw_cfg.api_base,
             stw_cfg.account_sid);
    for (int retry = 1;; retry++) {
        int attempt = 0;
        enum wa_claim c = wa_send_claim(s, o.id, &attempt);
        if (c == WA_CLAIM_RETRY) {
            result = WA_RETRY;
            break;
        }
        if (c == WA_CLAIM_MISSING) {
            result = wa_send_error(s, m, "unknown_message", "no such message in the CRM", 0);
            break;
        }
        if (c == WA_CLAIM_DONE || c == WA_CLAIM_MOVED) {
            wa_metric_add(stw_m.skipped, 1);
            wa_info("id=%s already handled: nothing sent", o.id);
            break;
        }
        if (c == WA_CLAIM_INFLIGHT) {
            /* An earlier attempt died between claiming and recording: Twilio
             * may or may not have it, and Twilio has no idempotency key. A
             * possible loss is reported; a possible duplicate is not risked. */
            struct stw_outcome oc = {.verdict = STW_UNKNOWN};
            snprintf(oc.code, sizeof oc.code, "unknown_outcome");
            snprintf(oc.text, sizeof oc.text,
                     "an earlier attempt ended after claiming the message: it may have been "
                     "sent; not repeated");
            wa_metric_add(stw_m.unknown, 1);
            wa_warn("id=%s found mid-send after a restart: recorded as unknown", o.id);
            result = conclude(s, m, &o, "unknown", &oc, attempt, -1, 0);
            break;
        }
        int64_t wait;
        while ((wait = take(bucket)) > 0 && wa_running()) {
            wa_metric_add(stw_m.throttled_ms, wait);
            wa_sleep_ms(wait);
        }
        struct wa_buf form = {0};
        stw_form(h, &o, stw_cfg.from, stw_cfg.public_base_url, &form);
        static const char *const headers[] = {"Content-Type: application/x-www-form-urlencoded",
                                              "Accept: application/json", NULL};
        struct wa_client_result r;
        int64_t called_ms = wa_wall_ms();
        wa_client_call(h, "POST", url, headers, form.data, form.len, userpwd,
                       stw_cfg.connect_timeout_ms, stw_cfg.timeout_ms, &r);
        wa_buf_free(&form);
        wa_metric_observe(stw_m.call_seconds, r.elapsed_ms / 1000.0);
        struct stw_outcome oc;
        stw_classify(&r, &oc);
        if (oc.verdict == STW_UNKNOWN && wa_running()) {
            /* Twilio has no idempotency key: never resend blind. Its list decides, asked after
             * a pause, so a message still being made behind a slow answer has landed there. */
            wa_sleep_ms(stw_cfg.base_ms);
            int found = reconcile(h, &o, called_ms, userpwd, &oc);
            if (found == 1) {
                oc.verdict = STW_SENT;
                oc.code[0] = oc.text[0] = '\0';
            } else if (found == 0) {
                oc.verdict = STW_RETRY; /* provably not made: the same request again */
            }
        }
        int64_t lat = o.requested_ms ? wa_wall_ms() - o.requested_ms : -1;
        wa_info("id=%s to=%s attempt=%d http=%ld verdict=%d sid=%s code=%s ms=%.1f", o.id, o.to,
                attempt, r.status, oc.verdict, oc.sid, oc.code, r.elapsed_ms);
        int64_t retry_after = r.retry_after_ms;
        wa_buf_free(&r.body);
        if (oc.verdict == STW_SENT) {
            wa_metric_add(stw_m.sent, 1);
            if (lat >= 0) wa_metric_observe(stw_m.latency, (double)lat / 1000.0);
            result = conclude(s, m, &o, "sent", &oc, attempt, lat, 0);
            break;
        }
        if (oc.verdict == STW_FAILED) {
            wa_metric_add(stw_m.failed, 1);
            result = conclude(s, m, &o, "failed", &oc, attempt, lat, 0);
            break;
        }
        if (oc.verdict == STW_UNKNOWN) {
            wa_metric_add(stw_m.unknown, 1);
            result = conclude(s, m, &o, "unknown", &oc, attempt, lat, 0);
            break;
        }
        /* Provably not taken: back to queued, so a crash while waiting
         * resends safely. */
        if (wa_send_release(s, o.id) != WA_OK) {
            result = WA_RETRY;
            break;
        }
        if (attempt >= stw_cfg.max_attempts || !wa_running()) {
            if (!wa_running()) {
                /* Released to queued, and the offset is not stored: the command comes
                 * back to whoever owns the partition next. */
                result = WA_RETRY;
                break;
            }
            char text[sizeof oc.text + 64];
            snprintf(text, sizeof text, "gave up after %d attempts; last: %s", attempt, oc.text);
            snprintf(oc.text, sizeof oc.text, "%.*s", (int)sizeof oc.text - 1, text);
            wa_metric_add(stw_m.failed, 1);
            result = conclude(s, m, &o, "failed", &oc, attempt, lat, 1);
            break;
        }
        int64_t pause = wa_backoff_pause(retry, stw_cfg.base_ms, stw_cfg.cap_ms, retry_after);
        wa_metric_add(stw_m.retried, 1);
        wa_info("id=%s retry %d in %lld ms (%s)", o.id, retry, (long long)pause, oc.text);
        wa_sleep_ms(pause);
        if (!wa_running()) {
            result = WA_RETRY; /* stopped while backing off: still queued, not ours to finish */
            break;
        }
    }
    free(presigned);
    json_decref(root);
    return result;
}
