/* reply.c - the operator's reply from the page, checked and turned into the send API's request
 * (ingress/README.md, "POST /api/whatsapp/send"), and the headers of its file's upload; pure,
 * unit-tested and fuzzed. The dashboard
 * sends nothing itself: ingress takes the request and the router routes it like any other. */
#include "dash.h"
#include "wa_channel.h"
#include "wa_form.h"
#include "wa_outbound.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The page's key: what crypto.randomUUID() makes (or a fallback of the same alphabet). */
static int key_valid(const char *k)
{
    size_t n = strlen(k);
    return n >= 8 && n <= DASH_REPLY_KEY_MAX && strspn(k, "0123456789abcdefABCDEF-") == n;
}

static int sid_valid(const char *s)
{
    return strlen(s) == 34 && strncmp(s, "HX", 2) == 0 && strspn(s + 2, "0123456789abcdef") == 32;
}

/* A channel the send API takes: a bare provider, or "<provider>:+E164". */
static int channel_valid(const char *c)
{
    char provider[16];
    if (strlen(c) >= WA_CHANNEL_MAX || wa_channel_parse(c, provider, sizeof provider) < 0) return 0;
    return strcmp(provider, "twilio") == 0 || strcmp(provider, "baileys") == 0;
}

static json_t *fail(json_t *root, char *err, size_t errsz, const char *what)
{
    snprintf(err, errsz, "%s", what);
    json_decref(root);
    return NULL;
}

int dash_reply_kind(const char *s, int *is_template, char *err, size_t errsz)
{
    if (!s || strcmp(s, "text") == 0) {
        *is_template = 0;
        return 0;
    }
    if (strcmp(s, "template") == 0) {
        *is_template = 1;
        return 0;
    }
    snprintf(err, errsz, "kind must be text or template");
    return -1;
}

int dash_reply_channel(const char *s, char *err, size_t errsz)
{
    if (!s || !*s || channel_valid(s)) return 0;
    snprintf(err, errsz, "channel must be twilio, baileys, or one of their numbers (twilio:+E164)");
    return -1;
}

int dash_reply_template(const char *s, char *err, size_t errsz)
{
    if (!s || !*s || sid_valid(s)) return 0;
    snprintf(err, errsz, "template must be a Content SID (HX and 32 hexadecimal digits)");
    return -1;
}

/* A media reply names an upload of the dashboard's (POST /api/leads/{id}/media): {mediaId,
 * caption?}, the id as the upload's answer gives it (digits). 0, or 1 with err. */
static int media_invalid(json_t *m, char *err, size_t errsz)
{
    const char *k;
    json_t *v;
    if (!json_is_object(m)) {
        snprintf(err, errsz, "media is required: {mediaId, caption?}, the upload's mediaId");
        return 1;
    }
    json_object_foreach(m, k, v)
    {
        if (strcmp(k, "mediaId") != 0 && strcmp(k, "caption") != 0) {
            snprintf(err, errsz, "media: unknown field %.80s", k);
            return 1;
        }
    }
    const char *id = json_string_value(json_object_get(m, "mediaId"));
    size_t n = id ? strlen(id) : 0;
    if (n == 0 || n > 18 || strspn(id, "0123456789") != n || id[0] == '0') {
        snprintf(err, errsz, "media.mediaId must be the upload's mediaId (its digits)");
        return 1;
    }
    json_t *cap = json_object_get(m, "caption");
    if (cap && !json_is_string(cap)) {
        snprintf(err, errsz, "media.caption must be a string");
        return 1;
    }
    return 0;
}

void dash_size_words(uint64_t n, char *out, size_t outsz)
{
    if (n >= 1000000)
        snprintf(out, outsz, "%.1f MB", (double)n / 1e6);
    else if (n >= 1000)
        snprintf(out, outsz, "%.1f kB", (double)n / 1e3);
    else
        snprintf(out, outsz, "%llu bytes", (unsigned long long)n);
}

static int hex(char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

void dash_upload_filename(const char *hdr, char *out, size_t outsz)
{
    char buf[1024] = "";
    size_t n = 0;
    out[0] = '\0';
    if (!hdr || strlen(hdr) >= sizeof buf) return;
    for (const char *p = hdr; *p; p++) {
        if (*p == '%') {
            int hi = hex(p[1]), lo = hi < 0 ? -1 : hex(p[2]);
            if (lo < 0) return;
            buf[n++] = (char)(hi * 16 + lo);
            p += 2;
        } else {
            buf[n++] = *p;
        }
    }
    if (!wa_text_clean(buf, n)) return; /* not UTF-8, or a NUL inside */
    buf[n] = '\0';
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)buf[i] < 0x20 || buf[i] == 0x7f) return;
    /* Its last path segment (a browser sends the name alone; another client may not). */
    const char *base = buf;
    for (const char *p = buf; *p; p++)
        if (*p == '/' || *p == '\\') base = p + 1;
    while (*base == ' ')
        base++;
    size_t len = strlen(base);
    while (len && base[len - 1] == ' ')
        len--;
    char trimmed[1024];
    memcpy(trimmed, base, len);
    trimmed[len] = '\0';
    if (strcmp(trimmed, ".") == 0 || strcmp(trimmed, "..") == 0) return;
    wa_utf8_copy(out, outsz, trimmed);
}

int dash_upload_request(const char *key, const char *ctype, const char *length, const char *name,
                        uint64_t max, struct dash_upload_req *out, unsigned *status, char *err,
                        size_t errsz)
{
    memset(out, 0, sizeof *out);
    dash_upload_filename(name, out->filename, sizeof out->filename);
    out->length = -1;
    *status = 400;
    if (!key || !key_valid(key)) {
        snprintf(err, errsz,
                 "the header Idempotency-Key is required: the reply's key (8 to %d of "
                 "0-9, a-f, -)",
                 DASH_REPLY_KEY_MAX);
        return -1;
    }
    snprintf(out->key, sizeof out->key, "dashboard:%s", key);
    if (length) {
        size_t n = strlen(length);
        if (n == 0 || n > 19 || strspn(length, "0123456789") != n) {
            snprintf(err, errsz, "Content-Length is not a number");
            return -1;
        }
        out->length = strtoll(length, NULL, 10);
        if ((uint64_t)out->length > max) {
            char has[32], most[32];
            *status = 413;
            dash_size_words((uint64_t)out->length, has, sizeof has);
            dash_size_words(max, most, sizeof most);
            if (strcmp(has, most) == 0) { /* just over: the words would say the same */
                snprintf(has, sizeof has, "%lld bytes", (long long)out->length);
                snprintf(most, sizeof most, "%llu bytes", (unsigned long long)max);
            }
            snprintf(err, errsz, "the file is too large to send: %s, the most is %s", has, most);
            return -1;
        }
    }
    /* The type the browser gives the file (after its name): the bytes must agree with it. None,
     * or application/octet-stream (it does not know), lets the bytes alone decide. */
    if (ctype) {
        size_t n = strcspn(ctype, ";");
        while (n && (ctype[n - 1] == ' ' || ctype[n - 1] == '\t'))
            n--;
        if (n >= sizeof out->mime) {
            *status = 415;
            snprintf(err, errsz, "Content-Type is too long");
            return -1;
        }
        for (size_t i = 0; i < n; i++) {
            char c = ctype[i];
            if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  strchr("/.+-_", c))) {
                *status = 415;
                snprintf(err, errsz, "Content-Type must be the file's type (type/subtype)");
                return -1;
            }
            out->mime[i] = (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
        }
        out->mime[n] = '\0';
        const char *slash = strchr(out->mime, '/');
        if (n && (!slash || slash == out->mime || !slash[1] || strchr(slash + 1, '/'))) {
            *status = 415;
            snprintf(err, errsz, "Content-Type must be the file's type (type/subtype)");
            return -1;
        }
        if (strcmp(out->mime, "application/octet-stream") == 0) out->mime[0] = '\0';
    }
    *status = 0;
    return 0;
}

json_t *dash_reply_request(const char *body, size_t len, const char *to, char *err, size_t errsz)
{
    json_error_t je;
    json_t *in = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
    if (!json_is_object(in)) return fail(in, err, errsz, "the body must be a JSON object");
    const char *k;
    json_t *v;
    json_object_foreach(in, k, v)
    {
        if (strcmp(k, "idempotencyKey") != 0 && strcmp(k, "type") != 0 && strcmp(k, "text") != 0 &&
            strcmp(k, "template") != 0 && strcmp(k, "media") != 0 && strcmp(k, "channel") != 0) {
            char msg[160];
            snprintf(msg, sizeof msg, "unknown field %.80s", k);
            return fail(in, err, errsz, msg);
        }
    }
    const char *key = json_string_value(json_object_get(in, "idempotencyKey"));
    if (!key || !key_valid(key))
        return fail(in, err, errsz,
                    "idempotencyKey is required: the page's random id (8 to 64 of 0-9, a-f, -)");
    const char *type = json_string_value(json_object_get(in, "type"));
    int is_template = 0, is_media = type && strcmp(type, "media") == 0;
    if (!type || (!is_media && dash_reply_kind(type, &is_template, err, errsz) < 0))
        return fail(in, err, errsz, "type must be text, template or media");
    json_t *ch = json_object_get(in, "channel");
    const char *channel = json_string_value(ch);
    if (ch && !json_is_null(ch) && (!channel || (channel[0] && !channel_valid(channel))))
        return fail(in, err, errsz,
                    "channel must be twilio, baileys, or one of their numbers (twilio:+E164)");
    json_t *text = json_object_get(in, "text"), *tpl = json_object_get(in, "template");
    json_t *media = json_object_get(in, "media");
    if (is_media) {
        if (text || tpl)
            return fail(in, err, errsz,
                        "a media reply has no text or template: its words are media.caption");
        if (media_invalid(media, err, errsz)) {
            json_decref(in);
            return NULL;
        }
    } else if (media) {
        return fail(in, err, errsz, "only a media reply has media");
    } else if (is_template ? text != NULL : tpl != NULL) {
        return fail(in, err, errsz,
                    is_template ? "a template reply has no text: its body is the template's"
                                : "a text reply has no template");
    }
    const char *t = json_string_value(text);
    if (!is_template && !is_media && (!t || strspn(t, " \t\r\n") == strlen(t)))
        return fail(in, err, errsz, "text is required, and not only spaces");
    char full_key[DASH_REPLY_KEY_MAX + 16];
    snprintf(full_key, sizeof full_key, "dashboard:%s", key);
    json_t *out = json_pack("{s:s, s:s, s:s}", "to", to, "type", type, "idempotencyKey", full_key);
    if (channel && channel[0]) json_object_set_new(out, "channel", json_string(channel));
    json_object_set(out,
                    is_media      ? "media"
                    : is_template ? "template"
                                  : "text",
                    is_media      ? media
                    : is_template ? tpl
                                  : text);
    json_decref(in);
    /* The rest (the text's length, the template's shape) is the send API's to judge, by its own
     * validator: a reply refused here is one ingress would refuse, with the same words. */
    char *s = json_dumps(out, JSON_COMPACT);
    struct wa_outbound o;
    json_t *ok = s ? wa_outbound_decode(s, strlen(s), WA_OUT_API, &o, err, errsz) : NULL;
    free(s);
    if (!ok) {
        json_decref(out);
        return NULL;
    }
    json_decref(ok);
    return out;
}
