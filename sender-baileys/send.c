/* send.c - one command of wa.send.baileys: the bridge's /send around the shared send decision
 * (wa_send_drive), with failover to Twilio when the bridge provably did not send. */
#include "sender_baileys.h"
#include "wa_event.h"
#include "wa_kafka.h"
#include "wa_log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sbl_metrics sbl_m;

/* One command's provider side: the request is the same for every attempt (same key). */
struct call {
    CURL *h;
    const char *body;
    const struct sbl_channel *ch; /* the session that sends it */
};

static void call(void *ctx, const struct wa_outbound *o, int attempt, struct wa_outcome *oc)
{
    struct call *c = ctx;
    char secret[300];
    snprintf(secret, sizeof secret, "X-BAILEYS-SECRET: %s", sbl_cfg.secret);
    const char *headers[] = {"Content-Type: application/json", secret, NULL};
    struct wa_client_result r;
    wa_client_call(c->h, "POST", c->ch->send_url, headers, c->body, strlen(c->body), NULL,
                   sbl_cfg.connect_timeout_ms, sbl_cfg.timeout_ms, &r);
    wa_metric_observe(sbl_m.send.call_seconds, r.elapsed_ms / 1000.0);
    sbl_classify(&r, oc);
    wa_buf_free(&r.body);
    wa_info("id=%s to=%s attempt=%d http=%ld verdict=%d message=%s ms=%.1f", o->id, o->to, attempt,
            r.status, oc->verdict, oc->id, r.elapsed_ms);
    if (oc->verdict == WA_VERDICT_SENT) {
        /* The id receipts will carry: remoteJid/messageId. */
        char pmid[sizeof oc->id];
        snprintf(pmid, sizeof pmid, "%s@s.whatsapp.net/%.*s", o->to + 1, (int)(sizeof pmid - 40),
                 oc->id);
        memcpy(oc->id, pmid, sizeof pmid);
    }
    if (oc->verdict == WA_VERDICT_DOWN) sbl_mark_down(c->ch, oc->text);
}

/* The command again, for Twilio, flagged: the router's decision stands except
 * for the provider. */
static enum wa_result hand_over(void *ctx, struct wa_sender *s, struct wa_outbound *o,
                                const char *reason)
{
    (void)ctx;
    o->route = "twilio";
    o->failover = 1;
    /* Through the Twilio number the router named for it (NULL: Twilio's default), whose
     * window with this contact is the one that counts now. */
    o->channel = o->failover_channel;
    o->window_until_ms = o->failover_window_until_ms;
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
        wa_metric_add(sbl_m.send.invalid, 1);
        enum wa_result r = wa_send_error(s, m, "invalid_command", why, 0);
        json_decref(root);
        return r;
    }
    const struct sbl_channel *ch = sbl_channel_of(o.channel);
    if (!ch) {
        enum wa_result r = wa_send_refuse_channel(s, m, &o, &sbl_m.send, "BAILEYS_CHANNELS");
        json_decref(root);
        return r;
    }
    enum wa_result result;
    char *presigned = NULL, mime[128], filename[256] = "";
    if (o.media_id) {
        /* The bridge downloads stored media from a short-lived presigned URL. */
        char why[512];
        presigned = wa_send_media_url(s, &sbl_store, o.media_id, mime, sizeof mime, filename,
                                      sizeof filename, &result, why, sizeof why);
        if (!presigned) {
            if (result != WA_RETRY) {
                wa_metric_add(sbl_m.send.failed, 1);
                result = wa_send_refuse(s, m, &o, "media_unknown", why);
            }
            json_decref(root); /* o borrows from it */
            return result;
        }
        o.media_url = presigned;
        if (mime[0]) o.mimetype = mime;
    }
    /* A document keeps the name its file had (an operator's upload); else the bridge names it
     * after the URL. */
    char *body = sbl_request(&o, filename[0] ? filename : NULL);
    struct call c = {.h = h, .body = body, .ch = ch};
    const struct wa_send_ops ops = {
        /* The bridge dedupes on our key (durably), so an unclear end is asked again with the
         * same key; a provably unsent message may move to Twilio. */
        .policy = {.dedupes = 1, .reconciles = 0, .fails_over = 1},
        .max_attempts = sbl_cfg.max_attempts,
        .base_ms = sbl_cfg.base_ms,
        .cap_ms = sbl_cfg.cap_ms,
        .fail_over_to = "twilio",
        .call = call,
        .hand_over = hand_over,
        .m = &sbl_m.send,
        .ctx = &c,
    };
    int forced = (o.provider && strcmp(o.provider, "baileys") == 0) ||
                 strcmp(sbl_cfg.provider_mode, "baileys") == 0;
    result = wa_send_drive(s, m, &o, &ops, forced);
    free(body);
    free(presigned);
    json_decref(root);
    return result;
}
