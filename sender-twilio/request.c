/* request.c - the Twilio Messages API request (Twilio REST API, Message resource: POST
 * .../Messages.json) and the meaning of its answer; pure.
 */
#include "sender_twilio.h"

#include <jansson.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

void stw_form(CURL *h, const struct wa_outbound *o, const char *from, const char *callback_base,
              struct wa_buf *form)
{
    char to[32];
    snprintf(to, sizeof to, "whatsapp:%s", o->to);
    wa_client_form_add(h, form, "To", to);
    wa_client_form_add(h, form, "From", from);
    if (o->content_sid) {
        /* A template: its text is the approved content; Body would make
         * Twilio treat it as free-form (63016 outside the window). */
        wa_client_form_add(h, form, "ContentSid", o->content_sid);
        if (o->variables) {
            char *v = json_dumps(o->variables, JSON_COMPACT);
            wa_client_form_add(h, form, "ContentVariables", v);
            free(v);
        }
    } else if (o->media_url) {
        wa_client_form_add(h, form, "MediaUrl", o->media_url);
        if (o->caption) wa_client_form_add(h, form, "Body", o->caption);
    } else if (o->text) {
        wa_client_form_add(h, form, "Body", o->text);
    }
    /* Our id rides in the callback URL, so a status finds its message even
     * when our record of Twilio's sid was lost (an unknown outcome). */
    char cb[1024];
    size_t bl = strlen(callback_base);
    while (bl && callback_base[bl - 1] == '/')
        bl--;
    snprintf(cb, sizeof cb, "%.*s/api/whatsapp/twilio/status?id=%s", (int)bl, callback_base, o->id);
    wa_client_form_add(h, form, "StatusCallback", cb);
}

static void copy(char *dst, size_t n, const char *src)
{
    snprintf(dst, n, "%s", src ? src : "");
}

void stw_classify(const struct wa_client_result *r, struct stw_outcome *out)
{
    memset(out, 0, sizeof *out);
    if (r->status == 0) {
        out->verdict = r->sent ? STW_UNKNOWN : STW_RETRY;
        copy(out->code, sizeof out->code, r->sent ? "unknown_outcome" : "transport");
        snprintf(out->text, sizeof out->text, "%s%s",
                 r->sent ? "no answer after the request was sent: " : "not sent: ", r->error);
        return;
    }
    json_t *body = json_loadb(r->body.data, r->body.len, 0, NULL);
    if (r->status >= 200 && r->status < 300) {
        const char *sid = json_string_value(json_object_get(body, "sid"));
        out->verdict = STW_SENT;
        copy(out->sid, sizeof out->sid, sid);
        if (!sid) {
            /* Taken, by Twilio's word, but we cannot name it: callbacks still
             * find it through our id in the StatusCallback URL. */
            copy(out->code, sizeof out->code, "no_sid");
            copy(out->text, sizeof out->text, "Twilio answered 2xx without a sid");
        }
        json_decref(body);
        return;
    }
    json_t *code = json_object_get(body, "code");
    const char *msg = json_string_value(json_object_get(body, "message"));
    if (json_is_integer(code))
        snprintf(out->code, sizeof out->code, "%lld", (long long)json_integer_value(code));
    else
        snprintf(out->code, sizeof out->code, "http_%ld", r->status);
    snprintf(out->text, sizeof out->text, "HTTP %ld: %s", r->status, msg ? msg : "no message");
    /* 429 (20429) is never processed; 5xx is retried as the issue and
     * Twilio's own libraries do. Other 4xx would fail the same way again. */
    out->verdict = r->status == 429 || r->status >= 500 ? STW_RETRY : STW_FAILED;
    json_decref(body);
}
