/* parked_normalize.c - the bridge's report of an outbox entry it parked in outbox/rejected/ (an
 * answer from ingress that no retry can change, or an entry it could not read) to the wa.error
 * record that tells the operator, payload included; pure, table-tested and fuzzed. */
#include "ingress.h"
#include "wa_phone.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FILE_MAX 64        /* the bridge's names are 25 bytes: <20 digits>.json */
#define KIND_MAX 32        /* "message", "status", "unreadable" */
#define CHAT_MAX 128       /* a JID, as remoteJid is held to in baileys_normalize.c */
#define RESPONSE_MAX 16384 /* the bridge keeps 4096 characters of ingress's answer */
#define REASON_MAX 1000
#define STAMP_MAX 64
#define EXCERPT_MAX 300               /* bytes of ingress's answer repeated in the human text */
#define PAYLOAD_BYTES_MAX (1LL << 40) /* a sanity bound: no outbox file is a terabyte */

struct parked {
    const char *file, *kind, *chat, *response, *reason, *rejected_at, *payload;
    size_t payload_len;
    json_int_t status; /* 0 when the bridge could not even send the entry */
    json_int_t payload_bytes;
    int truncated;
};

/* A string field of at most max bytes; absent and null are the same. */
static int str_field(json_t *root, const char *k, int required, size_t max, const char **out,
                     size_t *len, char *errbuf, size_t errsz)
{
    json_t *v = json_object_get(root, k);
    *out = NULL;
    if (!v || json_is_null(v)) {
        if (!required) return 0;
        snprintf(errbuf, errsz, "%s is required", k);
        return -1;
    }
    if (!json_is_string(v) || json_string_length(v) > max) {
        if (max == SIZE_MAX)
            snprintf(errbuf, errsz, "%s must be a string", k);
        else
            snprintf(errbuf, errsz, "%s must be a string of at most %zu bytes", k, max);
        return -1;
    }
    *out = json_string_value(v);
    if (len) *len = json_string_length(v);
    return 0;
}

/* A file name in rejected/, never a path: it is echoed to operators, who will open it. */
static int file_name_ok(const char *s)
{
    if (!*s || *s == '.') return 0;
    for (; *s; s++)
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
              *s == '.' || *s == '_' || *s == '-'))
            return 0;
    return 1;
}

static int parse(json_t *root, struct parked *p, char *errbuf, size_t errsz)
{
    memset(p, 0, sizeof *p);
    if (str_field(root, "file", 1, FILE_MAX, &p->file, NULL, errbuf, errsz) ||
        str_field(root, "kind", 1, KIND_MAX, &p->kind, NULL, errbuf, errsz) ||
        str_field(root, "chat", 0, CHAT_MAX, &p->chat, NULL, errbuf, errsz) ||
        str_field(root, "response", 0, RESPONSE_MAX, &p->response, NULL, errbuf, errsz) ||
        str_field(root, "reason", 0, REASON_MAX, &p->reason, NULL, errbuf, errsz) ||
        str_field(root, "rejectedAt", 0, STAMP_MAX, &p->rejected_at, NULL, errbuf, errsz) ||
        str_field(root, "payload", 1, SIZE_MAX, &p->payload, &p->payload_len, errbuf, errsz))
        return -1;
    if (!file_name_ok(p->file)) {
        snprintf(errbuf, errsz, "file must be a file name (letters, digits, '.', '_', '-')");
        return -1;
    }
    if (!*p->kind) {
        snprintf(errbuf, errsz, "kind must not be empty");
        return -1;
    }
    json_t *st = json_object_get(root, "status");
    if (st && !json_is_null(st)) {
        /* Only an answer the bridge parks for: a 4xx. Anything else is retried, never parked. */
        if (!json_is_integer(st) || json_integer_value(st) < 400 || json_integer_value(st) > 499) {
            snprintf(errbuf, errsz, "status must be ingress's 4xx answer (400 to 499)");
            return -1;
        }
        p->status = json_integer_value(st);
    }
    if (!p->status && !p->reason) {
        snprintf(errbuf, errsz, "status or reason is required: why the entry was parked");
        return -1;
    }
    json_t *pb = json_object_get(root, "payloadBytes");
    if (!json_is_integer(pb) || json_integer_value(pb) < 0 ||
        json_integer_value(pb) > PAYLOAD_BYTES_MAX) {
        snprintf(errbuf, errsz, "payloadBytes must be the whole payload's size in bytes");
        return -1;
    }
    p->payload_bytes = json_integer_value(pb);
    json_t *tr = json_object_get(root, "truncated");
    if (!json_is_boolean(tr)) {
        snprintf(errbuf, errsz, "truncated must be true or false");
        return -1;
    }
    p->truncated = json_is_true(tr);
    /* The copy is either the whole payload or a part of it, and says which. */
    if (p->truncated ? p->payload_bytes <= (json_int_t)p->payload_len
                     : p->payload_bytes != (json_int_t)p->payload_len) {
        snprintf(errbuf, errsz,
                 p->truncated ? "truncated: payloadBytes must be larger than the payload sent"
                              : "payloadBytes must be the payload's size when it is not truncated");
        return -1;
    }
    return 0;
}

/* The contact, when the (whole) payload names one as ingress would: phone, else the JID's user. */
static int payload_phone(const struct parked *p, char *phone)
{
    if (p->truncated) return -1;
    /* NUL allowed: a "\u0000" in a text is one of the things ingress refuses a message for. */
    json_t *o = json_loadb(p->payload, p->payload_len, JSON_ALLOW_NUL, NULL);
    int rc = -1;
    if (json_is_object(o)) {
        json_t *ph = json_object_get(o, "phone"), *jid = json_object_get(o, "remoteJid");
        if (json_is_string(ph)) rc = wa_phone_e164(json_string_value(ph), phone, 17);
        if (rc < 0 && json_is_string(jid)) rc = ing_phone_from_jid(json_string_value(jid), phone);
    }
    json_decref(o);
    return rc;
}

/* At most max bytes of s, ending on a character boundary (s is UTF-8: it came through JSON). */
static int utf8_prefix(const char *s, int max)
{
    int n = (int)strlen(s);
    if (n <= max) return n;
    n = max;
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
        n--;
    return n;
}

/* One line an operator can act on: what, where it is kept, and why it will not go through. */
static char *human_text(const struct parked *p)
{
    struct wa_buf b = {0};
    if (p->status) {
        wa_buf_appendf(&b, "the bridge parked a %s", p->kind);
        if (p->chat) wa_buf_appendf(&b, " of chat %s", p->chat);
        wa_buf_appendf(&b, " in outbox/rejected/%s: ingress answered %lld", p->file,
                       (long long)p->status);
        if (p->response && *p->response)
            wa_buf_appendf(&b, " %.*s%s", utf8_prefix(p->response, EXCERPT_MAX), p->response,
                           (int)strlen(p->response) > EXCERPT_MAX ? "…" : "");
        wa_buf_appendf(&b, "; retrying cannot change that, so nothing of it was stored");
    } else {
        wa_buf_appendf(&b,
                       "the bridge could not read an outbox entry (%s) and parked it in "
                       "outbox/rejected/%s",
                       p->reason, p->file);
    }
    if (p->truncated)
        wa_buf_appendf(&b,
                       "; payload holds its first %zu of %lld bytes, the whole entry stays in "
                       "the bridge's outbox/rejected/%s",
                       p->payload_len, (long long)p->payload_bytes, p->file);
    wa_buf_append(&b, "", 1);
    return b.data;
}

static json_t *details(const struct parked *p, const char *phone)
{
    json_t *d = json_pack("{s:s, s:s, s:I, s:b}", "file", p->file, "kind", p->kind, "payload_bytes",
                          p->payload_bytes, "truncated", p->truncated);
    if (p->chat) json_object_set_new(d, "chat", json_string(p->chat));
    if (p->status) json_object_set_new(d, "status", json_integer(p->status));
    if (p->response) json_object_set_new(d, "response", json_string(p->response));
    if (p->reason) json_object_set_new(d, "reason", json_string(p->reason));
    if (p->rejected_at) json_object_set_new(d, "rejected_at", json_string(p->rejected_at));
    json_t *extra = json_pack("{s:o}", "parked", d);
    if (phone) json_object_set_new(extra, "contact", json_pack("{s:s}", "phone", phone));
    return extra;
}

int ing_parked_normalize(const char *body, size_t len, char **record, char *key, char *errbuf,
                         size_t errsz)
{
    *record = NULL;
    json_t *root = wa_json_load(body, len, errbuf, errsz);
    if (!root) return -1;
    struct parked p;
    if (!json_is_object(root)) {
        snprintf(errbuf, errsz, "the body must be a JSON object");
    } else if (parse(root, &p, errbuf, errsz) == 0) {
        char phone[17];
        int has_phone = payload_phone(&p, phone) == 0;
        char *text = human_text(&p);
        json_t *extra = details(&p, has_phone ? phone : NULL);
        *record = wa_error_encode_with("baileys-bridge",
                                       p.status ? "rejected_by_ingress" : "unreadable_entry", text,
                                       0, "baileys", NULL, 0, 0, p.payload, p.payload_len, extra);
        json_decref(extra);
        free(text);
        /* The contact's partition, as every record about a contact; else the file's name. */
        snprintf(key, ING_PARKED_KEY_MAX, "%s", has_phone ? phone + 1 : p.file);
        if (!*record) snprintf(errbuf, errsz, "cannot encode the report");
    }
    json_decref(root);
    return *record ? 0 : -1;
}
