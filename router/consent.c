/* consent.c - stop and start keywords, the Twilio failures that mean "no more", and the consent
 * events (consent.h); pure, table-tested in tests/unit/test_consent.c. */
#include "consent.h"

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* One code point of s[0..len) and its length in *n, or -1 when the bytes are not UTF-8
 * (overlong forms and surrogates included). */
static int32_t decode(const unsigned char *s, size_t len, size_t *n)
{
    unsigned char c = s[0];
    int32_t cp, min;
    size_t more;
    if (c < 0x80) {
        *n = 1;
        return c;
    }
    if (c >= 0xC2 && c <= 0xDF) {
        cp = c & 0x1F, more = 1, min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
        cp = c & 0x0F, more = 2, min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
        cp = c & 0x07, more = 3, min = 0x10000;
    } else {
        return -1;
    }
    if (len <= more) return -1;
    for (size_t i = 1; i <= more; i++) {
        if ((s[i] & 0xC0) != 0x80) return -1;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return -1;
    *n = more + 1;
    return cp;
}

/* Writes cp as UTF-8; returns its length (1 to 4). */
static size_t encode(int32_t cp, char *out)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* What may surround a keyword: Unicode's White_Space, and the invisible marks that keyboards
 * and apps add (zero-width spaces and joiners, the direction marks around Hebrew and Arabic
 * text, the byte-order mark). */
static int blank(int32_t c)
{
    return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x061C ||
           c == 0x1680 || c == 0x180E || (c >= 0x2000 && c <= 0x200F) || c == 0x2028 ||
           c == 0x2029 || (c >= 0x202A && c <= 0x202F) || c == 0x205F || c == 0x2060 ||
           (c >= 0x2066 && c <= 0x2069) || c == 0x3000 || c == 0xFEFF;
}

/* Hebrew vowel points and cantillation marks: "הָסֵר" is "הסר" to whoever typed it. */
static int hebrew_point(int32_t c)
{
    return (c >= 0x0591 && c <= 0x05BD) || c == 0x05BF || c == 0x05C1 || c == 0x05C2 ||
           c == 0x05C4 || c == 0x05C5 || c == 0x05C7;
}

/* Lower case for the scripts that have case and whose keywords an operator may configure:
 * Latin (ASCII, Latin-1, Latin Extended-A), basic Greek and Cyrillic. Hebrew has no case. */
static int32_t fold(int32_t c)
{
    if (c >= 'A' && c <= 'Z') return c + 32;
    if (c >= 0xC0 && c <= 0xDE && c != 0xD7) return c + 32;
    /* Latin Extended-A pairs: upper case even and lower odd, except in two runs. */
    if ((c >= 0x100 && c <= 0x12F) || (c >= 0x132 && c <= 0x137) || (c >= 0x14A && c <= 0x177))
        return c | 1;
    if ((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E)) return c + (c & 1);
    if (c == 0x178) return 0xFF;
    if (c >= 0x391 && c <= 0x3A9 && c != 0x3A2) return c + 32;
    if (c >= 0x410 && c <= 0x42F) return c + 32;
    if (c >= 0x400 && c <= 0x40F) return c + 80;
    return c;
}

/* The bytes of text between the blanks around it: [*start, *end). -1 when not UTF-8. */
static int trim(const char *text, size_t len, size_t *start, size_t *end)
{
    const unsigned char *s = (const unsigned char *)text;
    size_t i = 0, n;
    *start = *end = 0;
    int seen = 0;
    while (i < len) {
        int32_t c = decode(s + i, len - i, &n);
        if (c < 0) return -1;
        if (!blank(c)) {
            if (!seen) *start = i;
            seen = 1;
            *end = i + n;
        }
        i += n;
    }
    return 0;
}

/* text trimmed and folded into out (NUL-terminated). Returns its length, or -1 when text is
 * not UTF-8 or does not fit: no keyword is that long. */
static int normalize(const char *text, size_t len, char *out, size_t outsz)
{
    size_t start, end, n, o = 0;
    if (trim(text, len, &start, &end) < 0) return -1;
    const unsigned char *s = (const unsigned char *)text;
    for (size_t i = start; i < end; i += n) {
        int32_t c = decode(s + i, end - i, &n);
        if (c == 0) return -1; /* no keyword has a NUL, and strcmp would stop at it */
        if (hebrew_point(c)) continue;
        char buf[4];
        size_t k = encode(fold(c), buf);
        if (o + k >= outsz) return -1;
        memcpy(out + o, buf, k);
        o += k;
    }
    out[o] = '\0';
    return (int)o;
}

static int load_list(struct rtr_keywords *kw, const char *name, const char *csv,
                     enum rtr_consent action, char *err, size_t errsz)
{
    int entry = 0;
    for (const char *p = csv ? csv : ""; *p;) {
        size_t len = strcspn(p, ",");
        size_t start, end;
        entry++;
        char folded[RTR_KEYWORD_MAX];
        if (trim(p, len, &start, &end) < 0) {
            snprintf(err, errsz, "%s: entry %d is not UTF-8", name, entry);
            return -1;
        }
        if (start == end) {
            snprintf(err, errsz, "%s: entry %d is empty", name, entry);
            return -1;
        }
        if (end - start >= RTR_KEYWORD_MAX) {
            snprintf(err, errsz, "%s: \"%.*s\" is longer than %d bytes", name, (int)(end - start),
                     p + start, RTR_KEYWORD_MAX - 1);
            return -1;
        }
        if (normalize(p + start, end - start, folded, sizeof folded) <= 0) {
            snprintf(err, errsz, "%s: entry %d has nothing but vowel points", name, entry);
            return -1;
        }
        int dup = 0;
        for (int i = 0; i < kw->n && !dup; i++) {
            if (strcmp(kw->w[i].folded, folded) != 0) continue;
            if (kw->w[i].action != action) {
                snprintf(err, errsz, "%s: \"%.*s\" is in both OPTOUT_KEYWORDS and OPTIN_KEYWORDS",
                         name, (int)(end - start), p + start);
                return -1;
            }
            dup = 1; /* the same word twice in one list: once is enough */
        }
        if (!dup) {
            if (kw->n == RTR_KEYWORDS_MAX) {
                snprintf(err, errsz, "%s: more than %d keywords in all", name, RTR_KEYWORDS_MAX);
                return -1;
            }
            snprintf(kw->w[kw->n].folded, RTR_KEYWORD_MAX, "%s", folded);
            snprintf(kw->w[kw->n].shown, RTR_KEYWORD_MAX, "%.*s", (int)(end - start), p + start);
            kw->w[kw->n].action = action;
            kw->n++;
        }
        p += len + (p[len] == ',');
    }
    return 0;
}

int rtr_keywords_load(struct rtr_keywords *kw, const char *optout, const char *optin, char *err,
                      size_t errsz)
{
    memset(kw, 0, sizeof *kw);
    if (load_list(kw, "OPTOUT_KEYWORDS", optout, RTR_CONSENT_OPTOUT, err, errsz) < 0) return -1;
    return load_list(kw, "OPTIN_KEYWORDS", optin, RTR_CONSENT_OPTIN, err, errsz);
}

enum rtr_consent rtr_consent_match(const struct rtr_keywords *kw, const char *text, size_t len,
                                   const char **keyword)
{
    char folded[RTR_KEYWORD_MAX];
    *keyword = NULL;
    if (!text || normalize(text, len, folded, sizeof folded) <= 0) return RTR_CONSENT_NONE;
    for (int i = 0; i < kw->n; i++) {
        if (strcmp(kw->w[i].folded, folded) == 0) {
            *keyword = kw->w[i].shown;
            return kw->w[i].action;
        }
    }
    return RTR_CONSENT_NONE;
}

int64_t rtr_confirmation_of(const char *key)
{
    size_t n = strlen(RTR_CONFIRMATION_KEY);
    if (!key || strncmp(key, RTR_CONFIRMATION_KEY, n) != 0) return 0;
    const char *d = key + n;
    size_t len = strspn(d, "0123456789");
    if (len == 0 || len > 18 || d[len] != '\0' || d[0] == '0') return 0;
    int64_t id = 0;
    for (size_t i = 0; i < len; i++)
        id = id * 10 + (d[i] - '0');
    return id;
}

char *rtr_consent_event(enum rtr_consent action, const char *provider, const char *channel,
                        const char *source, const char *detail, int64_t at_ms)
{
    int keyword = strcmp(source, "keyword") == 0;
    json_t *e = json_pack("{s:i, s:s, s:s, s:s, s:I}", "v", 1, "type",
                          action == RTR_CONSENT_OPTOUT ? "contact.optout" : "contact.optin",
                          "provider", provider, "source", source, "at_ms", (json_int_t)at_ms);
    if (channel) json_object_set_new(e, "channel", json_string(channel));
    if (detail) json_object_set_new(e, keyword ? "keyword" : "error_code", json_string(detail));
    char *out = json_dumps(e, JSON_COMPACT);
    json_decref(e);
    return out;
}

enum rtr_refusal rtr_refusal_of(const char *provider, const char *status, const char *error_code)
{
    if (!provider || !status || !error_code || strcmp(provider, "twilio") != 0) {
        return RTR_REFUSED_NOTHING;
    }
    if (strcmp(status, "failed") != 0 && strcmp(status, "undelivered") != 0) {
        return RTR_REFUSED_NOTHING;
    }
    if (strcmp(error_code, "63033") == 0) return RTR_REFUSED_ALL;
    if (strcmp(error_code, "63049") == 0) return RTR_REFUSED_TEMPLATE;
    return RTR_REFUSED_NOTHING;
}
