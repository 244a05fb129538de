/* wa_form.c - form body decoding and UTF-8 checks; pure, no I/O. */
#include "wa_form.h"
#include "wa_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

char *wa_form_decode(const char *s, size_t len, int plus_is_space, size_t *out_len)
{
    char *out = wa_xmalloc(len + 1);
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '+' && plus_is_space) {
            out[o++] = ' ';
        } else if (c == '%' && i + 2 < len && hexval((unsigned char)s[i + 1]) >= 0 &&
                   hexval((unsigned char)s[i + 2]) >= 0) {
            out[o++] =
                (char)(hexval((unsigned char)s[i + 1]) * 16 + hexval((unsigned char)s[i + 2]));
            i += 2;
        } else {
            out[o++] = (char)c;
        }
    }
    out[o] = '\0';
    if (out_len) *out_len = o;
    return out;
}

int wa_form_parse(const char *body, size_t len, struct wa_form *out, char *errbuf, size_t errsz)
{
    out->pairs = NULL;
    out->n = 0;
    size_t cap = 0;
    size_t i = 0;
    while (i < len) {
        size_t start = i;
        while (i < len && body[i] != '&')
            i++;
        size_t end = i;
        i++;                        /* skip '&' */
        if (end == start) continue; /* "a=1&&b=2" has an empty segment: nothing to keep */
        if (out->n == WA_FORM_MAX_PAIRS) {
            snprintf(errbuf, errsz, "more than %d form parameters", WA_FORM_MAX_PAIRS);
            wa_form_free(out);
            return -1;
        }
        const char *eq = memchr(body + start, '=', end - start);
        size_t klen = eq ? (size_t)(eq - (body + start)) : end - start;
        if (out->n == cap) {
            cap = cap ? cap * 2 : 32;
            out->pairs = wa_xrealloc(out->pairs, cap * sizeof *out->pairs);
        }
        struct wa_pair *p = &out->pairs[out->n++];
        p->key = wa_form_decode(body + start, klen, 1, &p->key_len);
        if (eq)
            p->value = wa_form_decode(eq + 1, end - start - klen - 1, 1, &p->value_len);
        else
            p->value = wa_form_decode("", 0, 1, &p->value_len);
    }
    return 0;
}

void wa_form_free(struct wa_form *f)
{
    for (size_t i = 0; i < f->n; i++) {
        free(f->pairs[i].key);
        free(f->pairs[i].value);
    }
    free(f->pairs);
    f->pairs = NULL;
    f->n = 0;
}

const struct wa_pair *wa_form_find(const struct wa_form *f, const char *key)
{
    size_t kl = strlen(key);
    for (size_t i = 0; i < f->n; i++)
        if (f->pairs[i].key_len == kl && memcmp(f->pairs[i].key, key, kl) == 0) return &f->pairs[i];
    return NULL;
}

const char *wa_form_get(const struct wa_form *f, const char *key)
{
    const struct wa_pair *p = wa_form_find(f, key);
    return p ? p->value : NULL;
}

/* Length of the valid UTF-8 sequence at s, or 0 when it is not one. */
static size_t utf8_seq(const unsigned char *s, size_t len)
{
    unsigned char c = s[0];
    if (c < 0x80) return 1;
    size_t n;
    unsigned cp;
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
        cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (len < n) return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if (n == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) return 0;
    if (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) return 0;
    return n;
}

int wa_text_clean(const char *s, size_t len)
{
    return !memchr(s, '\0', len) && wa_utf8_valid(s, len);
}

int wa_utf8_valid(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        size_t n = utf8_seq(p + i, len - i);
        if (!n) return 0;
        i += n;
    }
    return 1;
}

char *wa_utf8_sanitize(const char *s, size_t len, size_t *out_len)
{
    const unsigned char *p = (const unsigned char *)s;
    char *out = wa_xmalloc(len * 3 + 1); /* each bad byte becomes 3 bytes at most */
    size_t o = 0, i = 0;
    while (i < len) {
        size_t n = p[i] ? utf8_seq(p + i, len - i) : 0;
        if (n) {
            memcpy(out + o, p + i, n);
            o += n;
            i += n;
        } else {
            memcpy(out + o, "\xEF\xBF\xBD", 3);
            o += 3;
            i++;
        }
    }
    out[o] = '\0';
    *out_len = o;
    return out;
}

void wa_utf8_copy(char *dst, size_t dstsz, const char *src)
{
    if (!dstsz) return;
    if (!src) src = "";
    size_t n;
    char *clean = wa_utf8_sanitize(src, strlen(src), &n);
    size_t len = n < dstsz - 1 ? n : dstsz - 1;
    /* Never half a character: back up over continuation bytes to where one starts. */
    if (len < n)
        while (len > 0 && ((unsigned char)clean[len] & 0xC0) == 0x80)
            len--;
    memcpy(dst, clean, len);
    dst[len] = '\0';
    free(clean);
}
