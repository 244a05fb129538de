/* inbound.c - wa.inbound into the CRM: contact upsert, message exactly once, events via the outbox.
 */
#include "router.h"
#include "wa_log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WINDOW_MS (24LL * 3600 * 1000)

static enum wa_result exec(struct rtr *r, const char *stmt, int n, const char *const *p,
                           PGresult **out)
{
    char err[512];
    enum wa_result res;
    PGresult *q = wa_pg_exec(&r->pg, stmt, n, p, &res, err, sizeof err);
    if (!q) {
        wa_warn("postgres %s result=%s", err, res == WA_RETRY ? "retry" : "fail");
        return res;
    }
    if (out)
        *out = q;
    else
        PQclear(q);
    return WA_OK;
}

static enum wa_result outbox_add(struct rtr *r, const char *key, json_t *ev)
{
    char *s = json_dumps(ev, JSON_COMPACT);
    const char *p[] = {rtr_cfg.topic_events, key, s};
    enum wa_result res = exec(r, "outbox_insert", 3, p, NULL);
    free(s);
    return res;
}

static json_t *contact_json(const char *id, const char *phone)
{
    return json_pack("{s:I, s:s}", "id", (json_int_t)strtoll(id, NULL, 10), "phone", phone);
}

/* The message's events: the message itself and the lead's new state. */
static enum wa_result add_events(struct rtr *r, const struct wa_inbound *in, const char *contact_id,
                                 const char *message_id, PGresult *lead)
{
    const char *key = wa_event_key(in->phone);
    int64_t now = wa_wall_ms();
    json_t *media = json_array();
    for (size_t i = 0; i < in->nmedia; i++)
        json_array_append_new(
            media, json_pack("{s:s, s:s?}", "url", in->media[i].url, "mime", in->media[i].mime));
    json_t *msg = json_pack(
        "{s:s, s:s, s:s, s:s, s:s%, s:I, s:o}", "id", message_id, "direction", "inbound", "type",
        in->type, "provider_message_id", in->provider_message_id, "text", in->text ? in->text : "",
        in->text ? in->text_len : 0, "timestamp_ms", (json_int_t)in->timestamp_ms, "media", media);
    json_t *ev = json_pack("{s:i, s:s, s:s, s:I, s:o, s:o}", "v", WA_EVENT_VERSION, "type",
                           "wa.inbound", "provider", in->provider, "at_ms", (json_int_t)now,
                           "contact", contact_json(contact_id, in->phone), "message", msg);
    enum wa_result res = outbox_add(r, key, ev);
    json_decref(ev);
    if (res != WA_OK) return res;

    int64_t last_ms = strtoll(PQgetvalue(lead, 0, 3), NULL, 10);
    json_t *c = contact_json(contact_id, in->phone);
    json_object_set_new(
        c, "wa_id", PQgetisnull(lead, 0, 1) ? json_null() : json_string(PQgetvalue(lead, 0, 1)));
    json_object_set_new(c, "profile_name",
                        PQgetisnull(lead, 0, 2) ? json_null()
                                                : json_string(PQgetvalue(lead, 0, 2)));
    json_object_set_new(c, "last_inbound_ms", json_integer(last_ms));
    json_object_set_new(c, "last_inbound_provider", json_string(PQgetvalue(lead, 0, 4)));
    json_object_set_new(c, "window_open_until_ms", json_integer(last_ms + WINDOW_MS));
    ev = json_pack("{s:i, s:s, s:s, s:I, s:o}", "v", WA_EVENT_VERSION, "type", "lead.update",
                   "provider", PQgetvalue(lead, 0, 4), "at_ms", (json_int_t)now, "contact", c);
    res = outbox_add(r, key, ev);
    json_decref(ev);
    return res;
}

/* One transaction: the message row, the contact and the events commit together. */
static enum wa_result store(struct rtr *r, const struct wa_inbound *in, const char *payload,
                            int *duplicate)
{
    char err[512];
    enum wa_result res = wa_pg_begin(&r->pg, err, sizeof err);
    if (res != WA_OK) {
        wa_warn("postgres %s", err);
        return res;
    }
    PGresult *c = NULL, *m = NULL, *lead = NULL;
    const char *cp[] = {in->phone, in->wa_id, in->lid, in->profile_name};
    if ((res = exec(r, "contact_upsert", 4, cp, &c)) != WA_OK) goto out;
    const char *contact_id = PQgetvalue(c, 0, 0);

    char ts[24];
    snprintf(ts, sizeof ts, "%lld",
             (long long)(in->timestamp_ms ? in->timestamp_ms : in->received_ms));
    const char *mp[] = {
        contact_id, in->provider, in->provider_message_id, in->type, in->text, payload, ts};
    if ((res = exec(r, "message_insert_inbound", 7, mp, &m)) != WA_OK) goto out;
    if (PQntuples(m) == 0) {
        *duplicate = 1; /* seen before: undo the contact touch too */
        goto out;
    }
    const char *tp[] = {contact_id, ts, in->provider};
    if ((res = exec(r, "contact_touch_inbound", 3, tp, &lead)) != WA_OK) goto out;
    if ((res = add_events(r, in, contact_id, PQgetvalue(m, 0, 0), lead)) != WA_OK) goto out;
    res = wa_pg_commit(&r->pg, err, sizeof err);
    if (res != WA_OK) wa_warn("postgres %s", err);
    PQclear(c);
    PQclear(m);
    PQclear(lead);
    return res;
out:
    wa_pg_rollback(&r->pg);
    PQclear(c);
    PQclear(m);
    PQclear(lead);
    return res;
}

enum wa_result rtr_handle_inbound(struct rtr *r, const rd_kafka_message_t *km)
{
    char err[512];
    struct wa_inbound in;
    json_t *root = wa_inbound_decode(km->payload, km->len, &in, err, sizeof err);
    if (!root) {
        wa_warn("poison record topic=%s partition=%d offset=%lld reason=\"%s\"",
                rd_kafka_topic_name(km->rkt), km->partition, (long long)km->offset, err);
        return rtr_park(r, km, "router.inbound", "invalid_event", err);
    }
    /* The text is stored as a C string: a NUL inside it would cut it short. */
    if (in.text && strlen(in.text) != in.text_len) {
        json_decref(root);
        return rtr_park(r, km, "router.inbound", "invalid_event", "text contains a NUL character");
    }
    char *payload = wa_xstrndup(km->payload, km->len);
    int duplicate = 0;
    enum wa_result res = store(r, &in, payload, &duplicate);
    free(payload);
    if (res == WA_OK) {
        if (duplicate) {
            wa_metric_add(rtr_m.duplicate, 1);
            wa_info("duplicate inbound provider=%s id=%s ignored", in.provider,
                    in.provider_message_id);
        } else {
            wa_metric_add(rtr_m.stored, 1);
            if (in.received_ms)
                wa_metric_observe(rtr_m.crm_seconds, (double)(wa_wall_ms() - in.received_ms) / 1e3);
            wa_info("stored inbound provider=%s id=%s partition=%d offset=%lld", in.provider,
                    in.provider_message_id, km->partition, (long long)km->offset);
        }
    } else if (res == WA_FAIL) {
        /* The database refuses this input for good (a constraint): park it. */
        res = rtr_park(r, km, "router.inbound", "rejected_by_crm",
                       "the CRM refused the message; see the router log");
    }
    json_decref(root);
    return res;
}
