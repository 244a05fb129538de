/* wa_health.h - who speaks on wa.provider: a channel and one instance of its prober, named in
 * each record and in its Kafka key, and the record itself (docs/architecture.md §3.3,
 * docs/events.md). Pure, but for wa_health_instance, which asks for the host's name. */
#ifndef WA_HEALTH_H
#define WA_HEALTH_H

#include <stddef.h>
#include <stdint.h>

/* The Baileys channel of a sender-baileys that has one bridge and no BAILEYS_CHANNELS: the
 * provider's default channel, named by the bare provider (wa_channel.h). With BAILEYS_CHANNELS,
 * each session reports under its own channel id ("baileys:+972500000001"). */
#define WA_HEALTH_BAILEYS_CHANNEL "baileys"

/* Longest channel or instance id, without its NUL. */
#define WA_HEALTH_ID_MAX 64

/* 1 when s is 1..WA_HEALTH_ID_MAX letters, digits, '.', '_', '-', ':' or '+' (a channel id,
 * wa_channel.h, is one): it fits in a Kafka key beside the other id, since '/' is not among
 * them, and in a log line as it is. */
int wa_health_id_valid(const char *s);

/* "<host>-<pid>" with every byte an id may not hold replaced by '-', the host cut so the
 * whole fits WA_HEALTH_ID_MAX: unique per process on one host, readable in a log. out must
 * hold WA_HEALTH_ID_MAX + 1 bytes. An empty host gives "sender-<pid>". */
void wa_health_default_instance(char *out, const char *host, long pid);

/* This process's instance id into out (WA_HEALTH_ID_MAX + 1 bytes): configured when set, else
 * wa_health_default_instance of this host and pid. Returns -1 with err when configured is not
 * a valid id. */
int wa_health_instance(const char *configured, char *out, char *err, size_t errsz);

/* The record's Kafka key, "<channel>/<instance>": one key per instance, so compaction keeps
 * each instance's last word. Returns -1 when it does not fit outsz. */
int wa_health_key(char *out, size_t outsz, const char *channel, const char *instance);

/* Splits a key back. A key without '/' is the old format, one key per provider ("baileys"):
 * that channel, with the anonymous instance "". Returns -1 for a key that is neither (an id
 * that is not valid). channel and instance must hold WA_HEALTH_ID_MAX + 1 bytes. */
int wa_health_key_split(const char *key, size_t len, char *channel, char *instance);

/* One instance's word on a channel: the value of a wa.provider record. */
struct wa_health_report {
    const char *provider; /* "baileys" | "twilio" */
    const char *channel, *instance;
    int up;
    const char *reason; /* any bytes: sanitized to UTF-8 and cut at 255 */
    int64_t since_ms;   /* when this instance's state began */
    int64_t checked_ms; /* its latest evidence: a probe, or a send's result */
    const char *source; /* "probe" | "send" */
};

/* The record's value as compact JSON (docs/events.md, wa.provider): a new string, or NULL when
 * it cannot be encoded. The one encoder of the record, for every prober. */
char *wa_health_encode(const struct wa_health_report *r);

#endif
