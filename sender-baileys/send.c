/* send.c - one command of wa.send.baileys: claim, call the bridge, retry with the same key,
 * or fail over to Twilio when the bridge provably did not send. */
#include "sender_baileys.h"
#include "wa_backoff.h"
#include "wa_event.h"
#include "wa_kafka.h"
#include "wa_log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sbl_metrics sbl_m;

static enum wa_result conclude(struct wa_sender *s, const rd_kafka_message_t *m,
                               const struct wa_outbound *o, const char *status, const char *pmid,
                               const char *code, const char *text, int attempt, int64_t lat,
                               int retryable)
{
    int ok = strcmp(status, "sent") == 0;
    if (wa_send_finish(s, o->id, status, pmid, code, text, lat) != WA_OK) return WA_RETRY;
    if (wa_send_report(s, o, "baileys", status, pmid, code, text, attempt, lat, 0, NULL) ==
        WA_RETRY)
        return WA_RETRY;
    if (!ok && wa_send_error(s, m, code, text, retryable) == WA_RETRY) return WA_RETRY;
    return WA_OK;
}

/* The command again, for Twilio, flagged: the router's decision stands except
 * for the provider. */
static enum wa_result forward(struct wa_sender *s, struct wa_outbound *o, const char *reason)
{
    o->route = "twilio";
    o->failover = 1;
    /* Stored media travels by id; sender-twilio makes its own presigned URL. */
    const char *url = o->media_url, *mimetype = o->mimetype;
    if (o->media_id) o->media_url = o->mimetype = NULL;
    o->reason = reason;
    o->routed_ms = wa_wall_ms();
    char *cmd = wa_outbound_encode(o, WA_OUT_COMMAND);
    o->media_url = url;
    o->mimetype = mimetype;
    rd_kafka_resp_err_t e = wa_kafka_produce_sync(s->producer, sbl_cfg.topic_twilio,
                                                  wa_event_key(o->to), cmd, strlen(cmd));
    free(cmd);
    if (e) {
        wa_warn("cannot hand over to %s: %s", sbl_cfg.topic_twilio, rd_kafka_err2name(e));
        return WA_RETRY;
    }
    return WA_OK;
}

/* docs/architecture.md §3.2: only a provably unsent message moves to Twilio,
 * only inside the window (Twilio may not send free-form outside it), and never
 * when the provider was forced. */
static enum wa_result fail_over(struct wa_sender *s, const rd_kafka_message_t *m,
                                struct wa_outbound *o, const char *why, int attempt)
{
    char reason[600];
    int forced = (o->provider && strcmp(o->provider, "baileys") == 0) ||
                 strcmp(sbl_cfg.provider_mode, "baileys") == 0;
    if (forced) return WA_FAIL; /* the caller retries Baileys */
    if (o->window_until_ms <= wa_wall_ms()) {
        snprintf(reason, sizeof reason,
                 "Baileys is down (%s) and the 24h window has closed: Twilio needs a template",
                 why);
        return conclude(s, m, o, "failed", NULL, "outside_window", reason, attempt, -1, 0);
    }
    snprintf(reason, sizeof reason, "failover: %s", why);
    if (wa_send_failover(s, o->id, reason) != WA_OK) return WA_RETRY;
    if (forward(s, o, reason) != WA_OK) return WA_RETRY;
    wa_metric_add(sbl_m.failover, 1);
    wa_info("id=%s failed over to twilio: %s", o->id, why);
    /* The timeline shows the reroute; the row itself is already Twilio's. */
    if (wa_send_report(s, o, "twilio", "queued", NULL, NULL, NULL, attempt, -1, 1, reason) ==
        WA_RETRY)
        return WA_RETRY;
    return WA_OK;
}

enum wa_result sbl_handle(struct wa_sender *s, CURL *h, const rd_kafka_message_t *m)
{
    char err[512];
    struct wa_outbound o;
    json_t *root = wa_outbound_decode(m->payload, m->len, WA_OUT_COMMAND, &o, err, sizeof err);
    if (!root || strcmp(o.route, "baileys") != 0 || o.content_sid) {
        const char *why = !root           ? err
                          : o.content_sid ? "a template cannot go through Baileys"
                                          : "not routed to baileys";
        wa_warn("invalid command partition=%d offset=%lld reason=\"%s\"", m->partition,
                (long long)m->offset, why);
        wa_metric_add(sbl_m.invalid, 1);
        enum wa_result r = wa_send_error(s, m, "invalid_command", why, 0);
        json_decref(root);
        return r;
    }
    enum wa_result result = WA_OK;
    int attempt = 0;
    char *presigned = NULL, mime[128];
    if (o.media_id) {
        /* The bridge downloads stored media from a short-lived presigned URL. */
        char why[512];
        enum wa_result r;
        presigned =
            wa_send_media_url(s, &sbl_store, o.media_id, mime, sizeof mime, &r, why, sizeof why);
        if (!presigned) {
            json_decref(root);
            if (r == WA_RETRY) return WA_RETRY;
            wa_metric_add(sbl_m.failed, 1);
            return conclude(s, m, &o, "failed", NULL, "media_unknown", why, 0, -1, 0);
        }
        o.media_url = presigned;
        if (mime[0]) o.mimetype = mime;
    }
    enum wa_claim c = wa_send_claim(s, o.id, &attempt);
    /* Found mid-send: the earlier call may have reached WhatsApp, so this message is never
     * failed over, whatever the bridge says next. */
    int unknown = c == WA_CLAIM_INFLIGHT;
    if (c == WA_CLAIM_INFLIGHT) {
        /* An earlier attempt ended mid-call. The bridge dedupes on our key
         * (durably), so asking again is safe: it answers with the first id. */
        wa_info("id=%s found mid-send: asking the bridge again with the same key", o.id);
        if (wa_send_reclaim(s, o.id, &attempt) != WA_OK)
            c = WA_CLAIM_RETRY;
        else
            c = WA_CLAIM_OK;
    }
    if (c == WA_CLAIM_MOVED) {
        /* Failed over already, and maybe lost before Twilio got the command:
         * hand it over again (sender-twilio's claim stops a second send). */
        result = forward(s, &o, "failover (handed over again)");
        free(presigned);
        json_decref(root);
        return result;
    }
    if (c != WA_CLAIM_OK) {
        if (c == WA_CLAIM_RETRY)
            result = WA_RETRY;
        else if (c == WA_CLAIM_MISSING)
            result = wa_send_error(s, m, "unknown_message", "no such message in the CRM", 0);
        else
            wa_metric_add(sbl_m.skipped, 1);
        free(presigned);
        json_decref(root);
        return result;
    }
    char *body = sbl_request(&o);
    char secret[300];
    snprintf(secret, sizeof secret, "X-BAILEYS-SECRET: %s", sbl_cfg.secret);
    const char *headers[] = {"Content-Type: application/json", secret, NULL};
    for (int retry = 1;; retry++) {
        struct wa_client_result r;
        wa_client_call(h, "POST", sbl_cfg.send_url, headers, body, strlen(body), NULL,
                       sbl_cfg.connect_timeout_ms, sbl_cfg.timeout_ms, &r);
        wa_metric_observe(sbl_m.call_seconds, r.elapsed_ms / 1000.0);
        struct sbl_outcome oc;
        sbl_classify(&r, &oc);
        int64_t retry_after = r.retry_after_ms;
        wa_buf_free(&r.body);
        int64_t lat = o.requested_ms ? wa_wall_ms() - o.requested_ms : -1;
        wa_info("id=%s to=%s attempt=%d http=%ld verdict=%d message=%s ms=%.1f", o.id, o.to,
                attempt, r.status, oc.verdict, oc.message_id, r.elapsed_ms);
        if (oc.verdict == SBL_SENT) {
            /* The id receipts will carry: remoteJid/messageId. */
            char pmid[320];
            snprintf(pmid, sizeof pmid, "%s@s.whatsapp.net/%s", o.to + 1, oc.message_id);
            wa_metric_add(sbl_m.sent, 1);
            if (lat >= 0) wa_metric_observe(sbl_m.latency, (double)lat / 1000.0);
            result = conclude(s, m, &o, "sent", pmid, NULL, NULL, attempt, lat, 0);
            break;
        }
        if (oc.verdict == SBL_FAILED) {
            wa_metric_add(sbl_m.failed, 1);
            result = conclude(s, m, &o, "failed", NULL, oc.code, oc.text, attempt, lat, 0);
            break;
        }
        if (oc.earlier_unknown) unknown = 1;
        if (oc.verdict == SBL_DOWN) {
            sbl_mark_down(oc.text);
            if (!unknown) {
                /* Only when no earlier attempt may have reached WhatsApp. */
                result = fail_over(s, m, &o, oc.text, attempt);
                if (result != WA_FAIL) break;
                result = WA_OK;
            }
        }
        if (oc.verdict == SBL_UNKNOWN) unknown = 1;
        if (attempt >= sbl_cfg.max_attempts || !wa_running()) {
            if (!wa_running()) {
                result = WA_RETRY; /* still "sending": the next owner asks again */
                break;
            }
            char text[700];
            snprintf(text, sizeof text, "%s after %d attempts; last: %s",
                     unknown ? "unknown outcome" : "gave up", attempt, oc.text);
            wa_metric_add(unknown ? sbl_m.unknown : sbl_m.failed, 1);
            result = conclude(s, m, &o, "failed", NULL, unknown ? "unknown_outcome" : oc.code, text,
                              attempt, lat, 1);
            break;
        }
        int64_t pause = wa_backoff_pause(retry, sbl_cfg.base_ms, sbl_cfg.cap_ms, retry_after);
        wa_metric_add(sbl_m.retried, 1);
        wa_info("id=%s retry %d in %lld ms with the same key (%s)", o.id, retry, (long long)pause,
                oc.text);
        wa_sleep_ms(pause);
        if (!wa_running()) {
            result = WA_RETRY; /* still "sending": the next owner asks again, same key */
            break;
        }
        if (wa_send_reclaim(s, o.id, &attempt) != WA_OK) {
            result = WA_RETRY;
            break;
        }
    }
    free(body);
    free(presigned);
    json_decref(root);
    return result;
}
