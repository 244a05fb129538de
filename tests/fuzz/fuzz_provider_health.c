/* fuzz_provider_health.c - libFuzzer harness: any bytes as a run of wa.provider records (one per
 * line) through the router's reader of provider health and the merge of every instance's
 * reports (docs/architecture.md §3.3).
 *
 * A line is a record's value, with the old format's key "baileys"; a line "KEY<TAB>VALUE" gives
 * the key too, and "KEY<TAB>" alone is a tombstone (the instance left).
 *
 * The reader is a static function of router/health.c, next to the router's Kafka consumer and
 * Postgres writes, so this file includes health.c whole and runs only apply(), note() and
 * rtr_channel_up(); nothing here connects to anything. The checks follow the default Baileys
 * channel, "baileys", the table's first entry; records about other channels must leave it be. The
 * clock is fixed near the corpus's times, so that its reports are fresh.
 *
 * It found: a reason over 255 bytes cut mid-character (the invalid UTF-8 then failed record()
 * on every poll), and wa_wall_ms() - checked_ms overflowing for a checked_ms far below zero. */
#include "../../router/health.c"

#include <stdint.h>

#include "wa_form.h"

#define NOW 1795478410000LL
#define STALE_MS (180 * 1000)

struct rtr_config rtr_cfg = {.health_stale_s = 180};
struct rtr_metrics rtr_m;

#define baileys (chans[0].ch)
#define seen (chans[0])

static int is_int(json_t *o, const char *k, int optional, json_int_t *v)
{
    json_t *x = json_object_get(o, k);
    if (!x) return optional;
    *v = json_integer_value(x);
    return json_is_integer(x);
}

static int optional_str(json_t *o, const char *k, const char **v)
{
    json_t *x = json_object_get(o, k);
    *v = json_string_value(x);
    return !x || json_is_string(x);
}

static int find_instance(const char *instance)
{
    for (size_t i = 0; i < baileys.n; i++)
        if (strcmp(baileys.reports[i].instance, instance) == 0) return (int)i;
    return -1;
}

/* What a well-formed report about the Baileys channel is (docs/events.md): provider and state
 * strings, since_ms an integer, reason, channel and instance strings and checked_ms an integer
 * when present; no time before 1970; a channel and an instance that are valid ids. */
static int report_of(const char *rec, size_t len, struct rtr_report *want, const char **reason)
{
    json_t *o = json_loadb(rec, len, 0, NULL);
    json_int_t since = 0, checked = 0;
    const char *provider = json_string_value(json_object_get(o, "provider"));
    const char *state = json_string_value(json_object_get(o, "state"));
    const char *channel, *instance;
    json_t *r = json_object_get(o, "reason");
    int ok = json_is_object(o) && provider && state && (!r || json_is_string(r)) &&
             is_int(o, "since_ms", 0, &since) && is_int(o, "checked_ms", 1, &checked) &&
             optional_str(o, "channel", &channel) && optional_str(o, "instance", &instance) &&
             since >= 0 && checked >= 0;
    if (ok) {
        if (!channel) channel = provider;
        if (!instance) instance = "";
        ok = wa_health_id_valid(channel) && (!instance[0] || wa_health_id_valid(instance)) &&
             strcmp(provider, "baileys") == 0 && strcmp(channel, "baileys") == 0;
    }
    if (ok) {
        memset(want, 0, sizeof *want);
        snprintf(want->instance, sizeof want->instance, "%s", instance);
        want->up = strcmp(state, "UP") == 0;
        want->since_ms = since;
        want->checked_ms = checked ? checked : since;
        /* The reason lives in o; keep a copy for the comparison after o is gone. */
        *reason = strdup(r ? json_string_value(r) : "");
    }
    json_decref(o);
    return ok;
}

/* The rule, written out the simple way, as the oracle for rtr_channel_merge(). */
static enum rtr_health oracle(int *live)
{
    int down = 0;
    *live = 0;
    for (size_t i = 0; i < baileys.n; i++) {
        const struct rtr_report *r = &baileys.reports[i];
        if (r->checked_ms > NOW - STALE_MS && r->checked_ms < NOW + STALE_MS) {
            (*live)++;
            down |= !r->up;
        }
    }
    return down ? RTR_HEALTH_DOWN : *live ? RTR_HEALTH_UP : RTR_HEALTH_UNKNOWN;
}

static void one(const char *line, size_t n)
{
    const char *tab = memchr(line, '\t', n);
    const char *key = tab ? line : "baileys", *val = tab ? tab + 1 : line;
    size_t klen = tab ? (size_t)(tab - line) : 7, vlen = tab ? n - klen - 1 : n;
    int tombstone = tab && vlen == 0;

    struct rtr_channel before = baileys;
    struct rtr_report want;
    const char *reason = NULL;
    int report = !tombstone && report_of(val, vlen, &want, &reason);
    apply(key, klen, tombstone ? NULL : val, vlen, NOW, 0);

    if (baileys.n > RTR_HEALTH_INSTANCES) abort();
    for (size_t i = 0; i < baileys.n; i++) /* one report per instance */
        if (find_instance(baileys.reports[i].instance) != (int)i) abort();

    if (report) {
        int i = find_instance(want.instance);
        if (i < 0) abort();
        const struct rtr_report *got = &baileys.reports[i];
        if (got->up != want.up || got->since_ms != want.since_ms ||
            got->checked_ms != want.checked_ms)
            abort();
        /* The reason is kept, cut only when it does not fit and then at a character boundary
         * (at most 3 bytes short), so it can go into an event and Postgres. Bytes that are
         * not UTF-8 are replaced, so compare only a reason that is valid. */
        size_t kept = strlen(got->reason), full = strlen(reason);
        if (!wa_utf8_valid(got->reason, kept)) abort();
        if (wa_utf8_valid(reason, full)) {
            if (strncmp(got->reason, reason, kept) != 0) abort();
            if (kept < full && kept + 4 <= sizeof got->reason - 1) abort();
        }
        free((void *)reason);
    } else if (tombstone) {
        char ch[WA_HEALTH_ID_MAX + 1], inst[WA_HEALTH_ID_MAX + 1];
        if (wa_health_key_split(key, klen, ch, inst) == 0 && strcmp(ch, "baileys") == 0) {
            if (find_instance(inst) >= 0) abort(); /* forgotten */
        } else if (memcmp(&before, &baileys, sizeof before) != 0) {
            abort(); /* a tombstone of no instance of ours changes nothing */
        }
    } else if (memcmp(&before, &baileys, sizeof before) != 0) {
        abort(); /* a malformed record, or one about another channel, changes nothing */
    }

    /* The merge follows the rule; UP only when every fresh report says UP. */
    int live;
    enum rtr_health rule = oracle(&live);
    struct rtr_merged m = rtr_channel_merge(&baileys, NOW, STALE_MS);
    if (m.state != rule || m.live != live) abort();
    if (m.state != RTR_HEALTH_UNKNOWN &&
        (m.cause < 0 || baileys.reports[m.cause].up != (m.state == RTR_HEALTH_UP)))
        abort();

    /* A change is recorded once, after the previous one, with a reason fit for Postgres. */
    struct rtr_merged last = seen.last;
    int had = seen.have_last, pending = seen.pending;
    struct rtr_merged now_m = rtr_channel_merge(&baileys, NOW, STALE_MS);
    note(&seen, &now_m);
    if (had && seen.last.state == last.state && seen.pending != pending) abort();
    if (seen.have_last && seen.last.state != m.state) abort();
    if (had && seen.last.state != last.state && seen.last.since_ms <= last.since_ms) abort();
    if (seen.pending && !wa_utf8_valid(seen.reason, strlen(seen.reason))) abort();

    /* The router asks this for every send (on the wall clock, not NOW). */
    int64_t wall = wa_wall_ms();
    if (rtr_channel_up("baileys") &&
        rtr_channel_merge(&baileys, wall, STALE_MS).state != RTR_HEALTH_UP)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* The channels' names and metrics stay (metrics live for the process); what they know goes. */
    if (n_chans == 0) find_or_add("baileys", "baileys");
    for (size_t i = 0; i < n_chans; i++) {
        struct known *k = &chans[i];
        memset(&k->ch, 0, sizeof k->ch);
        k->have_last = k->pending = 0;
        memset(&k->last, 0, sizeof k->last);
        memset(&k->to_record, 0, sizeof k->to_record);
        k->reason[0] = '\0';
    }
    caught_up = 1;
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
