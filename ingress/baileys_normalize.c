/* baileys_normalize.c - the bridge's JSON body to a wa.inbound or wa.status event; pure,
 * table-tested. */
#include "ingress.h"
#include "wa_outbound.h"
#include "wa_phone.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const message_types[] = {
    "text",    "image",    "audio",  "video",   "document", "sticker", "location",
    "contact", "reaction", "button", "unknown", "media",    NULL};
static const char *const statuses[] = {"sent", "delivered", "read", "played", "error", NULL};

static int one_of(const char *v, const char *const *words)
{
    for (; *words; words++)
        if (strcmp(v, *words) == 0) return 1;
    return 0;
}

/* A field that must be a string when present (null counts as absent). */
static int opt_string(json_t *o, const char *k, const char **out, char *errbuf, size_t errsz)
{
    json_t *v = json_object_get(o, k);
    *out = NULL;
    if (!v || json_is_null(v)) return 0;
    if (!json_is_string(v)) {
        snprintf(errbuf, errsz, "%s must be a string", k);
        return -1;
    }
    *out = json_string_value(v);
    return 0;
}

int ing_phone_from_jid(const char *jid, char *out)
{
    const char *at = strchr(jid, '@');
    if (!at || strcmp(at, "@s.whatsapp.net") != 0) return -1;
    size_t user = strcspn(jid, ":@");
    char digits[24];
    if (user == 0 || user >= sizeof digits) return -1;
    memcpy(digits, jid, user);
    digits[user] = '\0';
    return wa_phone_e164(digits, out, 17);
}

/* Numbers in location stay text, so no float rounding changes a coordinate. */
static char *number_text(json_t *v)
{
    if (json_is_string(v)) return wa_xstrdup(json_string_value(v));
    if (!json_is_number(v)) return NULL;
    double d = json_number_value(v);
    char buf[40];
    /* The shortest text that reads back as the same double: 32.0853, not 32.085299999999997. */
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, d);
        if (strtod(buf, NULL) == d) break;
    }
    return wa_xstrdup(buf);
}

struct ids {
    const char *event, *jid, *id, *phone_in, *lid, *self_in;
    char phone[17];
    char self[17]; /* our number (the bridge session's), E.164; "" when not given */
    char *pmid;    /* remoteJid "/" messageId: the dedup key */
    int64_t ts_ms;
};

static int common_fields(json_t *root, int64_t now_ms, struct ids *x, char *errbuf, size_t errsz)
{
    if (opt_string(root, "event", &x->event, errbuf, errsz) ||
        opt_string(root, "remoteJid", &x->jid, errbuf, errsz) ||
        opt_string(root, "messageId", &x->id, errbuf, errsz) ||
        opt_string(root, "phone", &x->phone_in, errbuf, errsz) ||
        opt_string(root, "lid", &x->lid, errbuf, errsz) ||
        opt_string(root, "self", &x->self_in, errbuf, errsz))
        return -1;
    if (!x->event) x->event = "message"; /* the original bridge sent messages without it */
    if (strcmp(x->event, "message") != 0 && strcmp(x->event, "status") != 0) {
        snprintf(errbuf, errsz, "event must be \"message\" or \"status\"");
        return -1;
    }
    if (!x->jid || !strchr(x->jid, '@') || strlen(x->jid) > 128) {
        snprintf(errbuf, errsz, "remoteJid is required (user@server)");
        return -1;
    }
    if (strcmp(x->jid, "status@broadcast") == 0) {
        snprintf(errbuf, errsz, "status broadcasts are not conversations");
        return -1;
    }
    if (!x->id || !*x->id || strlen(x->id) > 128) {
        snprintf(errbuf, errsz, "messageId is required (1 to 128 characters)");
        return -1;
    }
    json_t *ts = json_object_get(root, "timestamp");
    if (ts && !json_is_null(ts)) {
        if (!json_is_integer(ts) || json_integer_value(ts) <= 0 ||
            json_integer_value(ts) > 32503680000LL) {
            snprintf(errbuf, errsz, "timestamp must be a positive number of seconds");
            return -1;
        }
        /* WhatsApp stamps whole seconds. Within that second our clock is finer, so
         * a Twilio message and a Baileys one in the same second keep their order. */
        int64_t t = (int64_t)json_integer_value(ts) * 1000;
        x->ts_ms = now_ms < t ? t : now_ms > t + 999 ? t + 999 : now_ms;
    } else {
        x->ts_ms = now_ms;
    }
    /* The contact is a phone number: given by the bridge (it maps LIDs), or the JID's user. */
    if (x->phone_in) {
        if (wa_phone_e164(x->phone_in, x->phone, sizeof x->phone) < 0) {
            snprintf(errbuf, errsz, "phone is not a phone number in E.164");
            return -1;
        }
    } else if (ing_phone_from_jid(x->jid, x->phone) < 0) {
        snprintf(errbuf, errsz,
                 "no phone number: give phone, or a remoteJid of user@s.whatsapp.net"
                 " (a LID needs its phone mapping)");
        return -1;
    }
    /* The session's own number names the channel a message came in on; optional, since a
     * bridge not yet logged in (or older than the field) does not know it. A message carries it
     * as `to`; a receipt keeps it in `raw` only (wa.status has no field for our number). */
    if (x->self_in && wa_phone_e164(x->self_in, x->self, sizeof x->self) < 0) {
        snprintf(errbuf, errsz, "self is not a phone number in E.164");
        return -1;
    }
    if (!x->lid && strstr(x->jid, "@lid")) x->lid = x->jid;
    size_t n = strlen(x->jid) + strlen(x->id) + 2;
    x->pmid = wa_xmalloc(n);
    snprintf(x->pmid, n, "%s/%s", x->jid, x->id);
    return 0;
}

static char *status_event(json_t *root, const struct ids *x, int64_t now_ms, char *errbuf,
                          size_t errsz)
{
    const char *status = NULL, *error = NULL, *key = NULL;
    if (opt_string(root, "status", &status, errbuf, errsz) ||
        opt_string(root, "error", &error, errbuf, errsz) ||
        opt_string(root, "idempotencyKey", &key, errbuf, errsz))
        return NULL;
    if (!status || !one_of(status, statuses)) {
        snprintf(errbuf, errsz, "status must be one of sent, delivered, read, played, error");
        return NULL;
    }
    /* The bridge names the idempotencyKey of a message we sent, so the receipt
     * finds its message by our id even when it overtakes the sender's record
     * of WhatsApp's id (the id is derived from the key, as in the send API). */
    char id[37];
    if (key && (!*key || strlen(key) > WA_KEY_MAX)) {
        snprintf(errbuf, errsz, "idempotencyKey must be 1 to %d bytes", WA_KEY_MAX);
        return NULL;
    }
    if (key) wa_outbound_id(key, id);
    /* WhatsApp's "played" (a voice note heard) is "read" in our lifecycle; "error" is "failed". */
    const char *ours = strcmp(status, "played") == 0  ? "read"
                       : strcmp(status, "error") == 0 ? "failed"
                                                      : status;
    json_t *ev = json_pack(
        "{s:i, s:s, s:s, s:s*, s:s, s:s, s:s, s:I, s:I, s:{s:s, s:s?}, s:s?, s:O}", "v",
        WA_EVENT_VERSION, "provider", "baileys", "provider_message_id", x->pmid, "message_id",
        key ? id : NULL, "status", ours, "provider_status", status, "source", "receipt",
        "timestamp_ms", (json_int_t)x->ts_ms, "received_ms", (json_int_t)now_ms, "contact", "phone",
        x->phone, "lid", x->lid, "error_text", error, "raw", root);
    char *s = ev ? json_dumps(ev, JSON_COMPACT) : NULL;
    json_decref(ev);
    return s;
}

/* The seed's generic "media" type, made concrete by what the file says it is. */
static const char *media_type(const char *mime)
{
    if (!mime) return "document";
    if (strncmp(mime, "image/", 6) == 0) return "image";
    if (strncmp(mime, "video/", 6) == 0) return "video";
    if (strncmp(mime, "audio/", 6) == 0) return "audio";
    return "document";
}

/* {url, mimetype?, size?}; or, when the bridge could not get the file, {url: null,
 * unavailable: why}, so the message still reaches the CRM with its text and caption. */
static int media_ref(json_t *media, struct wa_media_ref *out, char *errbuf, size_t errsz)
{
    *out = (struct wa_media_ref){.size = -1};
    if (!json_is_object(media)) {
        snprintf(errbuf, errsz, "media must be an object {url, mimetype, size}");
        return -1;
    }
    json_t *url = json_object_get(media, "url"), *size = json_object_get(media, "size");
    const char *why = NULL;
    if (opt_string(media, "mimetype", &out->mime, errbuf, errsz) ||
        opt_string(media, "unavailable", &why, errbuf, errsz))
        return -1;
    if (out->mime && !*out->mime) out->mime = NULL;
    if (size && !json_is_null(size)) {
        if (!json_is_integer(size) || json_integer_value(size) < -1) {
            snprintf(errbuf, errsz, "media.size must be a byte count");
            return -1;
        }
        out->size = json_integer_value(size);
    }
    if (why && (!*why || strlen(why) > 500)) {
        snprintf(errbuf, errsz, "media.unavailable must be a reason of 1 to 500 bytes");
        return -1;
    }
    if (url && !json_is_null(url)) {
        const char *u = json_string_value(url);
        if (!u || (strncmp(u, "http://", 7) != 0 && strncmp(u, "https://", 8) != 0)) {
            snprintf(errbuf, errsz, "media.url must be http(s)");
            return -1;
        }
        if (why) {
            snprintf(errbuf, errsz, "media has a url and a reason it is unavailable: give one");
            return -1;
        }
        out->url = u;
    } else if (!why) {
        snprintf(errbuf, errsz,
                 "media.url is required, or media.unavailable says why there is none");
        return -1;
    }
    out->unavailable = why;
    return 0;
}

static char *message_event(json_t *root, const struct ids *x, int64_t now_ms, char *errbuf,
                           size_t errsz)
{
    struct wa_inbound in;
    memset(&in, 0, sizeof in);
    const char *type = NULL, *text = NULL, *push = NULL;
    if (opt_string(root, "type", &type, errbuf, errsz) ||
        opt_string(root, "text", &text, errbuf, errsz) ||
        opt_string(root, "pushName", &push, errbuf, errsz))
        return NULL;
    if (!type || !one_of(type, message_types)) {
        snprintf(errbuf, errsz,
                 "type must be one of text, image, audio, video, document, sticker,"
                 " location, contact, reaction, button, unknown, media");
        return NULL;
    }
    json_t *fm = json_object_get(root, "fromMe");
    if (fm && json_is_true(fm)) {
        snprintf(errbuf, errsz, "fromMe messages are our own sends, not inbound");
        return NULL;
    }
    json_t *media = json_object_get(root, "media");
    if (media && !json_is_null(media)) {
        if (media_ref(media, &in.media[0], errbuf, errsz) < 0) return NULL;
        in.nmedia = 1;
    }
    if (strcmp(type, "media") == 0) type = media_type(in.nmedia ? in.media[0].mime : NULL);
    char *lat = NULL, *lon = NULL;
    json_t *loc = json_object_get(root, "location");
    if (loc && !json_is_null(loc)) {
        lat = number_text(json_object_get(loc, "latitude"));
        lon = number_text(json_object_get(loc, "longitude"));
        if (!json_is_object(loc) || !lat || !lon) {
            free(lat);
            free(lon);
            snprintf(errbuf, errsz, "location must have latitude and longitude");
            return NULL;
        }
        in.latitude = lat;
        in.longitude = lon;
        opt_string(loc, "name", &in.label, errbuf, errsz);
        opt_string(loc, "address", &in.address, errbuf, errsz);
    }
    in.provider = "baileys";
    in.provider_message_id = x->pmid;
    in.phone = x->phone;
    in.wa_id = x->phone + 1;
    in.lid = x->lid;
    in.to = x->self[0] ? x->self : NULL;
    in.profile_name = push && *push ? push : NULL;
    in.type = type;
    if (text) {
        in.text = text;
        in.text_len = strlen(text);
    }
    in.timestamp_ms = x->ts_ms;
    in.received_ms = now_ms;
    in.raw = root;
    size_t len;
    char *s = wa_inbound_encode(&in, &len);
    free(lat);
    free(lon);
    if (!s) snprintf(errbuf, errsz, "cannot encode the message");
    return s;
}

int ing_baileys_normalize(const char *body, size_t len, int64_t now_ms, char **event,
                          enum ing_baileys_kind *kind, char *key, char *errbuf, size_t errsz)
{
    *event = NULL;
    json_t *root = wa_json_load(body, len, errbuf, errsz);
    if (!root) return -1;
    if (!json_is_object(root)) {
        json_decref(root);
        snprintf(errbuf, errsz, "the body must be a JSON object");
        return -1;
    }
    struct ids x;
    memset(&x, 0, sizeof x);
    if (common_fields(root, now_ms, &x, errbuf, errsz) == 0) {
        int status = strcmp(x.event, "status") == 0;
        *kind = status ? ING_BAILEYS_STATUS : ING_BAILEYS_MESSAGE;
        *event = status ? status_event(root, &x, now_ms, errbuf, errsz)
                        : message_event(root, &x, now_ms, errbuf, errsz);
        strcpy(key, x.phone + 1);
    }
    free(x.pmid);
    json_decref(root);
    return *event ? 0 : -1;
}
