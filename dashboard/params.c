/* params.c - the API's query parameters, checked before any SQL; pure, unit-tested and fuzzed. */
#include "dash.h"
#include "wa_outbound.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int whole(const char *s, long lo, long hi, long *out)
{
    char *end;
    if (!s || !*s || strspn(s, "0123456789") != strlen(s) || strlen(s) > 15) return -1;
    long v = strtol(s, &end, 10);
    if (*end || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

int dash_parse_limit(const char *s, int *out, char *err, size_t errsz)
{
    long v = 50;
    if (s && whole(s, 1, 200, &v) < 0) {
        snprintf(err, errsz, "limit must be a whole number from 1 to 200");
        return -1;
    }
    *out = (int)v;
    return 0;
}

int dash_parse_minutes(const char *s, int *out, char *err, size_t errsz)
{
    long v = 60;
    if (s && whole(s, 1, 1440, &v) < 0) {
        snprintf(err, errsz, "minutes must be a whole number from 1 to 1440");
        return -1;
    }
    *out = (int)v;
    return 0;
}

int dash_parse_lead_cursor(const char *s, char at[24], char id[24], char *err, size_t errsz)
{
    at[0] = id[0] = '\0';
    if (!s || !*s) return 0;
    const char *us = strchr(s, '_');
    long a, b;
    char left[24];
    if (!us || (size_t)(us - s) >= sizeof left) goto bad;
    memcpy(left, s, (size_t)(us - s));
    left[us - s] = '\0';
    /* Milliseconds since 1970, and a contact id. */
    if (whole(left, 0, 999999999999999L, &a) < 0 || whole(us + 1, 1, 999999999999L, &b) < 0)
        goto bad;
    snprintf(at, 24, "%ld", a);
    snprintf(id, 24, "%ld", b);
    return 0;
bad:
    snprintf(err, errsz, "cursor is not one this API gave");
    return -1;
}

int dash_parse_message_cursor(const char *s, char ts[64], char id[40], char *err, size_t errsz)
{
    ts[0] = id[0] = '\0';
    if (!s || !*s) return 0;
    const char *bar = strrchr(s, '|');
    /* A timestamp as Postgres prints it: digits, '-', ':', '.', ' ' and '+'. */
    if (!bar || bar == s || bar - s >= 64 || !wa_uuid_valid(bar + 1) ||
        strspn(s, "0123456789-:. +") != (size_t)(bar - s)) {
        snprintf(err, errsz, "cursor is not one this API gave");
        return -1;
    }
    snprintf(ts, 64, "%.*s", (int)(bar - s), s);
    snprintf(id, 40, "%s", bar + 1);
    return 0;
}

int dash_parse_id(const char *s, char id[24], char *err, size_t errsz)
{
    long v;
    if (whole(s, 1, 999999999999L, &v) < 0) {
        snprintf(err, errsz, "the lead id must be a positive whole number");
        return -1;
    }
    snprintf(id, 24, "%ld", v);
    return 0;
}
