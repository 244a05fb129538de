/* inbound.c - wa.inbound into the CRM: a batch of records in one pipelined transaction. */
#include "router.h"
#include "wa_window.h"
#include "wa_log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The parameters of inbound_store for one record, and what they point into. */
struct prepared {
    json_t *root; /* the decoded event; the strings below borrow from it */
    struct wa_inbound in;
    char ts[24], now[24], window[24];
    char channel[WA_CHANNEL_MAX];
    char *payload, *msg;
    /* Consent (docs/architecture.md §3.5): what the text says, the keyword, and the event. */
    enum rtr_consent consent;
    const char *keyword;
    char *consent_event;
    const char *params[24];
};

/* The message part of the wa.inbound event; SQL adds the message id. */
static char *message_event(const struct wa_inbound *in)
{
    json_t *media = json_array();
    for (size_t i = 0; i < in->nmedia; i++) {
        const struct wa_media_ref *r = &in->media[i];
        json_t *item = json_pack("{s:s*, s:s*, s:s*}", "url", r->url, "mime", r->mime,
                                 "unavailable", r->unavailable);
        if (r->size >= 0) json_object_set_new(item, "size", json_integer(r->size));
        json_array_append_new(media, item);
    }
    json_t *msg = json_pack("{s:s, s:s, s:s, s:s%, s:I, s:o}", "direction", "inbound", "type",
                            in->type, "provider_message_id", in->provider_message_id, "text",
                            in->text ? in->text : "", in->text ? in->text_len : 0, "timestamp_ms",
                            (json_int_t)in->timestamp_ms, "media", media);
    char *s = json_dumps(msg, JSON_COMPACT);
    json_decref(msg);
    return s;
}

/* Decodes and validates; WA_FAIL with out->code for a record to park. */
static enum wa_result prepare(const rd_kafka_message_t *km, int64_t now, struct prepared *p,
                              struct rtr_outcome *out)
{
    char err[512];
    p->root = wa_inbound_decode(km->payload, km->len, &p->in, err, sizeof err);
    if (!p->root) {
        wa_warn("poison record topic=%s partition=%d offset=%lld reason=\"%s\"",
                rd_kafka_topic_name(km->rkt), km->partition, (long long)km->offset, err);
        out->code = "invalid_event";
        snprintf(out->reason, sizeof out->reason, "%s", err);
        return WA_FAIL;
    }
    const struct wa_inbound *in = &p->in;
    /* The text is stored as a C string: a NUL inside it would cut it short. */
    if (in->text && strlen(in->text) != in->text_len) {
        out->code = "invalid_event";
        snprintf(out->reason, sizeof out->reason, "text contains a NUL character");
        return WA_FAIL;
    }
    snprintf(p->ts, sizeof p->ts, "%lld",
             (long long)(in->timestamp_ms ? in->timestamp_ms : in->received_ms));
    snprintf(p->now, sizeof p->now, "%lld", (long long)now);
    p->payload = wa_xstrndup(km->payload, km->len);
    p->msg = message_event(in);
    snprintf(p->window, sizeof p->window, "%lld", (long long)WA_WINDOW_MS);
    /* The number it came to; the provider's default where the event does not name one. */
    if (wa_channel_id(in->provider, in->to, p->channel, sizeof p->channel) < 0)
        snprintf(p->channel, sizeof p->channel, "%s", in->provider);
    /* A text that is exactly a keyword (a caption with media is not). */
    p->consent = in->nmedia == 0
                     ? rtr_consent_match(&rtr_cfg.keywords, in->text, in->text_len, &p->keyword)
                     : RTR_CONSENT_NONE;
    if (p->consent != RTR_CONSENT_NONE)
        p->consent_event =
            rtr_consent_event(p->consent, in->provider, p->channel, "keyword", p->keyword, now);
    const char *action = p->consent == RTR_CONSENT_OPTOUT  ? "optout"
                         : p->consent == RTR_CONSENT_OPTIN ? "optin"
                                                           : NULL;
    const char *v[24] = {
        in->phone, in->wa_id, in->lid, in->profile_name, in->provider, in->provider_message_id,
        in->type, in->text, p->payload, p->ts, rtr_cfg.topic_events, p->msg, p->now, p->window,
        rtr_cfg.topic_send_twilio, p->channel,
        /* The long form only (router/store.c). */
        rtr_cfg.topic_media, action, p->keyword, p->consent_event, rtr_cfg.topic_outbound,
        rtr_cfg.optout_confirmation, RTR_CONFIRMATION_KEY, rtr_cfg.topic_error};
    memcpy(p->params, v, sizeof v);
    out->received_ms = in->received_ms;
    return WA_OK;
}

/* A text that is no consent keyword, most messages, takes the statement's short form: it has
 * no media jobs and no consent to write (router/store.c). */
static enum wa_result prepare_rec(const rd_kafka_message_t *km, int64_t now, void *rec,
                                  struct rtr_outcome *out, struct wa_pg_call *call)
{
    struct prepared *p = rec;
    enum wa_result res = prepare(km, now, p, out);
    call->params = p->params;
    if (res == WA_OK && p->in.nmedia == 0 && p->consent == RTR_CONSENT_NONE) {
        call->stmt = "inbound_text";
        call->nparams = 16;
    }
    return res;
}

static void result(void *rec, PGresult *q, struct rtr_outcome *out)
{
    struct prepared *p = rec;
    out->duplicate = PQgetisnull(q, 0, 0);
    if (out->duplicate)
        wa_debug("duplicate inbound provider=%s id=%s ignored", p->in.provider,
                 p->in.provider_message_id);
    if (!PQgetisnull(q, 0, 5)) {
        int optout = PQgetvalue(q, 0, 5)[0] == 't';
        wa_metric_add(optout ? rtr_m.optout : rtr_m.optin, 1);
        wa_info("contact %s %s channel=%s keyword=\"%s\"", p->in.phone,
                optout ? "opted out" : "opted in", p->channel, p->keyword);
    }
}

static void release(void *rec)
{
    struct prepared *p = rec;
    json_decref(p->root);
    free(p->payload);
    free(p->msg);
    free(p->consent_event);
}

enum wa_result rtr_inbound_batch(struct rtr *r, rd_kafka_message_t **ms, size_t n,
                                 struct rtr_outcome *out, enum wa_result *res)
{
    static const struct rtr_batch_ops ops = {
        "inbound_store", 24, sizeof(struct prepared), "message", prepare_rec, result, release};
    return rtr_pipelined_batch(r, ms, n, out, res, &ops);
}
