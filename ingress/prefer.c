/* prefer.c - the send API's Prefer header (RFC 7240), of which only "wait" is understood. Pure:
 * unit-tested in tests/unit/test_prefer.c and fuzzed in tests/fuzz/fuzz_prefer.c, since the
 * header comes from outside.
 *
 * The grammar (RFC 7240 §2, with RFC 7230's list and word rules):
 *   Prefer     = 1#preference
 *   preference = token [ BWS "=" BWS word ] *( OWS ";" [ OWS parameter ] )
 *   parameter  = token [ BWS "=" BWS word ]
 *   word       = token / quoted-string
 * Preferences the server cannot honour must be ignored, never refused, so nothing here is an
 * error: a wait that cannot be read is simply not applied. */
#include "ingress.h"

#include <string.h>
#include <strings.h>

struct scan {
    const char *p, *end;
};

/* tchar (RFC 7230 §3.2.6). */
static int is_tchar(char c)
{
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return 1;
    return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static int at(const struct scan *s, char c)
{
    return s->p < s->end && *s->p == c;
}

static void skip_ows(struct scan *s)
{
    while (at(s, ' ') || at(s, '\t'))
        s->p++;
}

static size_t token(struct scan *s)
{
    const char *start = s->p;
    while (s->p < s->end && is_tchar(*s->p))
        s->p++;
    return (size_t)(s->p - start);
}

/* Reads a word (token or quoted-string, unescaped) as delta-seconds: its value, capped at cap so
 * that no length of digits overflows; -1 when it is not 1*DIGIT, or not a word at all (an
 * unterminated quote, a control character). Always moves past what it read. */
static long seconds_word(struct scan *s, long cap)
{
    int quoted = at(s, '"');
    if (quoted) s->p++;
    long v = 0;
    size_t n = 0;
    int digits = 1;
    while (s->p < s->end) {
        unsigned char c = (unsigned char)*s->p;
        if (quoted) {
            if (c == '"') break;
            if (c == '\\') { /* quoted-pair: the next octet stands for itself */
                if (++s->p == s->end) return -1;
                c = (unsigned char)*s->p;
            }
            if ((c < 0x20 && c != '\t') || c == 0x7f) return -1;
        } else if (!is_tchar((char)c)) {
            break;
        }
        if (c >= '0' && c <= '9') {
            v = v * 10 + (c - '0');
            if (v > cap) v = cap;
        } else {
            digits = 0;
        }
        n++;
        s->p++;
    }
    if (quoted) {
        if (!at(s, '"')) return -1;
        s->p++;
    }
    return digits && n ? v : -1;
}

/* token [ BWS "=" BWS word ]: the name's extent in *name and *len, the value read as seconds in
 * *value (-1: none, or not seconds). 0, or -1 when it is not one. */
static int name_value(struct scan *s, const char **name, size_t *len, long *value)
{
    *name = s->p;
    *len = token(s);
    *value = -1;
    if (!*len) return -1;
    const char *after = s->p;
    skip_ows(s);
    if (!at(s, '=')) {
        s->p = after; /* no value: leave the blanks to the caller */
        return 0;
    }
    s->p++;
    skip_ows(s);
    const char *word = s->p;
    *value = seconds_word(s, ING_WAIT_MAX_S);
    return s->p == word ? -1 : 0; /* "=" with no word after it */
}

/* One list element, up to its ',' or the end: 0 when well formed, with its name and value. */
static int preference(struct scan *s, const char **name, size_t *len, long *value)
{
    if (name_value(s, name, len, value) < 0) return -1;
    for (;;) {
        skip_ows(s);
        if (!at(s, ';')) break;
        s->p++;
        skip_ows(s);
        const char *pn;
        size_t pl;
        long pv;
        /* "; " with no parameter is allowed; one that is there must be well formed. */
        if (s->p < s->end && *s->p != ',' && *s->p != ';' && name_value(s, &pn, &pl, &pv) < 0)
            return -1;
    }
    return s->p == s->end || at(s, ',') ? 0 : -1;
}

/* Moves past the rest of a malformed element: to the next ',' outside a quoted string. */
static void skip_element(struct scan *s)
{
    int quoted = 0;
    for (; s->p < s->end; s->p++) {
        if (quoted && *s->p == '\\' && s->p + 1 < s->end)
            s->p++;
        else if (*s->p == '"')
            quoted = !quoted;
        else if (!quoted && *s->p == ',')
            return;
    }
}

int ing_prefer_wait(const char *value, size_t len)
{
    if (!value) return 0;
    struct scan s = {value, value + len};
    while (s.p < s.end) {
        skip_ows(&s);
        if (at(&s, ',')) { /* empty list elements are allowed */
            s.p++;
            continue;
        }
        const char *name;
        size_t n;
        long v;
        const char *start = s.p;
        int ok = preference(&s, &name, &n, &v) == 0;
        /* Only the first "wait" counts (RFC 7240 §2), even when it cannot be read. */
        if (n == 4 && strncasecmp(name, "wait", 4) == 0) return ok && v > 0 ? (int)v : 0;
        if (!ok) {
            /* From the element's start: where it went wrong may be inside a quoted string. */
            s.p = start;
            skip_element(&s);
        }
    }
    return 0;
}
