/* send.c - the send API: POST /api/whatsapp/send onto wa.outbound, and GET
 * /api/whatsapp/messages/{id} from the CRM. */
#include "ingress.h"
#include "wa_http.h"
#include "wa_log.h"
#include "wa_outbound.h"
#include "wa_pg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct wa_pg_stmt statements[] = {
    {"message_by_id",
     "SELECT m.id, c.phone, m.status, m.provider, m.attempts, m.failover, m.provider_message_id, "
     "  m.error_code, m.error_text, m.reason, m.type, m.idempotency_key, "
     "  (extract(epoch FROM m.created_at) * 1000)::bigint, "
     "  (extract(epoch FROM m.updated_at) * 1000)::bigint, "
     "  (extract(epoch FROM m.sent_at) * 1000)::bigint, m.latency_ms, "
     "  (SELECT json_agg(json_build_object('status', s.status, 'provider', s.provider, "
     "     'error_code', s.error_code, 'at_ms', (extract(epoch FROM s.occurred_at) * 1000)::bigint)"
     "     ORDER BY s.id) FROM message_statuses s WHERE s.message_id = m.id) "
     "FROM messages m JOIN contacts c ON c.id = m.contact_id "
     "WHERE m.id = $1::uuid AND m.direction = 'outbound'",
     1},
};

/* One connection per HTTP thread, opened on first use. After a failure the
 * CRM is not asked again for a few seconds, so an outage never makes every
 * request wait for a connect timeout. */
static _Thread_local struct wa_pg pg;
static _Thread_local int64_t pg_retry_at;

static struct wa_pg *crm(void)
{
    if (!ing_cfg.database_url || !ing_cfg.database_url[0]) return NULL;
    if (pg.conn && wa_pg_ok(&pg)) return &pg;
    if (wa_now_ms() < pg_retry_at) return NULL;
    char err[256];
    if (wa_pg_connect(&pg, ing_cfg.database_url, statements, 1, err, sizeof err) < 0) {
        wa_warn("postgres: %s", err);
        pg_retry_at = wa_now_ms() + 5000;
        return NULL;
    }
    return &pg;
}

/* The message as the API shows it, or NULL (not found, or no CRM: *unavailable). */
static json_t *lookup(const char *id, int *unavailable)
{
    *unavailable = 0;
    struct wa_pg *db = crm();
    if (!db) {
        *unavailable = 1;
        return NULL;
    }
    enum wa_result res;
    char err[256];
    const char *p[] = {id};
    PGresult *q = wa_pg_exec(db, "message_by_id", 1, p, &res, err, sizeof err);
    if (!q) {
        wa_warn("postgres: %s", err);
        *unavailable = 1;
        return NULL;
    }
    json_t *o = NULL;
    if (PQntuples(q) == 1) {
#define S(i) (PQgetisnull(q, 0, i) ? json_null() : json_string(PQgetvalue(q, 0, i)))
#define I(i)                                                                                       \
    (PQgetisnull(q, 0, i) ? json_null() : json_integer(strtoll(PQgetvalue(q, 0, i), NULL, 10)))
        o = json_object();
        json_object_set_new(o, "id", S(0));
        json_object_set_new(o, "to", S(1));
        json_object_set_new(o, "status", S(2));
        json_object_set_new(o, "provider", S(3));
        json_object_set_new(o, "attempts", I(4));
        json_object_set_new(o, "failover", json_boolean(PQgetvalue(q, 0, 5)[0] == 't'));
        json_object_set_new(o, "providerMessageId", S(6));
        json_object_set_new(o, "errorCode", S(7));
        json_object_set_new(o, "errorText", S(8));
        json_object_set_new(o, "reason", S(9));
        json_object_set_new(o, "type", S(10));
        json_object_set_new(o, "idempotencyKey", S(11));
        json_object_set_new(o, "createdAtMs", I(12));
        json_object_set_new(o, "updatedAtMs", I(13));
        json_object_set_new(o, "sentAtMs", I(14));
        json_object_set_new(o, "latencyMs", I(15));
        json_t *h =
            PQgetisnull(q, 0, 16) ? json_array() : json_loads(PQgetvalue(q, 0, 16), 0, NULL);
        json_object_set_new(o, "statuses", h ? h : json_array());
#undef S
#undef I
    }
    PQclear(q);
    return o;
}

static enum MHD_Result reply_json(struct MHD_Connection *c, unsigned status, json_t *o)
{
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    enum MHD_Result ret = wa_http_reply(c, status, "application/json", s, strlen(s));
    free(s);
    return ret;
}

/* "Authorization: Bearer <SEND_API_TOKEN>", compared in constant time. */
static int authorized(struct ing_request *r, enum MHD_Result *ret)
{
    struct MHD_Connection *c = r->conn;
    if (!ing_cfg.send_token || !ing_cfg.send_token[0]) {
        *ret = wa_http_error(c, 503, "disabled", "the send API is off: set SEND_API_TOKEN");
        return 0;
    }
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    if (!h || strncasecmp(h, "Bearer ", 7) != 0 || !h[7]) {
        ing_count(ING_API, ING_MISSING_AUTH);
        struct MHD_Response *resp = MHD_create_response_from_buffer(
            strlen("{\"error\":\"missing_token\",\"message\":\"Authorization: Bearer <token> is "
                   "required\"}"),
            (void *)"{\"error\":\"missing_token\",\"message\":\"Authorization: Bearer <token> is "
                    "required\"}",
            MHD_RESPMEM_PERSISTENT);
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
        MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
        *ret = MHD_queue_response(c, MHD_HTTP_UNAUTHORIZED, resp);
        MHD_destroy_response(resp);
        return 0;
    }
    if (!wa_ct_equal(h + 7, strlen(h + 7), ing_cfg.send_token, strlen(ing_cfg.send_token))) {
        ing_count(ING_API, ING_BAD_AUTH);
        wa_warn("send API request with a wrong token");
        *ret = wa_http_error(c, 403, "bad_token", "the bearer token is not valid");
        return 0;
    }
    return 1;
}

enum MHD_Result ing_send(struct ing_request *r)
{
    struct MHD_Connection *c = r->conn;
    enum MHD_Result ret;
    if (!authorized(r, &ret)) return ret;
    const char *ctype = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
    if (!ctype || strncasecmp(ctype, "application/json", 16) != 0) {
        ing_count(ING_API, ING_BAD_REQUEST);
        return wa_http_error(c, 415, "unsupported_media_type",
                             "Content-Type must be application/json");
    }
    char err[256];
    struct wa_outbound o;
    json_t *root = wa_outbound_decode(r->body.data, r->body.len, WA_OUT_API, &o, err, sizeof err);
    if (!root) {
        ing_count(ING_API, ING_BAD_REQUEST);
        return wa_http_error(c, 400, "bad_request", err);
    }
    /* A repeat answers with the first request's message and sends nothing.
     * Without the CRM this check is skipped: the router's unique key still
     * stops the repeat, and the id is the same either way. */
    int unavailable;
    json_t *first = lookup(o.id, &unavailable);
    if (first) {
        const char *to = json_string_value(json_object_get(first, "to"));
        json_decref(root);
        ing_count(ING_API, ING_ACCEPTED);
        if (to && strcmp(to, o.to) != 0) {
            json_decref(first);
            return wa_http_error(c, 409, "key_reused",
                                 "idempotencyKey was already used for a message to another number");
        }
        json_object_set_new(first, "duplicate", json_true());
        return reply_json(c, 200, first);
    }
    o.requested_ms = wa_wall_ms();
    char *rec = wa_outbound_encode(&o, WA_OUT_RECORD);
    json_t *ack = json_pack("{s:s, s:s, s:s}", "id", o.id, "status", "accepted", "to", o.to);
    r->ack_status = 202;
    r->ack_body = json_dumps(ack, JSON_COMPACT);
    json_decref(ack);
    ret = ing_produce_and_suspend(r, ing_cfg.topic_outbound, wa_event_key(o.to), rec, strlen(rec));
    free(rec);
    json_decref(root);
    return ret;
}

enum MHD_Result ing_message_get(struct ing_request *r)
{
    enum MHD_Result ret;
    if (!authorized(r, &ret)) return ret;
    const char *id = r->url + strlen("/api/whatsapp/messages/");
    if (!wa_uuid_valid(id)) {
        ing_count(ING_API, ING_BAD_REQUEST);
        return wa_http_error(r->conn, 400, "bad_request", "the message id must be a UUID");
    }
    int unavailable;
    json_t *o = lookup(id, &unavailable);
    if (o) return reply_json(r->conn, 200, o);
    if (unavailable)
        return wa_http_error(r->conn, 503, "unavailable", "the CRM is not reachable; retry");
    /* Accepted but not yet stored by the router looks the same as unknown. */
    return wa_http_error(r->conn, 404, "not_found",
                         "no such message (a request accepted a moment ago may not be stored yet)");
}
