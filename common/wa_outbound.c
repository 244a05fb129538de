/* wa_outbound.c - send requests and routed commands: strict decoding, encoding, message ids; pure.
 */
#include "wa_outbound.h"
#include "wa_channel.h"
#include "wa_util.h"
#include "wa_phone.h"

#include <openssl/evp.h>
#include <stdarg.h>
#include <strings.h>
#include <stdio.h>
#include <string.h>

static const char *const api_fields[] = {
    "to", "type", "text", "media", "template", "provider", "channel", "idempotencyKey", NULL};
static const char *const record_fields[] = {"v", "id", "requestedAtMs", NULL};
static const char *const command_fields[] = {
    "route",  "failover",        "windowUntilMs",         "routedAtMs",
    "reason", "failoverChannel", "failoverWindowUntilMs", "failoverHoldMs",
    NULL};

static int in_list(const char *s, const char *const *list)
{
    for (; *list; list++)
        if (strcmp(s, *list) == 0) return 1;
    return 0;
}

static int fail(char *errbuf, size_t errsz, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(char *errbuf, size_t errsz, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(errbuf, errsz, fmt, ap);
    va_end(ap);
    return -1;
}

/* Characters, not bytes: jansson has already checked the UTF-8. */
static size_t utf8_chars(const char *s, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80) n++;
    return n;
}

/* A string field: absent (NULL, 0), or a string of 1..max characters without
 * NUL (and without control characters when plain is set). */
static int get_str(json_t *o, const char *k, const char *where, size_t max, int plain,
                   const char **out, char *errbuf, size_t errsz)
{
    *out = NULL;
    json_t *v = json_object_get(o, k);
    if (!v || json_is_null(v)) return 0;
    if (!json_is_string(v)) return fail(errbuf, errsz, "%s%s: must be a string", where, k);
    const char *s = json_string_value(v);
    size_t len = json_string_length(v);
    if (strlen(s) != len) return fail(errbuf, errsz, "%s%s: contains a NUL character", where, k);
    if (len == 0) return fail(errbuf, errsz, "%s%s: must not be empty", where, k);
    if (utf8_chars(s, len) > max)
        return fail(errbuf, errsz, "%s%s: longer than %zu characters", where, k, max);
    if (plain)
        for (size_t i = 0; i < len; i++)
            if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
                return fail(errbuf, errsz, "%s%s: contains a control character", where, k);
    *out = s;
    return 0;
}

static int get_int(json_t *o, const char *k, int64_t *out, char *errbuf, size_t errsz)
{
    json_t *v = json_object_get(o, k);
    *out = 0;
    if (!v || json_is_null(v)) return 0;
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return fail(errbuf, errsz, "%s: must be a non-negative integer", k);
    *out = json_integer_value(v);
    return 0;
}

static int only_keys(json_t *o, const char *where, const char *const *allowed, char *errbuf,
                     size_t errsz)
{
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v)
    {
        (void)v;
        if (!in_list(k, allowed)) return fail(errbuf, errsz, "%sunknown field \"%s\"", where, k);
    }
    return 0;
}

static int valid_url(const char *u)
{
    if (strncmp(u, "https://", 8) != 0 && strncmp(u, "http://", 7) != 0) return 0;
    const char *host = strstr(u, "://") + 3;
    if (!*host || *host == '/') return 0;
    for (const char *p = u; *p; p++)
        if ((unsigned char)*p <= 0x20 || *p == 0x7f) return 0;
    return 1;
}

static int valid_mime(const char *m)
{
    const char *slash = strchr(m, '/');
    if (!slash || slash == m || !slash[1]) return 0;
    for (const char *p = m; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              strchr("/.+-_", *p)))
            return 0;
    return 1;
}

static int decode_media(json_t *m, struct wa_outbound *o, char *errbuf, size_t errsz)
{
    static const char *const fields[] = {"url", "mediaId", "caption", "mimetype", NULL};
    if (!json_is_object(m)) return fail(errbuf, errsz, "media: must be an object");
    /* wa.media events publish media_id as a number: the same id is taken as a number or as
     * its digits in a string (docs/events.md). */
    json_t *mid = json_object_get(m, "mediaId");
    if (json_is_integer(mid)) {
        if (json_integer_value(mid) < 1)
            return fail(errbuf, errsz, "media.mediaId: a stored media id is a positive integer");
        snprintf(o->media_id_digits, sizeof o->media_id_digits, "%" JSON_INTEGER_FORMAT,
                 json_integer_value(mid));
        o->media_id = o->media_id_digits;
    }
    if (only_keys(m, "media.", fields, errbuf, errsz) ||
        get_str(m, "url", "media.", WA_URL_MAX, 1, &o->media_url, errbuf, errsz) ||
        (!json_is_integer(mid) &&
         get_str(m, "mediaId", "media.", 64, 1, &o->media_id, errbuf, errsz)) ||
        get_str(m, "caption", "media.", 1024, 0, &o->caption, errbuf, errsz) ||
        get_str(m, "mimetype", "media.", 127, 1, &o->mimetype, errbuf, errsz))
        return -1;
    if (!o->media_url == !o->media_id)
        return fail(errbuf, errsz, "media: give exactly one of url and mediaId");
    if (o->media_url && !valid_url(o->media_url))
        return fail(errbuf, errsz, "media.url: must be an http(s) URL without spaces");
    if (o->mimetype && !valid_mime(o->mimetype))
        return fail(errbuf, errsz, "media.mimetype: must look like type/subtype");
    return 0;
}

static int decode_template(json_t *t, struct wa_outbound *o, char *errbuf, size_t errsz)
{
    static const char *const fields[] = {"contentSid", "variables", NULL};
    if (!json_is_object(t)) return fail(errbuf, errsz, "template: must be an object");
    if (only_keys(t, "template.", fields, errbuf, errsz) ||
        get_str(t, "contentSid", "template.", 34, 1, &o->content_sid, errbuf, errsz))
        return -1;
    if (!o->content_sid || !wa_twilio_sid(o->content_sid, "HX"))
        return fail(errbuf, errsz, "template.contentSid: must be HX followed by 32 hex digits");
    json_t *vars = json_object_get(t, "variables");
    if (vars && !json_is_null(vars)) {
        if (!json_is_object(vars))
            return fail(errbuf, errsz, "template.variables: must be an object of strings");
        if (json_object_size(vars) > WA_VARIABLES_MAX)
            return fail(errbuf, errsz, "template.variables: more than %d entries",
                        WA_VARIABLES_MAX);
        const char *k;
        json_t *v;
        json_object_foreach(vars, k, v)
        {
            if (!json_is_string(v))
                return fail(errbuf, errsz, "template.variables.%s: must be a string", k);
        }
        o->variables = vars;
    }
    return 0;
}

json_t *wa_outbound_decode(const char *buf, size_t len, enum wa_outbound_form form,
                           struct wa_outbound *o, char *errbuf, size_t errsz)
{
    memset(o, 0, sizeof *o);
    json_error_t je;
    json_t *root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
    if (!root) {
        fail(errbuf, errsz, "not valid JSON: %s (at byte %d)", je.text, je.position);
        return NULL;
    }
    if (!json_is_object(root)) {
        fail(errbuf, errsz, "the body must be a JSON object");
        goto bad;
    }
    const char *k;
    json_t *v;
    json_object_foreach(root, k, v)
    {
        (void)v;
        if (in_list(k, api_fields)) continue;
        if (form != WA_OUT_API && in_list(k, record_fields)) continue;
        if (form == WA_OUT_COMMAND && in_list(k, command_fields)) continue;
        fail(errbuf, errsz, "unknown field \"%s\"", k);
        goto bad;
    }
    const char *to = NULL;
    if (get_str(root, "idempotencyKey", "", WA_KEY_MAX, 1, &o->idempotency_key, errbuf, errsz) ||
        get_str(root, "to", "", 32, 1, &to, errbuf, errsz) ||
        get_str(root, "type", "", 16, 1, &o->type, errbuf, errsz) ||
        get_str(root, "text", "", WA_TEXT_MAX, 0, &o->text, errbuf, errsz) ||
        get_str(root, "provider", "", 16, 1, &o->provider, errbuf, errsz) ||
        get_str(root, "channel", "", WA_CHANNEL_MAX - 1, 1, &o->channel, errbuf, errsz))
        goto bad;
    if (!o->idempotency_key) {
        fail(errbuf, errsz, "idempotencyKey: required (it makes a repeated request harmless)");
        goto bad;
    }
    if (!to) {
        fail(errbuf, errsz, "to: required");
        goto bad;
    }
    if (wa_phone_e164(to, o->to, sizeof o->to) < 0) {
        fail(errbuf, errsz, "to: not a phone number in E.164 form (+ and 8 to 15 digits)");
        goto bad;
    }
    if (!o->type) {
        fail(errbuf, errsz, "type: required (text, media or template)");
        goto bad;
    }
    if (o->provider && strcmp(o->provider, "twilio") != 0 && strcmp(o->provider, "baileys") != 0) {
        fail(errbuf, errsz, "provider: must be twilio or baileys when given");
        goto bad;
    }
    /* A request may name the business number that sends it; a command names the one the
     * router chose. */
    char channel_provider[16];
    if (o->channel && wa_channel_parse(o->channel, channel_provider, sizeof channel_provider) < 0) {
        fail(errbuf, errsz,
             "channel: must be twilio:+<E.164>, baileys:+<E.164>, or twilio or baileys for the "
             "provider's default number");
        goto bad;
    }
    if (o->channel && o->provider && strcmp(o->provider, channel_provider) != 0) {
        fail(errbuf, errsz, "channel: %s is a %s number, but provider says %s", o->channel,
             channel_provider, o->provider);
        goto bad;
    }
    json_t *media = json_object_get(root, "media");
    json_t *tmpl = json_object_get(root, "template");
    if (media && json_is_null(media)) media = NULL;
    if (tmpl && json_is_null(tmpl)) tmpl = NULL;
    if (media && decode_media(media, o, errbuf, errsz)) goto bad;
    if (tmpl && decode_template(tmpl, o, errbuf, errsz)) goto bad;
    if (strcmp(o->type, "text") == 0) {
        if (!o->text) {
            fail(errbuf, errsz, "text: required for type text");
            goto bad;
        }
        if (media || tmpl) {
            fail(errbuf, errsz, "type text takes only text: use type media or template");
            goto bad;
        }
    } else if (strcmp(o->type, "media") == 0) {
        if (!media) {
            fail(errbuf, errsz, "media: required for type media");
            goto bad;
        }
        if (o->text || tmpl) {
            fail(errbuf, errsz,
                 "type media takes media (with media.caption), not text or template");
            goto bad;
        }
    } else if (strcmp(o->type, "template") == 0) {
        if (!tmpl) {
            fail(errbuf, errsz, "template: required for type template");
            goto bad;
        }
        if (o->text || media) {
            fail(errbuf, errsz, "type template takes only template: its text is approved content");
            goto bad;
        }
    } else {
        fail(errbuf, errsz, "type: must be text, media or template");
        goto bad;
    }
    wa_outbound_id(o->idempotency_key, o->id);
    if (form == WA_OUT_API) return root;

    json_t *ver = json_object_get(root, "v");
    if (ver && (!json_is_integer(ver) || json_integer_value(ver) != 1)) {
        fail(errbuf, errsz, "v: this reader knows version 1 only");
        goto bad;
    }
    const char *id = NULL;
    if (get_str(root, "id", "", 36, 1, &id, errbuf, errsz) ||
        get_int(root, "requestedAtMs", &o->requested_ms, errbuf, errsz))
        goto bad;
    if (id && strcasecmp(id, o->id) != 0) {
        fail(errbuf, errsz, "id: does not belong to this idempotencyKey (leave it out)");
        goto bad;
    }
    if (form == WA_OUT_RECORD) return root;

    json_t *fo = json_object_get(root, "failover");
    if (fo && !json_is_boolean(fo)) {
        fail(errbuf, errsz, "failover: must be true or false");
        goto bad;
    }
    o->failover = fo && json_is_true(fo);
    if (get_str(root, "route", "", 16, 1, &o->route, errbuf, errsz) ||
        get_str(root, "reason", "", 512, 0, &o->reason, errbuf, errsz) ||
        get_int(root, "windowUntilMs", &o->window_until_ms, errbuf, errsz) ||
        get_int(root, "routedAtMs", &o->routed_ms, errbuf, errsz) ||
        get_str(root, "failoverChannel", "", 64, 1, &o->failover_channel, errbuf, errsz))
        goto bad;
    if (get_int(root, "failoverWindowUntilMs", &o->failover_window_until_ms, errbuf, errsz) ||
        get_int(root, "failoverHoldMs", &o->failover_hold_ms, errbuf, errsz))
        goto bad;
    /* A command from before channels: the failover channel's window was the contact's. */
    if (!json_object_get(root, "failoverWindowUntilMs"))
        o->failover_window_until_ms = o->window_until_ms;
    if (!o->route || (strcmp(o->route, "twilio") != 0 && strcmp(o->route, "baileys") != 0)) {
        fail(errbuf, errsz, "route: must be twilio or baileys");
        goto bad;
    }
    return root;
bad:
    json_decref(root);
    return NULL;
}

char *wa_outbound_encode(const struct wa_outbound *o, enum wa_outbound_form form)
{
    json_t *r = json_pack("{s:i, s:s, s:s, s:s, s:s}", "v", 1, "id", o->id, "idempotencyKey",
                          o->idempotency_key, "to", o->to, "type", o->type);
    if (!r) return NULL;
    if (o->text) json_object_set_new(r, "text", json_string(o->text));
    if (o->media_url || o->media_id) {
        json_t *m = json_object();
        if (o->media_url) json_object_set_new(m, "url", json_string(o->media_url));
        if (o->media_id) json_object_set_new(m, "mediaId", json_string(o->media_id));
        if (o->caption) json_object_set_new(m, "caption", json_string(o->caption));
        if (o->mimetype) json_object_set_new(m, "mimetype", json_string(o->mimetype));
        json_object_set_new(r, "media", m);
    }
    if (o->content_sid) {
        json_t *t = json_pack("{s:s}", "contentSid", o->content_sid);
        if (o->variables) json_object_set(t, "variables", o->variables);
        json_object_set_new(r, "template", t);
    }
    if (o->provider) json_object_set_new(r, "provider", json_string(o->provider));
    if (o->channel) json_object_set_new(r, "channel", json_string(o->channel));
    json_object_set_new(r, "requestedAtMs", json_integer(o->requested_ms));
    if (form == WA_OUT_COMMAND) {
        json_object_set_new(r, "route", json_string(o->route ? o->route : ""));
        json_object_set_new(r, "failover", json_boolean(o->failover));
        json_object_set_new(r, "windowUntilMs", json_integer(o->window_until_ms));
        json_object_set_new(r, "routedAtMs", json_integer(o->routed_ms));
        if (o->reason) json_object_set_new(r, "reason", json_string(o->reason));
        if (o->failover_channel)
            json_object_set_new(r, "failoverChannel", json_string(o->failover_channel));
        json_object_set_new(r, "failoverWindowUntilMs", json_integer(o->failover_window_until_ms));
        if (o->failover_hold_ms)
            json_object_set_new(r, "failoverHoldMs", json_integer(o->failover_hold_ms));
    }
    char *s = json_dumps(r, JSON_COMPACT);
    json_decref(r);
    return s;
}

void wa_outbound_id(const char *key, char out[37])
{
    static const char ns[] = "wa-broker/outbound/";
    unsigned char h[EVP_MAX_MD_SIZE];
    unsigned hl = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
    EVP_DigestUpdate(ctx, ns, sizeof ns - 1);
    EVP_DigestUpdate(ctx, key, strlen(key));
    EVP_DigestFinal_ex(ctx, h, &hl);
    EVP_MD_CTX_free(ctx);
    /* RFC 9562 version 8 (application-defined), variant 10. */
    h[6] = (unsigned char)((h[6] & 0x0F) | 0x80);
    h[8] = (unsigned char)((h[8] & 0x3F) | 0x80);
    static const char hex[] = "0123456789abcdef";
    size_t j = 0;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10) out[j++] = '-';
        out[j++] = hex[h[i] >> 4];
        out[j++] = hex[h[i] & 15];
    }
    out[j] = '\0';
}

int wa_uuid_valid(const char *s)
{
    if (!s || strlen(s) != 36) return 0;
    for (int i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-') return 0;
        } else if (!strchr("0123456789abcdefABCDEF", s[i])) {
            return 0;
        }
    }
    return 1;
}
