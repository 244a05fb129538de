/* fuzz_dashboard.c - libFuzzer harness: any bytes as the dashboard API's query parameters; what
 * passes must be exactly what reaches SQL (digits, or a timestamp and a UUID). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dash.h"

struct dash_config dash_cfg;
struct wa_media_store dash_store;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    memcpy(s, data, size);
    s[size] = '\0';
    char err[128], a[24], b[24], ts[64], id[40];
    int v;
    if (dash_parse_limit(s, &v, err, sizeof err) == 0 && (v < 1 || v > 200)) abort();
    if (dash_parse_minutes(s, &v, err, sizeof err) == 0 && (v < 1 || v > 1440)) abort();
    if (dash_parse_id(s, a, err, sizeof err) == 0 && strspn(a, "0123456789") != strlen(a)) abort();
    if (dash_parse_lead_cursor(s, a, b, err, sizeof err) == 0 &&
        (strspn(a, "0123456789") != strlen(a) || strspn(b, "0123456789") != strlen(b)))
        abort();
    if (dash_parse_message_cursor(s, ts, id, err, sizeof err) == 0 &&
        strspn(ts, "0123456789-:. +") != strlen(ts))
        abort();
    free(s);
    return 0;
}
