/* request.c - the Twilio Messages API request (Twilio REST API, Message resource: POST
 * .../Messages.json) and the meaning of its answer; pure.
 */
#include "sender_twilio.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

char stw_channels[WA_CHANNELS_MAX][WA_CHANNEL_MAX];
int stw_nchannels;

int stw_channel_of(const struct wa_outbound *o)
{
    const char *channel = o->channel;
    if (!channel || wa_channel_is_default(channel, "twilio", NULL)) return stw_nchannels ? 0 : -1;
    for (int i = 0; i < stw_nchannels; i++)
        if (strcmp(channel, stw_channels[i]) == 0) return i;
    return -1;
}

const char *stw_from(const struct wa_outbound *o, char *buf, size_t bufsz)
{
    int i = stw_channel_of(o);
    if (i < 0) return NULL;
    snprintf(buf, bufsz, "whatsapp:%s", wa_channel_number(stw_channels[i]));
    return buf;
}

void stw_classify(const struct wa_client_result *r, struct wa_outcome *out)
{
    memset(out, 0, sizeof *out);
    out->retry_after_ms = r->retry_after_ms;
    if (r->status == 0) {
        out->verdict = r->sent ? WA_VERDICT_UNKNOWN : WA_VERDICT_RETRY;
        copy(out->code, sizeof out->code, r->sent ? "unknown_outcome" : "transport");
        snprintf(out->text, sizeof out->text, "%s%s",
                 r->sent ? "no answer after the request was sent: " : "not sent: ", r->error);
        return;
    }
    json_t *body = json_loadb(r->body.data, r->body.len, 0, NULL);
    if (r->status >= 200 && r->status < 300) {
        const char *sid = json_string_value(json_object_get(body, "sid"));
        out->verdict = WA_VERDICT_SENT;
        copy(out->id, sizeof out->id, sid);
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
    /* 429 (20429) is never processed, nor is a 500/503 Twilio's API answers itself. A 502 or
     * 504 comes from a gateway in front of it, which may have passed the request on: the
     * message may exist, so it is reconciled before any resend. Other 4xx would fail the same
     * way again. */
    if (r->status == 502 || r->status == 504)
        out->verdict = WA_VERDICT_UNKNOWN;
    else
        out->verdict = r->status == 429 || r->status >= 500 ? WA_VERDICT_RETRY : WA_VERDICT_FAILED;
    json_decref(body);
}

/* "Thu, 24 Aug 2023 05:01:45 +0000" (RFC 2822, as Twilio writes dates) to ms, or -1. */
static int64_t rfc2822_ms(const char *s)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    const char *end = s ? strptime(s, "%a, %d %b %Y %H:%M:%S %z", &tm) : NULL;
    if (!end || *end) return -1;
    long off = tm.tm_gmtoff;
    return ((int64_t)timegm(&tm) - off) * 1000;
}

int stw_find_created(const char *list, size_t len, const struct wa_outbound *o, const char *from,
                     int64_t since_ms, char *sid, size_t sidsz)
{
    json_t *root = json_loadb(list, len, 0, NULL);
    json_t *msgs = json_object_get(root, "messages");
    if (!json_is_array(msgs)) {
        json_decref(root);
        return -1;
    }
    char to[32];
    snprintf(to, sizeof to, "whatsapp:%s", o->to);
    /* What Twilio stores as the body: the text, or a media message's caption. A template's body
     * is its rendered content, which we do not know. */
    const char *body = o->content_sid ? NULL
                       : o->media_url ? (o->caption ? o->caption : "")
                                      : o->text;
    int found = 0;
    size_t i;
    json_t *m;
    json_array_foreach(msgs, i, m)
    {
        const char *mto = json_string_value(json_object_get(m, "to"));
        const char *mfrom = json_string_value(json_object_get(m, "from"));
        const char *dir = json_string_value(json_object_get(m, "direction"));
        const char *mbody = json_string_value(json_object_get(m, "body"));
        const char *msid = json_string_value(json_object_get(m, "sid"));
        /* Dates have whole seconds: a message made in our attempt's second counts. */
        int64_t created = rfc2822_ms(json_string_value(json_object_get(m, "date_created")));
        if (!mto || !mfrom || !dir || !msid || strcmp(mto, to) != 0 || strcmp(mfrom, from) != 0 ||
            strncmp(dir, "outbound", 8) != 0 || created < since_ms - 1000 ||
            (body && (!mbody || strcmp(mbody, body) != 0)))
            continue;
        snprintf(sid, sidsz, "%s", msid);
        found = 1;
        break;
    }
    json_decref(root);
    return found;
}
