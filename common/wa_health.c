/* wa_health.c - channel and instance ids on wa.provider, the key made of them, and the record. */
#include "wa_health.h"
#include "wa_form.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int id_byte(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-' || c == ':' || c == '+';
}

static int id_valid_n(const char *s, size_t n)
{
    if (n == 0 || n > WA_HEALTH_ID_MAX) return 0;
    for (size_t i = 0; i < n; i++)
        if (!id_byte(s[i])) return 0;
    return 1;
}

int wa_health_id_valid(const char *s)
{
    return s && id_valid_n(s, strlen(s));
}

void wa_health_default_instance(char *out, const char *host, long pid)
{
    char tail[32];
    int tl = snprintf(tail, sizeof tail, "-%ld", pid);
    size_t room = WA_HEALTH_ID_MAX - (size_t)tl, n = 0;
    for (; host && host[n] && n < room; n++)
        out[n] = id_byte(host[n]) ? host[n] : '-';
    if (n == 0) {
        snprintf(out, WA_HEALTH_ID_MAX + 1, "sender%s", tail);
        return;
    }
    memcpy(out + n, tail, (size_t)tl + 1);
}

int wa_health_instance(const char *configured, char *out, char *err, size_t errsz)
{
    if (configured && configured[0]) {
        if (!wa_health_id_valid(configured)) {
            snprintf(
                err, errsz,
                "SENDER_INSTANCE=%s must be 1 to %d letters, digits, '.', '_', '-', ':' or '+'",
                configured, WA_HEALTH_ID_MAX);
            return -1;
        }
        snprintf(out, WA_HEALTH_ID_MAX + 1, "%s", configured);
        return 0;
    }
    char host[256] = "";
    gethostname(host, sizeof host - 1);
    wa_health_default_instance(out, host, (long)getpid());
    return 0;
}

int wa_health_key(char *out, size_t outsz, const char *channel, const char *instance)
{
    int n = snprintf(out, outsz, "%s/%s", channel, instance);
    return n < 0 || (size_t)n >= outsz ? -1 : 0;
}

int wa_health_key_split(const char *key, size_t len, char *channel, char *instance)
{
    const char *slash = key ? memchr(key, '/', len) : NULL;
    size_t cl = slash ? (size_t)(slash - key) : len;
    size_t il = slash ? len - cl - 1 : 0;
    if (!key || !id_valid_n(key, cl) || (slash && !id_valid_n(slash + 1, il))) return -1;
    memcpy(channel, key, cl);
    channel[cl] = '\0';
    if (slash) memcpy(instance, slash + 1, il);
    instance[il] = '\0';
    return 0;
}

char *wa_health_encode(const struct wa_health_report *r)
{
    char reason[256];
    wa_utf8_copy(reason, sizeof reason, r->reason); /* a bridge's or Twilio's words: any bytes */
    json_t *o =
        json_pack("{s:i, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:s}", "v", 1, "provider", r->provider,
                  "channel", r->channel, "instance", r->instance, "state", r->up ? "UP" : "DOWN",
                  "reason", reason, "since_ms", (json_int_t)r->since_ms, "checked_ms",
                  (json_int_t)r->checked_ms, "source", r->source);
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    return s;
}
