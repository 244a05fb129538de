/* twilio_normalize.c - Twilio's inbound webhook form to a wa.inbound event; pure, table-tested. */
#include "ingress.h"
#include "wa_phone.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Bytes that are not UTF-8, and NULs (which neither JSON readers nor Postgres
 * accept), are replaced (U+FFFD) rather than refused: Twilio
 * signed them, and a lead with a mangled character beats a lost lead. The
 * sanitized copies live in the form itself, so every borrow stays valid. */
static int sanitize(char **text, size_t *len)
{
    if (wa_text_clean(*text, *len)) return 0;
    char *s = wa_utf8_sanitize(*text, *len, len);
    free(*text);
    *text = s;
    return 1;
}

static int sanitize_form(struct wa_form *form)
{
    int fixed = 0;
    for (size_t i = 0; i < form->n; i++) {
        fixed += sanitize(&form->pairs[i].value, &form->pairs[i].value_len);
        fixed += sanitize(&form->pairs[i].key, &form->pairs[i].key_len);
    }
    return fixed;
}

/* Every received field, so nothing Twilio adds later is lost; repeats become arrays. */
static json_t *raw_object(const struct wa_form *form)
{
    json_t *o = json_object();
    for (size_t i = 0; i < form->n; i++) {
        const struct wa_pair *p = &form->pairs[i];
        json_t *v = json_stringn(p->value, p->value_len);
        json_t *prev = json_object_get(o, p->key);
        if (!prev) {
            json_object_set_new(o, p->key, v);
        } else if (json_is_array(prev)) {
            json_array_append_new(prev, v);
        } else {
            json_t *a = json_array();
            json_array_append(a, prev);
            json_array_append_new(a, v);
            json_object_set_new(o, p->key, a);
        }
    }
    return o;
}

static const char *nonempty(const struct wa_form *f, const char *k)
{
    const char *v = wa_form_get(f, k);
    return v && *v ? v : NULL;
}

static const char *type_from_mime(const char *mime)
{
    if (!mime) return "document";
    if (strncmp(mime, "image/webp", 10) == 0) return "sticker";
    if (strncmp(mime, "image/", 6) == 0) return "image";
    if (strncmp(mime, "audio/", 6) == 0) return "audio";
    if (strncmp(mime, "video/", 6) == 0) return "video";
    if (strcmp(mime, "text/vcard") == 0 || strcmp(mime, "text/x-vcard") == 0) return "contacts";
    return "document";
}

/* Twilio message ids: SM/MM and 32 hex digits. Others are refused so a typo cannot become a key. */
static int valid_sid(const char *s)
{
    return wa_twilio_sid(s, "SM") || wa_twilio_sid(s, "MM");
}

int ing_twilio_normalize(const struct wa_form *cform, int64_t now_ms, struct wa_inbound *out,
                         char *phone, char *to, json_t **raw, int *utf8_fixed, char *errbuf,
                         size_t errsz)
{
    struct wa_form *form = (struct wa_form *)cform;
    memset(out, 0, sizeof *out);
    *raw = NULL;
    *utf8_fixed = sanitize_form(form);

    const char *sid = nonempty(form, "MessageSid");
    if (!sid) sid = nonempty(form, "SmsMessageSid");
    if (!sid) {
        snprintf(errbuf, errsz, "MessageSid is missing");
        return -1;
    }
    if (!valid_sid(sid)) {
        snprintf(errbuf, errsz, "MessageSid is not a Twilio message id (SM/MM + 32 hex)");
        return -1;
    }
    const char *from = nonempty(form, "From");
    if (!from) {
        snprintf(errbuf, errsz, "From is missing");
        return -1;
    }
    if (wa_phone_e164(from, phone, 17) < 0) {
        snprintf(errbuf, errsz, "From is not a phone number in E.164");
        return -1;
    }
    const char *to_raw = nonempty(form, "To");
    if (to_raw && wa_phone_e164(to_raw, to, 17) == 0) out->to = to;

    out->provider = "twilio";
    out->provider_message_id = sid;
    out->account = nonempty(form, "AccountSid");
    out->phone = phone;
    out->wa_id = nonempty(form, "WaId");
    out->profile_name = nonempty(form, "ProfileName");
    out->reply_to = nonempty(form, "OriginalRepliedMessageSid");
    const struct wa_pair *body = wa_form_find(form, "Body");
    if (body && body->value_len) {
        out->text = body->value;
        out->text_len = body->value_len;
    }
    out->timestamp_ms = now_ms; /* Twilio's inbound webhook carries no send time */
    out->received_ms = now_ms;

    const char *nm = nonempty(form, "NumMedia");
    long num_media = 0;
    if (nm) {
        char *end;
        num_media = strtol(nm, &end, 10);
        if (*end || num_media < 0 || num_media > WA_MAX_MEDIA) {
            snprintf(errbuf, errsz, "NumMedia must be 0 to %d", WA_MAX_MEDIA);
            return -1;
        }
    }
    for (long i = 0; i < num_media; i++) {
        char k[48];
        snprintf(k, sizeof k, "MediaUrl%ld", i);
        const char *url = nonempty(form, k);
        if (!url) {
            snprintf(errbuf, errsz, "NumMedia is %ld but %s is missing", num_media, k);
            return -1;
        }
        snprintf(k, sizeof k, "MediaContentType%ld", i);
        out->media[out->nmedia++] =
            (struct wa_media_ref){.url = url, .mime = nonempty(form, k), .size = -1};
    }

    out->button_text = nonempty(form, "ButtonText");
    out->button_payload = nonempty(form, "ButtonPayload");
    out->latitude = nonempty(form, "Latitude");
    out->longitude = nonempty(form, "Longitude");
    out->address = nonempty(form, "Address");
    out->label = nonempty(form, "Label");

    /* Twilio's MessageType names the kind when present; otherwise infer it. */
    const char *mt = nonempty(form, "MessageType");
    if (mt)
        out->type = mt;
    else if (out->latitude && out->longitude)
        out->type = "location";
    else if (out->button_text || out->button_payload)
        out->type = "button";
    else if (out->nmedia)
        out->type = type_from_mime(out->media[0].mime);
    else
        out->type = "text";

    *raw = raw_object(form);
    out->raw = *raw;
    return 0;
}

/* Twilio's MessageStatus words (Twilio's Message resource, "Message status values") to ours; NULL
 * for inbound ones. */
static const char *status_word(const char *s)
{
    static const char *const map[][2] = {
        {"accepted", "queued"},
        {"scheduled", "queued"},
        {"queued", "queued"},
        {"sending", "queued"},
        {"sent", "sent"},
        {"delivered", "delivered"},
        {"read", "read"},
        {"failed", "failed"},
        {"undelivered", "undelivered"},
        {"canceled", "failed"},
        {"partially_delivered", "delivered"},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strcmp(s, map[i][0]) == 0) return map[i][1];
    return NULL;
}

/* Our message id, from the "id" query parameter we put in StatusCallback. */
static int query_id(const char *uri, char *id)
{
    const char *q = strchr(uri, '?');
    while (q && *q) {
        q++;
        if (strncmp(q, "id=", 3) == 0) {
            size_t n = strcspn(q + 3, "&#");
            if (n != 36) return 0;
            memcpy(id, q + 3, 36);
            id[36] = '\0';
            for (int i = 0; i < 36; i++) {
                char c = id[i];
                int dash = i == 8 || i == 13 || i == 18 || i == 23;
                if (dash ? c != '-' : !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return 0;
            }
            return 1;
        }
        q = strchr(q, '&');
    }
    return 0;
}

int ing_twilio_status_normalize(struct wa_form *form, const char *uri, int64_t now_ms,
                                struct wa_status *out, char *phone, char *id, json_t **raw,
                                char *errbuf, size_t errsz)
{
    memset(out, 0, sizeof *out);
    *raw = NULL;
    sanitize_form(form);
    const char *sid = nonempty(form, "MessageSid");
    const char *st = nonempty(form, "MessageStatus");
    if (!st) st = nonempty(form, "SmsStatus");
    if (!sid || !st) {
        snprintf(errbuf, errsz, "MessageSid and MessageStatus are required");
        return -1;
    }
    const char *ours = status_word(st);
    if (!ours) {
        snprintf(errbuf, errsz, "MessageStatus %s is not a status of a message we sent", st);
        return -1;
    }
    /* For our messages the contact is the recipient. */
    const char *to = nonempty(form, "To");
    if (to && wa_phone_e164(to, phone, 17) == 0) out->phone = phone;
    out->provider = "twilio";
    out->provider_message_id = sid;
    out->message_id = query_id(uri, id) ? id : NULL;
    out->status = ours;
    out->provider_status = st;
    out->error_code = nonempty(form, "ErrorCode");
    out->error_text = nonempty(form, "ErrorMessage");
    out->source = "callback";
    out->timestamp_ms = now_ms;
    out->received_ms = now_ms;
    out->latency_ms = -1;
    *raw = raw_object(form);
    out->raw = *raw;
    return 0;
}
