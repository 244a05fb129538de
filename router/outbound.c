/* outbound.c - wa.outbound into the CRM: route each request (rules.c), store it once per
 * idempotency key, and leave its send command and events in the outbox. */
#include "router.h"
#include "plan.h"
#include "wa_log.h"
#include "wa_outbound.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static enum rtr_provider provider_of(const char *s)
{
    if (!s) return RTR_NONE;
    if (strcmp(s, "twilio") == 0) return RTR_TWILIO;
    if (strcmp(s, "baileys") == 0) return RTR_BAILEYS;
    return RTR_NONE;
}

static int channel_up(const char *channel, void *ctx)
{
    (void)ctx;
    return rtr_channel_up(channel);
}

static char *dump(json_t *o)
{
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return s;
}

/* The timeline's view of the message: wa.events "wa.outbound". code: why nothing is sent. */
static char *outbound_event(const struct wa_outbound *o, long long contact, const char *provider,
                            const char *status, int failover, const char *reason, const char *code,
                            int64_t now)
{
    json_t *msg = json_pack("{s:s, s:s, s:s, s:s, s:s, s:b, s:s}", "id", o->id, "direction",
                            "outbound", "type", o->type, "idempotencyKey", o->idempotency_key,
                            "status", status, "failover", failover, "reason", reason);
    if (code) json_object_set_new(msg, "error_code", json_string(code));
    if (o->channel) json_object_set_new(msg, "channel", json_string(o->channel));
    if (o->text) json_object_set_new(msg, "text", json_string(o->text));
    if (o->caption) json_object_set_new(msg, "caption", json_string(o->caption));
    if (o->media_url) json_object_set_new(msg, "media_url", json_string(o->media_url));
    if (o->content_sid) json_object_set_new(msg, "content_sid", json_string(o->content_sid));
    return dump(json_pack("{s:i, s:s, s:s, s:I, s:{s:I, s:s}, s:o}", "v", 1, "type", "wa.outbound",
                          "provider", provider, "at_ms", (json_int_t)now, "contact", "id",
                          (json_int_t)contact, "phone", o->to, "message", msg));
}

static char *failover_event(const struct wa_outbound *o, long long contact, const char *reason,
                            int64_t now)
{
    return dump(json_pack("{s:i, s:s, s:s, s:s, s:s, s:I, s:s, s:{s:I, s:s}, s:{s:s}}", "v", 1,
                          "type", "failover", "provider", "twilio", "from", "baileys", "stage",
                          "router", "at_ms", (json_int_t)now, "reason", reason, "contact", "id",
                          (json_int_t)contact, "phone", o->to, "message", "id", o->id));
}

/* The operator's notice that nothing was sent. */
static char *refused_event(const struct wa_outbound *o, long long contact, const char *code,
                           const char *reason, int64_t now)
{
    return dump(json_pack("{s:i, s:s, s:s, s:I, s:s, s:s, s:s, s:{s:I, s:s}, s:{s:s, s:s}}", "v", 1,
                          "type", "wa.error", "provider", "none", "at_ms", (json_int_t)now, "stage",
                          "router.route", "code", code, "text", reason, "contact", "id",
                          (json_int_t)contact, "phone", o->to, "message", "id", o->id, "status",
                          "failed"));
}

/* Stores one routed (or refused, or held) message with its command and events, inside the open
 * transaction. held_until_ms: when a held message fails (0: not held). */
static enum wa_result store(struct rtr *r, const rd_kafka_message_t *km, struct wa_outbound *o,
                            long long contact, const struct rtr_plan *plan, int64_t held_until_ms,
                            int64_t now, struct rtr_outcome *out)
{
    char err[512];
    enum wa_result res = WA_OK;
    const struct rtr_route *rt = &plan->route;
    const char *channel = plan->channel;
    const char *provider = rt->provider == RTR_NONE ? NULL : rtr_provider_name(rt->provider);
    const char *status = !provider ? "failed" : rt->hold ? "held" : "queued";
    /* Each refusal the operator can act on gets its own code: the dashboard shows a notice for
     * it. */
    const char *code = rtr_plan_code(plan);

    o->route = provider;
    o->channel = channel;
    o->routed_ms = now;
    o->reason = rt->reason;
    char *payload = wa_outbound_encode(o, WA_OUT_RECORD);
    /* A held message has no command yet: the contact's reply releases it (store.c). */
    char *cmd = provider && !rt->hold ? wa_outbound_encode(o, WA_OUT_COMMAND) : NULL;
    char *ev = outbound_event(o, contact, provider ? provider : "none", status, rt->failover,
                              rt->reason, code, now);
    char *ev2 = rt->failover ? failover_event(o, contact, rt->reason, now) : NULL;
    char *ev3 = !provider ? refused_event(o, contact, code, rt->reason, now) : NULL;
    char *werr = !provider && km ? wa_error_encode("router.route", code, rt->reason, 0, NULL,
                                                   rd_kafka_topic_name(km->rkt), km->partition,
                                                   km->offset, km->payload, km->len)
                                 : NULL;
    char req[24], cid[24], held[24];
    snprintf(req, sizeof req, "%lld", (long long)o->requested_ms);
    snprintf(cid, sizeof cid, "%lld", contact);
    snprintf(held, sizeof held, "%lld", (long long)held_until_ms);
    const char *send_topic =
        rt->provider == RTR_TWILIO ? rtr_cfg.topic_send_twilio : rtr_cfg.topic_send_baileys;
    const char *body = o->text ? o->text : o->caption;
    const char *sp[24] = {
        o->id, cid, provider, o->idempotency_key, o->type, body, status, code,
        provider ? NULL : rt->reason, rt->failover ? "true" : "false", payload, rt->reason, req,
        wa_event_key(o->to), cmd ? send_topic : NULL, cmd, rtr_cfg.topic_events, ev,
        /* a failover and a refusal never come together */
        ev2 ? rtr_cfg.topic_events : (werr ? rtr_cfg.topic_error : NULL), ev2 ? ev2 : werr,
        ev3 ? rtr_cfg.topic_events : NULL, ev3, channel, held_until_ms ? held : NULL};
    PGresult *s = wa_pg_exec(&r->pg, "outbound_store", 24, sp, &res, err, sizeof err);
    if (!s) {
        wa_warn("postgres %s", err);
        if (res == WA_FAIL) {
            out->code = "rejected_by_crm";
            snprintf(out->reason, sizeof out->reason, "the CRM refused the request: %s", err);
        }
    } else if (PQgetisnull(s, 0, 0)) {
        out->duplicate = 1;
        wa_metric_add(rtr_m.out_duplicate, 1);
    } else {
        wa_metric_add(rt->hold                      ? rtr_m.out_held
                      : rt->provider == RTR_TWILIO  ? rtr_m.out_twilio
                      : rt->provider == RTR_BAILEYS ? rtr_m.out_baileys
                                                    : rtr_m.out_refused,
                      1);
        if (rt->failover) wa_metric_add(rtr_m.out_failover, 1);
        wa_info("outbound id=%s to=%s provider=%s channel=%s status=%s reason=\"%s\"", o->id, o->to,
                provider ? provider : "none", channel ? channel : "none", status, rt->reason);
        out->received_ms = o->requested_ms;
    }
    PQclear(s);
    free(payload);
    free(cmd);
    free(ev);
    free(ev2);
    free(ev3);
    free(werr);
    return s ? WA_OK : res;
}

/* A message was held on channel: the first hold of a period sends the re-engagement template
 * there, named after the contact's hold period so a replay makes the same message, once. */
enum wa_result rtr_reengage(struct rtr *r, const char *to, long long contact, const char *channel,
                            const char *name, int64_t now)
{
    char key[WA_KEY_MAX], cid[24], start[24], end[24], err[512];
    struct wa_outbound t = {0};
    snprintf(key, sizeof key, "reengage:%lld:%s:%lld", contact, channel, (long long)now);
    wa_outbound_id(key, t.id);
    snprintf(cid, sizeof cid, "%lld", contact);
    snprintf(start, sizeof start, "%lld", (long long)now);
    snprintf(end, sizeof end, "%lld", (long long)(now + rtr_cfg.hold_ttl_s * 1000));
    const char *hp[] = {cid, channel, start, end, t.id};
    enum wa_result res;
    PGresult *q = wa_pg_exec(&r->pg, "hold_start", 5, hp, &res, err, sizeof err);
    if (!q) {
        wa_warn("postgres %s", err);
        return res;
    }
    int fresh = PQntuples(q) == 1;
    PQclear(q);
    if (!fresh) return WA_OK; /* this period's template went out already */
    t.idempotency_key = key;
    snprintf(t.to, sizeof t.to, "%s", to);
    t.type = "template";
    t.content_sid = rtr_cfg.reengage_sid;
    t.variables = rtr_reengage_variables(name);
    t.requested_ms = now;
    t.window_until_ms = 0;
    struct rtr_plan plan = {.route = {.provider = RTR_TWILIO,
                                      .reason = "re-engagement: the contact's window on this "
                                                "number is closed; held messages go once they "
                                                "reply"},
                            .channel = channel};
    struct rtr_outcome out = {0};
    res = store(r, NULL, &t, contact, &plan, 0, now, &out);
    json_decref(t.variables);
    return res;
}

/* One request inside the open transaction. WA_OK (stored or repeat), WA_FAIL
 * with out->code (park it), WA_RETRY (roll back, try later). */
static enum wa_result one(struct rtr *r, const rd_kafka_message_t *km, int64_t now,
                          struct rtr_outcome *out)
{
    char err[512];
    struct wa_outbound o;
    json_t *root = wa_outbound_decode(km->payload, km->len, WA_OUT_RECORD, &o, err, sizeof err);
    if (!root) {
        wa_warn("invalid send request topic=%s partition=%d offset=%lld reason=\"%s\"",
                rd_kafka_topic_name(km->rkt), km->partition, (long long)km->offset, err);
        out->code = "invalid_request";
        snprintf(out->reason, sizeof out->reason, "%s", err);
        return WA_FAIL;
    }
    if (!o.requested_ms) {
        /* Produced straight to the topic: the record's own time. */
        rd_kafka_timestamp_type_t tt;
        int64_t ts = rd_kafka_message_timestamp(km, &tt);
        o.requested_ms = ts > 0 ? ts : now;
    }
    enum wa_result res = WA_OK;
    const char *cp[] = {o.to, o.idempotency_key, o.content_sid};
    PGresult *c = wa_pg_exec(&r->pg, "outbound_contact", 3, cp, &res, err, sizeof err);
    if (!c) {
        wa_warn("postgres %s", err);
        json_decref(root);
        if (res == WA_FAIL) {
            out->code = "rejected_by_crm";
            snprintf(out->reason, sizeof out->reason, "the CRM refused the request: %s", err);
        }
        return res;
    }
    long long contact = strtoll(PQgetvalue(c, 0, 0), NULL, 10);
    int64_t last_ms = PQgetisnull(c, 0, 1) ? 0 : strtoll(PQgetvalue(c, 0, 1), NULL, 10);
    const char *last_provider = PQgetisnull(c, 0, 2) ? NULL : PQgetvalue(c, 0, 2);
    int repeat = !PQgetisnull(c, 0, 3);
    enum rtr_provider pending = provider_of(PQgetisnull(c, 0, 4) ? NULL : PQgetvalue(c, 0, 4));
    /* The contact's channels with when it last wrote to each, the numbers it opted out of,
     * the numbers where this template was refused. */
    struct rtr_contact contact_state;
    struct rtr_contact *ct = &contact_state;
    rtr_contact_parse(ct, PQgetisnull(c, 0, 5) ? NULL : PQgetvalue(c, 0, 5), last_ms, last_provider,
                      PQgetisnull(c, 0, 7) ? NULL : PQgetvalue(c, 0, 7),
                      PQgetisnull(c, 0, 8) ? NULL : PQgetvalue(c, 0, 8));
    char profile_name[128] = "";
    if (!PQgetisnull(c, 0, 6))
        snprintf(profile_name, sizeof profile_name, "%s", PQgetvalue(c, 0, 6));
    /* The catalogue's word on the template: "<status>|<name>|<rejection reason>". */
    char tpl[512] = "";
    if (!PQgetisnull(c, 0, 9)) snprintf(tpl, sizeof tpl, "%s", PQgetvalue(c, 0, 9));
    PQclear(c);
    if (repeat) {
        out->duplicate = 1;
        wa_metric_add(rtr_m.out_duplicate, 1);
        wa_info("repeated send request id=%s key=\"%s\": nothing sent", o.id, o.idempotency_key);
        json_decref(root);
        return WA_OK;
    }

    struct rtr_plan_in in = {
        .mode = rtr_mode_of(rtr_cfg.provider_mode),
        .provider = o.provider,
        .channel = o.channel,
        .has_template = o.content_sid != NULL,
        .reengage = rtr_cfg.reengage_sid != NULL,
        .pending = pending,
        .seen = ct->seen,
        .n_seen = ct->n_seen,
        .now_ms = now,
        .up = channel_up,
        .cfg = &rtr_cfg.channels,
        .optouts = ct->optouts,
        .n_optouts = ct->n_optouts,
        .confirms = rtr_confirmation_of(o.idempotency_key),
        .refused = ct->refused,
        .n_refused = ct->n_refused,
    };
    struct rtr_plan plan = rtr_plan(&in);
    char not_approved[600];
    rtr_template_check(&plan, tpl, o.content_sid, not_approved, sizeof not_approved);
    const struct rtr_route *rt = &plan.route;
    /* A named channel forces its provider: its command is never moved to the other one. */
    char named_provider[16];
    if (o.channel && !o.provider &&
        wa_channel_parse(o.channel, named_provider, sizeof named_provider) == 0)
        o.provider = named_provider;
    o.failover = rt->failover;
    o.window_until_ms = plan.window_until_ms;
    if (rt->provider == RTR_BAILEYS) {
        o.failover_channel = plan.failover_channel;
        o.failover_window_until_ms = plan.failover_window_until_ms;
        /* sender-baileys holds rather than fails what that window cannot carry; never for a
         * number the contact opted out of (§3.5). */
        o.failover_hold_ms =
            rtr_cfg.reengage_sid && !plan.failover_opted_out ? rtr_cfg.hold_ttl_s * 1000 : 0;
    }
    res =
        store(r, km, &o, contact, &plan, rt->hold ? now + rtr_cfg.hold_ttl_s * 1000 : 0, now, out);
    if (res == WA_OK && rt->hold && !out->duplicate)
        res = rtr_reengage(r, o.to, contact, plan.channel, profile_name[0] ? profile_name : NULL,
                           now);
    json_decref(root);
    return res;
}

enum wa_result rtr_outbound_batch(struct rtr *r, rd_kafka_message_t **ms, size_t n,
                                  struct rtr_outcome *out, enum wa_result *res)
{
    char err[512];
    enum wa_result tx = wa_pg_begin(&r->pg, err, sizeof err);
    if (tx != WA_OK) {
        wa_warn("postgres %s", err);
        return WA_RETRY;
    }
    int64_t now = wa_wall_ms();
    for (size_t i = 0; i < n; i++) {
        memset(&out[i], 0, sizeof out[i]);
        res[i] = one(r, ms[i], now, &out[i]);
        if (res[i] == WA_RETRY ||
            (res[i] == WA_FAIL && out[i].code && strcmp(out[i].code, "rejected_by_crm") == 0)) {
            wa_pg_rollback(&r->pg);
            return res[i] == WA_RETRY ? WA_RETRY : WA_FAIL;
        }
    }
    if (wa_pg_commit(&r->pg, err, sizeof err) != WA_OK) {
        wa_warn("postgres %s", err);
        return WA_RETRY;
    }
    return WA_OK;
}
