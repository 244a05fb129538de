/* fuzz_provider_health.c - libFuzzer harness: any bytes as a run of wa.provider records (one per
 * line) through the router's reader of provider health.
 *
 * The reader is a static function of router/health.c, next to the router's Kafka consumer and
 * Postgres writes, so this file includes health.c whole and runs only apply() and
 * rtr_baileys_up(); nothing here connects to anything.
 *
 * It found: a reason over 255 bytes cut mid-character (the invalid UTF-8 then failed record()
 * on every poll), and wa_wall_ms() - checked_ms overflowing for a checked_ms far below zero. */
#include "../../router/health.c"

#include <stdint.h>

#include "wa_form.h"

struct rtr_config rtr_cfg = {.health_stale_s = 180};
struct rtr_metrics rtr_m;

static int is_int(json_t *o, const char *k, int optional, json_int_t *v)
{
    json_t *x = json_object_get(o, k);
    if (!x) return optional;
    *v = json_integer_value(x);
    return json_is_integer(x);
}

/* Applies one record and checks the state against what the record says (docs/events.md). */
static void one(const char *rec, size_t len)
{
    rd_kafka_message_t m;
    memset(&m, 0, sizeof m);
    m.payload = (void *)rec;
    m.len = len;
    int known = baileys.known, was_up = baileys.up, pending = baileys.pending;
    int64_t since_was = baileys.since_ms, checked_was = baileys.checked_ms;
    char reason_was[sizeof baileys.reason];
    memcpy(reason_was, baileys.reason, sizeof reason_was);
    apply(&m);

    /* What a well-formed record about baileys is: provider and state strings, since_ms an
     * integer, reason a string and checked_ms an integer when present; no time before 1970. */
    json_t *o = json_loadb(rec, len, 0, NULL);
    json_int_t since = 0, checked = 0;
    const char *provider = json_string_value(json_object_get(o, "provider"));
    const char *state = json_string_value(json_object_get(o, "state"));
    json_t *reason = json_object_get(o, "reason");
    int ok = json_is_object(o) && provider && state && (!reason || json_is_string(reason)) &&
             is_int(o, "since_ms", 0, &since) && is_int(o, "checked_ms", 1, &checked) &&
             since >= 0 && checked >= 0;
    if (ok && strcmp(provider, "baileys") == 0) {
        int up = strcmp(state, "UP") == 0;
        if (!baileys.known || baileys.up != up || baileys.since_ms != since) abort();
        if (baileys.checked_ms != (checked ? checked : since)) abort();
        /* The reason is kept, cut only when it does not fit and then at a character boundary
         * (at most 3 bytes short), so it can go into an event and Postgres. */
        const char *r = reason ? json_string_value(reason) : "";
        size_t kept = strlen(baileys.reason), full = strlen(r);
        if (strncmp(baileys.reason, r, kept) != 0) abort();
        if (kept < full && kept + 4 <= sizeof baileys.reason - 1) abort();
        if (!wa_utf8_valid(baileys.reason, kept)) abort();
        /* A change is recorded once: pending when the state or its start moved. */
        int changed = !known || was_up != up || since_was != since;
        if (changed && !baileys.pending) abort();
        if (!changed && baileys.pending != pending) abort();
    } else if (baileys.known != known || baileys.up != was_up || baileys.pending != pending ||
               baileys.since_ms != since_was || baileys.checked_ms != checked_was ||
               strcmp(baileys.reason, reason_was) != 0) {
        abort(); /* a malformed record, or one about another provider, changes nothing */
    }
    json_decref(o);

    /* The router asks this after every poll. */
    int up = rtr_baileys_up();
    if (up && !(baileys.known && baileys.up)) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    memset(&baileys, 0, sizeof baileys);
    const char *p = (const char *)data, *end = p + size;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        one(p, n);
        if (!nl) break;
        p = nl + 1;
    }
    return 0;
}
