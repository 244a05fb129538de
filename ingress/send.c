/* send.c - the send API: POST /api/whatsapp/send onto wa.outbound, and GET
 * /api/whatsapp/messages/{id} from the CRM (asked through crm.c, off the HTTP threads). A send
 * with "Prefer: wait=N" is answered with the router's decision when it comes within N seconds
 * (the request waits suspended, in crm.c, for the message's row). */
#include "ingress.h"
#include "wa_http.h"
#include "wa_log.h"
#include "wa_outbound.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static enum MHD_Result send_checked(struct ing_request *r);
static enum MHD_Result send_acked(struct ing_request *r);
static enum MHD_Result send_decided(struct ing_request *r);
static enum MHD_Result message_found(struct ing_request *r);

static enum MHD_Result reply_json(struct MHD_Connection *c, unsigned status, json_t *o)
{
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    enum MHD_Result ret = wa_http_reply(c, status, "application/json", s, strlen(s));
    free(s);
    return ret;
}

/* The answer to a send that asked to wait: the JSON with "decided", and Preference-Applied when
 * the wait was honoured (RFC 7240 §3): the decision came, or the whole wait was waited. */
static enum MHD_Result reply_waited(struct ing_request *r, unsigned status, json_t *o, int decided,
                                    int applied)
{
    json_object_set_new(o, "decided", json_boolean(decided));
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(strlen(s), s, MHD_RESPMEM_MUST_COPY);
    free(s);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    if (applied) {
        char pref[16];
        snprintf(pref, sizeof pref, "wait=%d", r->wait_s);
        MHD_add_response_header(resp, "Preference-Applied", pref);
    }
    enum MHD_Result ret = MHD_queue_response(r->conn, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

/* The answer of an accepted send before the router decided. */
static json_t *accepted(const struct wa_outbound *o)
{
    return json_pack("{s:s, s:s, s:s}", "id", o->id, "status", "accepted", "to", o->to);
}

/* A list header may come as several lines (RFC 7230 §3.2.2): every Prefer, joined with ", ". */
static enum MHD_Result join_prefer(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value)
{
    (void)kind;
    struct wa_buf *b = cls;
    if (!key || !value || strcasecmp(key, "Prefer") != 0) return MHD_YES;
    if (b->len) wa_buf_append(b, ", ", 2);
    wa_buf_append(b, value, strlen(value));
    return MHD_YES;
}

/* The seconds this send waits for the router's decision (ing_prefer_wait), 0: none. */
static int wait_asked(struct MHD_Connection *c)
{
    struct wa_buf prefer = {0};
    MHD_get_connection_values(c, MHD_HEADER_KIND, join_prefer, &prefer);
    int s = ing_prefer_wait(prefer.data, prefer.len);
    wa_buf_free(&prefer);
    return s;
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
    r->api = wa_xcalloc(1, sizeof *r->api);
    r->api_root =
        wa_outbound_decode(r->body.data, r->body.len, WA_OUT_API, r->api, err, sizeof err);
    if (!r->api_root) {
        ing_count(ING_API, ING_BAD_REQUEST);
        return wa_http_error(c, 400, "bad_request", err);
    }
    r->wait_s = wait_asked(c);
    /* A repeat answers with the first request's message and sends nothing. */
    return ing_crm_lookup(r, r->api->id, send_checked);
}

/* The second half of a send, once the CRM has answered (or could not). Without the CRM the
 * repeat check is skipped: the router's unique key still stops the repeat, and the id is the
 * same either way. */
static enum MHD_Result send_checked(struct ing_request *r)
{
    struct MHD_Connection *c = r->conn;
    struct wa_outbound o = *r->api;
    json_t *first = r->crm_result;
    r->crm_result = NULL;
    enum MHD_Result ret;
    if (first) {
        const char *to = json_string_value(json_object_get(first, "to"));
        ing_count(ING_API, ING_ACCEPTED);
        if (to && strcmp(to, o.to) != 0) {
            json_decref(first);
            return wa_http_error(c, 409, "key_reused",
                                 "idempotencyKey was already used for a message to another number");
        }
        json_object_set_new(first, "duplicate", json_true());
        if (!r->wait_s) return reply_json(c, 200, first);
        /* The stored row is the router's decision already: no need to wait for it. */
        ing_count_wait(ING_WAIT_DECIDED, wa_now_ms() - r->start_ms);
        return reply_waited(r, 200, first, 1, 1);
    }
    o.requested_ms = wa_wall_ms();
    char *rec = wa_outbound_encode(&o, WA_OUT_RECORD);
    json_t *ack = accepted(&o);
    r->ack_status = 202;
    r->ack_body = json_dumps(ack, JSON_COMPACT);
    json_decref(ack);
    r->acked = r->wait_s ? send_acked : NULL;
    ret = ing_produce_and_suspend(r, ing_cfg.topic_outbound, wa_event_key(o.to), rec, strlen(rec));
    free(rec);
    return ret;
}

/* Kafka has the request: now wait, suspended, for the router to store what it decided. The wait
 * counts from the request's first byte, so the client waits N seconds at most, not N plus the
 * time Kafka took. */
static enum MHD_Result send_acked(struct ing_request *r)
{
    wa_metric_add(ing_m_waiting, 1);
    return ing_crm_wait(r, r->api->id, r->start_ms + (int64_t)r->wait_s * 1000, send_decided);
}

/* The router decided (200 with the message), or no decision came in time (202, as without the
 * wait). The request is accepted either way: a CRM that cannot be asked never makes it an
 * error, it only cuts the wait short (then without Preference-Applied). */
static enum MHD_Result send_decided(struct ing_request *r)
{
    wa_metric_add(ing_m_waiting, -1);
    int64_t waited = wa_now_ms() - r->start_ms;
    json_t *row = r->crm_result;
    r->crm_result = NULL;
    if (row) {
        ing_count_wait(ING_WAIT_DECIDED, waited);
        return reply_waited(r, 200, row, 1, 1);
    }
    ing_count_wait(r->crm_unavailable ? ING_WAIT_UNAVAILABLE : ING_WAIT_TIMED_OUT, waited);
    return reply_waited(r, 202, accepted(r->api), 0, !r->crm_unavailable);
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
    return ing_crm_lookup(r, id, message_found);
}

static enum MHD_Result message_found(struct ing_request *r)
{
    json_t *o = r->crm_result;
    r->crm_result = NULL;
    if (o) return reply_json(r->conn, 200, o);
    if (r->crm_unavailable)
        return wa_http_error(r->conn, 503, "unavailable", "the CRM is not reachable; retry");
    /* Accepted but not yet stored by the router looks the same as unknown. */
    return wa_http_error(r->conn, 404, "not_found",
                         "no such message (a request accepted a moment ago may not be stored yet)");
}
