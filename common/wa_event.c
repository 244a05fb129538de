/* wa_event.c - event JSON encoding and validated decoding; pure. */
#include "wa_event.h"
#include "wa_form.h"
#include "wa_util.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

json_t *wa_json_load(const char *buf, size_t len, char *errbuf, size_t errsz)
{
    json_error_t je;
    json_t *root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
    if (!root)
        snprintf(errbuf, errsz, "invalid JSON at line %d column %d: %s", je.line, je.column,
                 je.text);
    return root;
}

static int put_str(json_t *o, const char *k, const char *v)
{
    if (!v) return 0;
    json_t *s = json_string(v);
    if (!s) return -1; /* not UTF-8 */
    return json_object_set_new(o, k, s);
}

char *wa_inbound_encode(const struct wa_inbound *in, size_t *len)
{
    json_t *o = json_object();
    json_t *contact = json_object();
    int bad = 0;
    json_object_set_new(o, "v", json_integer(WA_EVENT_VERSION));
    bad |= put_str(o, "provider", in->provider);
    bad |= put_str(o, "provider_message_id", in->provider_message_id);
    bad |= put_str(o, "account", in->account);
    bad |= put_str(contact, "phone", in->phone);
    bad |= put_str(contact, "wa_id", in->wa_id);
    bad |= put_str(contact, "lid", in->lid);
    bad |= put_str(contact, "profile_name", in->profile_name);
    json_object_set_new(o, "contact", contact);
    bad |= put_str(o, "to", in->to);
    bad |= put_str(o, "type", in->type);
    if (in->text) {
        json_t *t = json_stringn(in->text, in->text_len);
        if (!t)
            bad = 1;
        else
            json_object_set_new(o, "text", t);
    }
    json_object_set_new(o, "timestamp_ms", json_integer(in->timestamp_ms));
    json_object_set_new(o, "received_ms", json_integer(in->received_ms));
    json_t *media = json_array();
    for (size_t i = 0; i < in->nmedia; i++) {
        json_t *m = json_object();
        bad |= put_str(m, "url", in->media[i].url);
        bad |= put_str(m, "mime", in->media[i].mime);
        if (in->media[i].size >= 0) json_object_set_new(m, "size", json_integer(in->media[i].size));
        bad |= put_str(m, "unavailable", in->media[i].unavailable);
        bad |= !in->media[i].url == !in->media[i].unavailable; /* exactly one of them */
        json_array_append_new(media, m);
    }
    json_object_set_new(o, "media", media);
    if (in->button_text || in->button_payload) {
        json_t *b = json_object();
        bad |= put_str(b, "text", in->button_text);
        bad |= put_str(b, "payload", in->button_payload);
        json_object_set_new(o, "button", b);
    }
    if (in->latitude && in->longitude) {
        json_t *l = json_object();
        bad |= put_str(l, "latitude", in->latitude);
        bad |= put_str(l, "longitude", in->longitude);
        bad |= put_str(l, "address", in->address);
        bad |= put_str(l, "label", in->label);
        json_object_set_new(o, "location", l);
    }
    bad |= put_str(o, "reply_to", in->reply_to);
    if (in->raw) json_object_set(o, "raw", in->raw);
    char *s = NULL;
    if (!bad) s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (s && len) *len = strlen(s);
    return s;
}

static const char *opt_str(json_t *o, const char *k, int *bad, char *errbuf, size_t errsz)
{
    json_t *v = json_object_get(o, k);
    if (!v || json_is_null(v)) return NULL;
    if (!json_is_string(v)) {
        snprintf(errbuf, errsz, "field %s must be a string", k);
        *bad = 1;
        return NULL;
    }
    return json_string_value(v);
}

static int one_of(const char *v, const char *const *words)
{
    for (; *words; words++)
        if (strcmp(v, *words) == 0) return 1;
    return 0;
}

json_t *wa_inbound_decode(const char *buf, size_t len, struct wa_inbound *out, char *errbuf,
                          size_t errsz)
{
    static const char *const providers[] = {"twilio", "baileys", NULL};
    memset(out, 0, sizeof *out);
    json_t *root = wa_json_load(buf, len, errbuf, errsz);
    if (!root) return NULL;
    json_error_t je;
    json_t *contact = NULL, *media = NULL;
    json_int_t v = 0, ts = 0, rcv = 0;
    const char *provider = NULL, *pmid = NULL, *type = NULL;
    if (json_unpack_ex(root, &je, 0, "{s:I, s:s, s:s, s:s, s:o, s?I, s?I, s?o}", "v", &v,
                       "provider", &provider, "provider_message_id", &pmid, "type", &type,
                       "contact", &contact, "timestamp_ms", &ts, "received_ms", &rcv, "media",
                       &media) != 0) {
        snprintf(errbuf, errsz, "%s", je.text);
        goto bad;
    }
    if (v != WA_EVENT_VERSION) {
        snprintf(errbuf, errsz, "unsupported event version %lld", (long long)v);
        goto bad;
    }
    if (!one_of(provider, providers)) {
        snprintf(errbuf, errsz, "unknown provider %s", provider);
        goto bad;
    }
    if (!*pmid || !*type) {
        snprintf(errbuf, errsz, "provider_message_id and type must not be empty");
        goto bad;
    }
    if (!json_is_object(contact)) {
        snprintf(errbuf, errsz, "contact must be an object");
        goto bad;
    }
    int badf = 0;
    out->provider = provider;
    out->provider_message_id = pmid;
    out->type = type;
    out->timestamp_ms = ts;
    out->received_ms = rcv;
    out->phone = opt_str(contact, "phone", &badf, errbuf, errsz);
    out->wa_id = opt_str(contact, "wa_id", &badf, errbuf, errsz);
    out->lid = opt_str(contact, "lid", &badf, errbuf, errsz);
    out->profile_name = opt_str(contact, "profile_name", &badf, errbuf, errsz);
    out->account = opt_str(root, "account", &badf, errbuf, errsz);
    out->to = opt_str(root, "to", &badf, errbuf, errsz);
    out->reply_to = opt_str(root, "reply_to", &badf, errbuf, errsz);
    if (badf) goto bad;
    if (!out->phone || out->phone[0] != '+' || strlen(out->phone) < 9 || strlen(out->phone) > 16) {
        snprintf(errbuf, errsz, "contact.phone must be E.164 (+ and 8 to 15 digits)");
        goto bad;
    }
    for (const char *p = out->phone + 1; *p; p++)
        if (*p < '0' || *p > '9') {
            snprintf(errbuf, errsz, "contact.phone must be E.164 (+ and 8 to 15 digits)");
            goto bad;
        }
    json_t *text = json_object_get(root, "text");
    if (text && !json_is_null(text)) {
        if (!json_is_string(text)) {
            snprintf(errbuf, errsz, "field text must be a string");
            goto bad;
        }
        out->text = json_string_value(text);
        out->text_len = json_string_length(text);
    }
    if (media) {
        if (!json_is_array(media) || json_array_size(media) > WA_MAX_MEDIA) {
            snprintf(errbuf, errsz, "media must be an array of at most %d items", WA_MAX_MEDIA);
            goto bad;
        }
        size_t i;
        json_t *m;
        json_array_foreach(media, i, m)
        {
            const char *url = NULL, *mime = NULL, *unavailable = NULL;
            json_int_t size = -1;
            if (json_unpack_ex(m, &je, 0, "{s?s, s?s, s?I, s?s}", "url", &url, "mime", &mime,
                               "size", &size, "unavailable", &unavailable) != 0) {
                snprintf(errbuf, errsz, "media[%zu]: %s", i, je.text);
                goto bad;
            }
            if (!url == !unavailable || (unavailable && !*unavailable)) {
                snprintf(errbuf, errsz, "media[%zu]: needs a url or a reason it is unavailable", i);
                goto bad;
            }
            out->media[i] = (struct wa_media_ref){url, mime, size, unavailable};
        }
        out->nmedia = json_array_size(media);
    }
    out->raw = json_object_get(root, "raw");
    return root;
bad:
    json_decref(root);
    return NULL;
}

const char *wa_event_key(const char *phone)
{
    return phone && phone[0] == '+' ? phone + 1 : phone;
}

char *wa_error_encode(const char *stage, const char *code, const char *text, int retryable,
                      const char *provider, const char *topic, int32_t partition, int64_t offset,
                      const char *payload, size_t payload_len)
{
    return wa_error_encode_with(stage, code, text, retryable, provider, topic, partition, offset,
                                payload, payload_len, NULL);
}

char *wa_error_encode_with(const char *stage, const char *code, const char *text, int retryable,
                           const char *provider, const char *topic, int32_t partition,
                           int64_t offset, const char *payload, size_t payload_len, json_t *extra)
{
    json_t *o = json_object();
    /* The caller's fields first: the schema's own fields below always win over them. */
    if (extra) json_object_update(o, extra);
    json_object_set_new(o, "v", json_integer(WA_EVENT_VERSION));
    json_object_set_new(o, "stage", json_string(stage));
    json_object_set_new(o, "code", json_string(code));
    size_t tl;
    char *t = wa_utf8_sanitize(text, strlen(text), &tl);
    json_object_set_new(o, "text", json_stringn(t, tl));
    free(t);
    json_object_set_new(o, "retryable", json_boolean(retryable));
    json_object_set_new(o, "provider", provider ? json_string(provider) : json_null());
    json_object_set_new(o, "at_ms", json_integer(wa_wall_ms()));
    if (topic) {
        json_object_set_new(o, "topic", json_string(topic));
        json_object_set_new(o, "partition", json_integer(partition));
        json_object_set_new(o, "offset", json_integer(offset));
    }
    if (payload) {
        size_t pl;
        char *p = wa_utf8_sanitize(payload, payload_len, &pl);
        json_object_set_new(o, "payload", json_stringn(p, pl));
        free(p);
        if (!wa_utf8_valid(payload, payload_len)) {
            /* Keep the exact bytes too, so nothing is lost to the replacement characters. */
            char *b64 = wa_xmalloc(4 * ((payload_len + 2) / 3) + 1);
            EVP_EncodeBlock((unsigned char *)b64, (const unsigned char *)payload, (int)payload_len);
            json_object_set_new(o, "payload_base64", json_string(b64));
            free(b64);
        }
    }
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return s;
}

static const char *const status_words[] = {"queued",      "sent",    "delivered", "read", "failed",
                                           "undelivered", "unknown", "held",      NULL};

char *wa_status_encode(const struct wa_status *s)
{
    json_t *o = json_object();
    int bad = 0;
    json_object_set_new(o, "v", json_integer(WA_EVENT_VERSION));
    bad |= put_str(o, "provider", s->provider);
    bad |= put_str(o, "provider_message_id", s->provider_message_id);
    bad |= put_str(o, "message_id", s->message_id);
    bad |= put_str(o, "status", s->status);
    bad |= put_str(o, "provider_status", s->provider_status);
    bad |= put_str(o, "error_code", s->error_code);
    bad |= put_str(o, "error_text", s->error_text);
    bad |= put_str(o, "source", s->source);
    bad |= put_str(o, "reason", s->reason);
    if (s->phone) json_object_set_new(o, "contact", json_pack("{s:s}", "phone", s->phone));
    json_object_set_new(o, "timestamp_ms", json_integer(s->timestamp_ms));
    json_object_set_new(o, "received_ms", json_integer(s->received_ms));
    if (s->latency_ms >= 0) json_object_set_new(o, "latency_ms", json_integer(s->latency_ms));
    if (s->attempt > 0) json_object_set_new(o, "attempt", json_integer(s->attempt));
    json_object_set_new(o, "failover", json_boolean(s->failover));
    if (s->raw) json_object_set(o, "raw", s->raw);
    char *out = bad ? NULL : json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return out;
}

json_t *wa_status_decode(const char *buf, size_t len, struct wa_status *out, char *errbuf,
                         size_t errsz)
{
    static const char *const providers[] = {"twilio", "baileys", NULL};
    memset(out, 0, sizeof *out);
    out->latency_ms = -1;
    json_t *root = wa_json_load(buf, len, errbuf, errsz);
    if (!root) return NULL;
    json_error_t je;
    json_int_t v = 0, ts = 0, rcv = 0, lat = -1, attempt = 0;
    int failover = 0;
    json_t *contact = NULL;
    if (json_unpack_ex(root, &je, 0, "{s:I, s:s, s:s, s?I, s?I, s?I, s?I, s?b, s?o}", "v", &v,
                       "provider", &out->provider, "status", &out->status, "timestamp_ms", &ts,
                       "received_ms", &rcv, "latency_ms", &lat, "attempt", &attempt, "failover",
                       &failover, "contact", &contact) != 0) {
        snprintf(errbuf, errsz, "%s", je.text);
        goto bad;
    }
    if (v != WA_EVENT_VERSION) {
        snprintf(errbuf, errsz, "unsupported event version %lld", (long long)v);
        goto bad;
    }
    if (!one_of(out->provider, providers)) {
        snprintf(errbuf, errsz, "unknown provider %s", out->provider);
        goto bad;
    }
    if (!one_of(out->status, status_words)) {
        snprintf(errbuf, errsz, "unknown status %s", out->status);
        goto bad;
    }
    int badf = 0;
    out->provider_message_id = opt_str(root, "provider_message_id", &badf, errbuf, errsz);
    out->message_id = opt_str(root, "message_id", &badf, errbuf, errsz);
    out->provider_status = opt_str(root, "provider_status", &badf, errbuf, errsz);
    out->error_code = opt_str(root, "error_code", &badf, errbuf, errsz);
    out->error_text = opt_str(root, "error_text", &badf, errbuf, errsz);
    out->source = opt_str(root, "source", &badf, errbuf, errsz);
    out->reason = opt_str(root, "reason", &badf, errbuf, errsz);
    if (contact && json_is_object(contact))
        out->phone = opt_str(contact, "phone", &badf, errbuf, errsz);
    if (badf) goto bad;
    if ((!out->provider_message_id || !*out->provider_message_id) && !out->message_id) {
        snprintf(errbuf, errsz, "a status needs provider_message_id or message_id");
        goto bad;
    }
    if (out->message_id && strlen(out->message_id) != 36) {
        snprintf(errbuf, errsz, "message_id must be a UUID");
        goto bad;
    }
    out->timestamp_ms = ts;
    out->received_ms = rcv;
    out->latency_ms = lat;
    out->attempt = (int)attempt;
    out->failover = failover;
    out->raw = json_object_get(root, "raw");
    return root;
bad:
    json_decref(root);
    return NULL;
}
