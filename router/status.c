/* status.c - wa.status into the CRM: each status once, forward only, with its event. */
#include "router.h"
#include "wa_log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct prepared {
    json_t *root;
    struct wa_status st;
    const char *word; /* what the history records: the status, or "failover" */
    char ts[24], lat[24], att[24];
    char *event;
    /* Consent (docs/architecture.md §3.5): what the failure means, and the opt-out's event. */
    enum rtr_refusal refusal;
    char *consent_event;
    const char *params[13];
    char *set_json; /* its object in a set (set_object), or NULL */
};

/* The event body; the SQL adds contact, message_id and whether it is current. */
static char *status_event(const struct wa_status *s, const char *word, int64_t now)
{
    int fo = strcmp(word, "failover") == 0;
    json_t *e = json_pack("{s:i, s:s, s:s, s:I, s:s, s:b}", "v", 1, "type",
                          fo ? "failover" : "wa.status", "provider", s->provider, "at_ms",
                          (json_int_t)now, "status", word, "failover", s->failover);
    if (fo) {
        json_object_set_new(e, "from", json_string("baileys"));
        json_object_set_new(e, "stage", json_string("sender-baileys"));
    }
    if (s->provider_message_id)
        json_object_set_new(e, "provider_message_id", json_string(s->provider_message_id));
    if (s->provider_status)
        json_object_set_new(e, "provider_status", json_string(s->provider_status));
    if (s->error_code) json_object_set_new(e, "error_code", json_string(s->error_code));
    if (s->error_text) json_object_set_new(e, "error_text", json_string(s->error_text));
    if (s->reason) json_object_set_new(e, "reason", json_string(s->reason));
    if (s->source) json_object_set_new(e, "source", json_string(s->source));
    if (s->attempt > 0) json_object_set_new(e, "attempt", json_integer(s->attempt));
    if (s->latency_ms >= 0) json_object_set_new(e, "latency_ms", json_integer(s->latency_ms));
    char *out = json_dumps(e, JSON_COMPACT);
    json_decref(e);
    return out;
}

static enum wa_result prepare(const rd_kafka_message_t *km, int64_t now, struct prepared *p,
                              struct rtr_outcome *out)
{
    char err[512];
    p->root = wa_status_decode(km->payload, km->len, &p->st, err, sizeof err);
    if (!p->root) {
        wa_warn("invalid status topic=%s partition=%d offset=%lld reason=\"%s\"",
                rd_kafka_topic_name(km->rkt), km->partition, (long long)km->offset, err);
        out->code = "invalid_status";
        snprintf(out->reason, sizeof out->reason, "%s", err);
        return WA_FAIL;
    }
    const struct wa_status *s = &p->st;
    p->word = s->failover && strcmp(s->status, "queued") == 0 ? "failover" : s->status;
    int64_t when = s->timestamp_ms ? s->timestamp_ms : s->received_ms ? s->received_ms : now;
    snprintf(p->ts, sizeof p->ts, "%lld", (long long)when);
    snprintf(p->lat, sizeof p->lat, "%lld", (long long)s->latency_ms);
    snprintf(p->att, sizeof p->att, "%d", s->attempt);
    p->event = status_event(s, p->word, now);
    p->refusal = rtr_refusal_of(s->provider, s->status, s->error_code);
    if (p->refusal == RTR_REFUSED_ALL)
        p->consent_event = rtr_consent_event(RTR_CONSENT_OPTOUT, s->provider, NULL, "twilio_error",
                                             s->error_code, now);
    const char *v[13] = {s->message_id,
                         s->provider,
                         s->provider_message_id,
                         p->word,
                         s->error_code,
                         s->error_text,
                         p->ts,
                         rtr_cfg.topic_events,
                         p->event,
                         s->latency_ms >= 0 ? p->lat : NULL,
                         s->attempt > 0 ? p->att : NULL,
                         p->refusal == RTR_REFUSED_ALL        ? "optout"
                         : p->refusal == RTR_REFUSED_TEMPLATE ? "template"
                                                              : NULL,
                         p->consent_event};
    memcpy(p->params, v, sizeof v);
    return WA_OK;
}

/* A status that refuses nothing (nearly all) joins a set of such statuses (router/store.c,
 * status_set) as this object: $1-$7 and $9-$11 of the long form. NULL: one that refuses
 * something, or names no contact (a set holds one status of each, so never two of a message),
 * or could not be encoded: it takes the long form, alone. */
static char *set_object(const struct prepared *p)
{
    const struct wa_status *s = &p->st;
    if (p->refusal != RTR_REFUSED_NOTHING || !s->phone) return NULL;
    json_t *o = json_pack("{s:s?, s:s, s:s?, s:s, s:s?, s:s?, s:I}", "message_id", s->message_id,
                          "provider", s->provider, "pmid", s->provider_message_id, "st", p->word,
                          "code", s->error_code, "etext", s->error_text, "ts",
                          (json_int_t)strtoll(p->ts, NULL, 10));
    if (o && s->latency_ms >= 0) json_object_set_new(o, "latency", json_integer(s->latency_ms));
    if (o && s->attempt > 0) json_object_set_new(o, "attempt", json_integer(s->attempt));
    const char *const raw[][2] = {{"event", p->event}};
    return rtr_set_object(o, raw, 1);
}

static enum wa_result prepare_rec(const rd_kafka_message_t *km, int64_t now, void *rec,
                                  struct rtr_outcome *out, struct wa_pg_call *call,
                                  struct rtr_set_entry *set)
{
    struct prepared *p = rec;
    enum wa_result res = prepare(km, now, p, out);
    call->params = p->params;
    if (res == WA_OK && (p->set_json = set_object(p)))
        *set = (struct rtr_set_entry){p->st.phone, p->set_json};
    return res;
}

/* After the array: the events topic. */
static void set_params(void *rec, const char **params)
{
    struct prepared *p = rec;
    params[0] = p->params[7];
}

static void result(void *rec, PGresult *q, int row, struct rtr_outcome *out)
{
    struct prepared *p = rec;
    const struct wa_status *s = &p->st;
    if (PQgetisnull(q, row, 0)) {
        /* A receipt for a message we did not send (sent from the phone
         * itself). Receipts of our sends name our id (the bridge adds the
         * idempotencyKey), so they match even ahead of the sender's record. */
        wa_metric_add(rtr_m.st_unmatched, 1);
        wa_info("status for an unknown message provider=%s id=%s status=%s", s->provider,
                s->provider_message_id ? s->provider_message_id : "-", s->status);
    } else if (strcmp(PQgetvalue(q, row, 1), "0") == 0) {
        wa_metric_add(rtr_m.st_duplicate, 1);
        out->duplicate = 1;
    } else if (strcmp(PQgetvalue(q, row, 2), "0") == 0) {
        wa_metric_add(rtr_m.st_stale, 1); /* history only: never backwards */
    } else {
        wa_metric_add(rtr_m.st_applied, 1);
    }
    if (!PQgetisnull(q, row, 0) && strcmp(PQgetvalue(q, row, 4), "0") != 0) {
        wa_metric_add(rtr_m.optout, 1);
        wa_info("contact %s opted out: message=%s failed with Twilio %s", s->phone ? s->phone : "-",
                PQgetvalue(q, row, 0), s->error_code);
    }
    if (!PQgetisnull(q, row, 0) && strcmp(PQgetvalue(q, row, 5), "0") != 0) {
        wa_metric_add(rtr_m.template_refused, 1);
        wa_info("template refused: message=%s failed with Twilio %s; not sent again there",
                PQgetvalue(q, row, 0), s->error_code);
    }
}

static void release(void *rec)
{
    struct prepared *p = rec;
    json_decref(p->root);
    free(p->event);
    free(p->consent_event);
    free(p->set_json);
}

enum wa_result rtr_status_batch(struct rtr *r, rd_kafka_message_t **ms, size_t n,
                                struct rtr_outcome *out, enum wa_result *res)
{
    static const struct rtr_batch_ops ops = {.stmt = "status_apply",
                                             .nparams = 13,
                                             .size = sizeof(struct prepared),
                                             .what = "status",
                                             .prepare = prepare_rec,
                                             .result = result,
                                             .release = release,
                                             .set_stmt = "status_set",
                                             .set_nparams = 2,
                                             .set_params = set_params};
    return rtr_pipelined_batch(r, ms, n, out, res, &ops);
}
