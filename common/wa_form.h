/* wa_form.h - application/x-www-form-urlencoded bodies, decoded into ordered pairs. */
#ifndef WA_FORM_H
#define WA_FORM_H

#include <stddef.h>

struct wa_pair {
    char *key; /* decoded, NUL-terminated; may hold embedded bytes of any value */
    size_t key_len;
    char *value;
    size_t value_len;
};

struct wa_form {
    struct wa_pair *pairs; /* in body order; repeated keys kept */
    size_t n;
};

/* Upper bound on pairs, so a hostile body cannot make us sort millions of keys. */
#define WA_FORM_MAX_PAIRS 512

/* Decodes a body: '&' separates pairs, '=' key from value, '+' is a space and
 * %XX a byte. A '%' not followed by two hex digits is kept as it is, the way
 * browsers and Twilio's SDKs read it. Returns 0, or -1 with errbuf filled when
 * the body has more than WA_FORM_MAX_PAIRS pairs. Bytes are not checked for
 * UTF-8 here; see wa_utf8_valid(). */
int wa_form_parse(const char *body, size_t len, struct wa_form *out, char *errbuf, size_t errsz);
void wa_form_free(struct wa_form *f);

/* First value of key, or NULL. */
const char *wa_form_get(const struct wa_form *f, const char *key);
/* First value of key with its length, or NULL. */
const struct wa_pair *wa_form_find(const struct wa_form *f, const char *key);

/* Percent-decodes s[0..len) in place rules as above; returns a new NUL-terminated copy. */
char *wa_form_decode(const char *s, size_t len, int plus_is_space, size_t *out_len);

/* 1 when s[0..len) is well-formed UTF-8 (no overlongs, no surrogates, <= U+10FFFF). */
int wa_utf8_valid(const char *s, size_t len);
/* 1 when s is valid UTF-8 without NUL bytes: safe for JSON, C strings and Postgres. */
int wa_text_clean(const char *s, size_t len);
/* Copy with every invalid sequence and every NUL replaced by U+FFFD; sets the new length. */
char *wa_utf8_sanitize(const char *s, size_t len, size_t *out_len);
/* Copies src (NULL: "") into dst as sanitized UTF-8, cut at a character boundary so that it
 * fits dstsz with its NUL: a reason or a label that must stay valid for JSON and Postgres. */
void wa_utf8_copy(char *dst, size_t dstsz, const char *src);

#endif
