/* bridge.c - the bridge's POST /send contract (baileys-bridge/README.md); pure. */
#include "sender_baileys.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *sbl_request(const struct wa_outbound *o, const char *filename)
{
    json_t *r = json_pack("{s:s, s:s}", "to", o->to, "idempotencyKey", o->idempotency_key);
    if (o->media_url) {
        json_object_set_new(r, "type", json_string("media"));
        json_object_set_new(r, "mediaUrl", json_string(o->media_url));
        if (o->caption) json_object_set_new(r, "caption", json_string(o->caption));
        if (o->mimetype) json_object_set_new(r, "mimetype", json_string(o->mimetype));
        if (filename) json_object_set_new(r, "fileName", json_string(filename));
    } else {
        json_object_set_new(r, "type", json_string("text"));
        json_object_set_new(r, "text", json_string(o->text ? o->text : ""));
    }
    char *s = json_dumps(r, JSON_COMPACT);
    json_decref(r);
    return s;
}

void sbl_classify(const struct wa_client_result *r, struct wa_outcome *out)
{
    memset(out, 0, sizeof *out);
    out->retry_after_ms = r->retry_after_ms;
    if (r->status == 0) {
        if (r->refused || !r->sent) {
            out->verdict = WA_VERDICT_DOWN;
            snprintf(out->code, sizeof out->code, "bridge_unreachable");
            snprintf(out->text, sizeof out->text, "the bridge is unreachable: %s", r->error);
        } else {
            out->verdict = WA_VERDICT_UNKNOWN;
            snprintf(out->code, sizeof out->code, "unknown_outcome");
            snprintf(out->text, sizeof out->text, "no answer after the request was sent: %s",
                     r->error);
        }
        return;
    }
    json_t *b = json_loadb(r->body.data, r->body.len, 0, NULL);
    const char *err = json_string_value(json_object_get(b, "error"));
    const char *why = json_string_value(json_object_get(b, "reason"));
    const char *mid = json_string_value(json_object_get(b, "messageId"));
    snprintf(out->code, sizeof out->code, "%s", err ? err : "");
    if (r->status == 200 && mid) {
        out->verdict = WA_VERDICT_SENT;
        out->code[0] = '\0';
        snprintf(out->id, sizeof out->id, "%s", mid);
    } else if (r->status == 503 && err && strcmp(err, "not_connected") == 0) {
        out->verdict = WA_VERDICT_DOWN;
        const char *earlier = json_string_value(json_object_get(b, "earlierAttempt"));
        out->earlier_unknown = earlier && strcmp(earlier, "unknown") == 0;
        snprintf(out->text, sizeof out->text, "the bridge is not connected to WhatsApp%s",
                 out->earlier_unknown
                     ? "; an earlier attempt with this key may have reached WhatsApp"
                     : "");
    } else if (r->status == 502 || (r->status >= 200 && r->status < 300)) {
        /* send_failed: Baileys threw after it may have sent. (A 2xx without
         * an id is no proof either way.) */
        out->verdict = WA_VERDICT_UNKNOWN;
        if (!out->code[0]) snprintf(out->code, sizeof out->code, "unknown_outcome");
        snprintf(out->text, sizeof out->text, "HTTP %ld: outcome unknown (%s)", r->status,
                 err ? err : "no message id");
    } else if (r->status == 429 || r->status >= 500) {
        out->verdict = WA_VERDICT_RETRY;
        if (!out->code[0]) snprintf(out->code, sizeof out->code, "http_%ld", r->status);
        snprintf(out->text, sizeof out->text, "HTTP %ld: %s", r->status, err ? err : "retry");
    } else {
        out->verdict = WA_VERDICT_FAILED;
        if (!out->code[0]) snprintf(out->code, sizeof out->code, "http_%ld", r->status);
        snprintf(out->text, sizeof out->text, "HTTP %ld: %s%s%s", r->status, err ? err : "refused",
                 why ? ": " : "", why ? why : "");
    }
    json_decref(b);
}
