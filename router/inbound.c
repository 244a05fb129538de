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
    char *set_json; /* its object in a set (set_object), or NULL */
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

/* A text that is no consent keyword (most messages) has no media jobs and no consent to write,
 * and joins a set of such texts (router/store.c, inbound_texts) as this object: the fields the
 * long form takes as $1-$10, $12 and $16. NULL: not such a text, or it could not be encoded; it
 * takes the long form, alone. */
static char *set_object(const struct prepared *p)
{
    const struct wa_inbound *in = &p->in;
    if (in->nmedia != 0 || p->consent != RTR_CONSENT_NONE) return NULL;
    json_t *o = json_pack(
        "{s:s, s:s?, s:s?, s:s?, s:s, s:s, s:s, s:s?, s:I, s:s}", "phone", in->phone, "wa_id",
        in->wa_id, "lid", in->lid, "profile_name", in->profile_name, "provider", in->provider,
        "pmid", in->provider_message_id, "type", in->type, "body", in->text, "ts",
        (json_int_t)(in->timestamp_ms ? in->timestamp_ms : in->received_ms), "channel", p->channel);
    const char *const raw[][2] = {{"payload", p->payload}, {"msg", p->msg}};
    return rtr_set_object(o, raw, 2);
}

static enum wa_result prepare_rec(const rd_kafka_message_t *km, int64_t now, void *rec,
                                  struct rtr_outcome *out, struct wa_pg_call *call,
                                  struct rtr_set_entry *set)
{
    struct prepared *p = rec;
    enum wa_result res = prepare(km, now, p, out);
    call->params = p->params;
    if (res == WA_OK && (p->set_json = set_object(p)))
        *set = (struct rtr_set_entry){p->in.phone, p->set_json}; /* one message of a contact */
    return res;
}

/* After the array: the events topic, now, the window's length, the Twilio send topic. */
static void set_params(void *rec, const char **params)
{
    struct prepared *p = rec;
    params[0] = p->params[10];
    params[1] = p->params[12];
    params[2] = p->params[13];
    params[3] = p->params[14];
}

static void result(void *rec, PGresult *q, int row, struct rtr_outcome *out)
{
    struct prepared *p = rec;
    out->duplicate = PQgetisnull(q, row, 0);
    if (out->duplicate)
        wa_debug("duplicate inbound provider=%s id=%s ignored", p->in.provider,
                 p->in.provider_message_id);
    if (!PQgetisnull(q, row, 5)) {
        int optout = PQgetvalue(q, row, 5)[0] == 't';
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
    free(p->set_json);
}

enum wa_result rtr_inbound_batch(struct rtr *r, rd_kafka_message_t **ms, size_t n,
                                 struct rtr_outcome *out, enum wa_result *res)
{
    static const struct rtr_batch_ops ops = {.stmt = "inbound_store",
                                             .nparams = 24,
                                             .size = sizeof(struct prepared),
                                             .what = "message",
                                             .prepare = prepare_rec,
                                             .result = result,
                                             .release = release,
                                             .set_stmt = "inbound_texts",
                                             .set_nparams = 5,
                                             .set_params = set_params};
    return rtr_pipelined_batch(r, ms, n, out, res, &ops);
}
