/* twilio.c - POST /api/whatsapp/twilio: check the signature, normalize, hand to wa.inbound. */
#include "ingress.h"
#include "wa_http.h"
#include "wa_log.h"
#include "wa_twilio_sig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Content type, form and X-Twilio-Signature, shared by every Twilio webhook.
 * Returns 1 with form filled, or 0 with the error answer queued in *ret. */
static int checked_form(struct ing_request *r, struct wa_form *form, enum MHD_Result *ret)
{
    struct MHD_Connection *c = r->conn;
    const char *sig = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Twilio-Signature");
    if (!sig || !*sig) {
        ing_count(ING_TWILIO, ING_MISSING_AUTH);
        wa_warn("twilio webhook without signature uri=%s", r->uri);
        *ret = wa_http_error(c, 400, "missing_signature", "X-Twilio-Signature header is required");
        return 0;
    }
    const char *ctype = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
    if (!ctype || strncasecmp(ctype, "application/x-www-form-urlencoded", 33) != 0) {
        ing_count(ING_TWILIO, ING_BAD_REQUEST);
        *ret = wa_http_error(c, 415, "unsupported_media_type",
                             "Content-Type must be application/x-www-form-urlencoded");
        return 0;
    }
    char err[256];
    if (wa_form_parse(r->body.data, r->body.len, form, err, sizeof err) < 0) {
        ing_count(ING_TWILIO, ING_BAD_REQUEST);
        *ret = wa_http_error(c, 400, "bad_form", err);
        return 0;
    }
    /* The URL Twilio called: our public base plus the request target. */
    struct wa_buf url = {0};
    const char *base = ing_cfg.public_base_url;
    size_t bl = strlen(base);
    while (bl && base[bl - 1] == '/')
        bl--;
    wa_buf_append(&url, base, bl);
    wa_buf_append(&url, r->uri, strlen(r->uri));
    int ok = wa_twilio_valid(ing_cfg.twilio_auth_token, url.data, form, sig);
    wa_buf_free(&url);
    if (!ok) {
        wa_form_free(form);
        ing_count(ING_TWILIO, ING_BAD_AUTH);
        wa_warn("twilio webhook with a wrong signature uri=%s", r->uri);
        *ret = wa_http_error(c, 403, "bad_signature", "X-Twilio-Signature does not match");
        return 0;
    }
    return 1;
}

enum MHD_Result ing_twilio_inbound(struct ing_request *r)
{
    struct MHD_Connection *c = r->conn;
    char err[256];
    struct wa_form form;
    enum MHD_Result ret;
    if (!checked_form(r, &form, &ret)) return ret;

    struct wa_inbound ev;
    char phone[17], to[17];
    json_t *raw = NULL;
    int fixed = 0;
    if (ing_twilio_normalize(&form, wa_wall_ms(), &ev, phone, to, &raw, &fixed, err, sizeof err) <
        0) {
        ing_count(ING_TWILIO, ING_BAD_REQUEST);
        wa_warn("twilio webhook refused reason=\"%s\"", err);
        ret = wa_http_error(c, 400, "bad_request", err);
    } else {
        if (fixed) wa_metric_add(ing_m_invalid_utf8, fixed);
        size_t len;
        char *json = wa_inbound_encode(&ev, &len);
        if (!json) {
            ing_count(ING_TWILIO, ING_BAD_REQUEST);
            ret = wa_http_error(c, 400, "bad_request", "cannot encode the message");
        } else {
            ret = ing_produce_and_suspend(r, ing_cfg.topic_inbound, wa_event_key(ev.phone), json,
                                          len);
            free(json);
        }
    }
    json_decref(raw);
    wa_form_free(&form);
    return ret;
}

enum MHD_Result ing_twilio_status(struct ing_request *r)
{
    char err[256];
    struct wa_form form;
    enum MHD_Result ret;
    if (!checked_form(r, &form, &ret)) return ret;
    struct wa_status st;
    char phone[17], id[37];
    json_t *raw = NULL;
    if (ing_twilio_status_normalize(&form, r->uri, wa_wall_ms(), &st, phone, id, &raw, err,
                                    sizeof err) < 0) {
        ing_count(ING_TWILIO, ING_BAD_REQUEST);
        wa_warn("twilio status callback refused reason=\"%s\"", err);
        ret = wa_http_error(r->conn, 400, "bad_request", err);
    } else {
        char *json = wa_status_encode(&st);
        if (!json) {
            ing_count(ING_TWILIO, ING_BAD_REQUEST);
            ret = wa_http_error(r->conn, 400, "bad_request", "cannot encode the status");
        } else {
            ret = ing_produce_and_suspend(r, ing_cfg.topic_status,
                                          st.phone ? wa_event_key(st.phone) : NULL, json,
                                          strlen(json));
            free(json);
        }
    }
    json_decref(raw);
    wa_form_free(&form);
    return ret;
}
