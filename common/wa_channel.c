/* wa_channel.c - channel names and the list of a provider's numbers; pure. */
#include "wa_channel.h"
#include "wa_phone.h"

#include <stdio.h>
#include <string.h>

int wa_channel_id(const char *provider, const char *number, char *out, size_t outsz)
{
    char e164[17];
    if (!number || wa_phone_e164(number, e164, sizeof e164) < 0) return -1;
    int n = snprintf(out, outsz, "%s:%s", provider, e164);
    return n > 0 && (size_t)n < outsz ? 0 : -1;
}

const char *wa_channel_number(const char *channel)
{
    const char *colon = channel ? strchr(channel, ':') : NULL;
    return colon ? colon + 1 : NULL;
}

int wa_channel_entries(const char *provider, const char *csv, struct wa_channel_entry *out, int max,
                       int with_value, char *err, size_t errsz)
{
    int n = 0;
    const char *p = csv ? csv : "";
    while (*p) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        char item[64 + sizeof out->value];
        /* Spaces around an entry are a typing habit, not part of it. */
        while (len && (*p == ' ' || *p == '\t'))
            p++, len--;
        while (len && (p[len - 1] == ' ' || p[len - 1] == '\t'))
            len--;
        if (len >= sizeof item || len == 0) {
            snprintf(err, errsz, "entry %d is %s", n + 1, len ? "too long" : "empty");
            return -1;
        }
        memcpy(item, p, len);
        item[len] = '\0';
        if (n == max) {
            snprintf(err, errsz, "more than %d numbers", max);
            return -1;
        }
        char *eq = strchr(item, '=');
        if (with_value && (!eq || !eq[1])) {
            snprintf(err, errsz, "\"%s\" needs a value: <number>=<value>", item);
            return -1;
        }
        if (!with_value && eq) {
            snprintf(err, errsz, "\"%s\" is a number alone, without '='", item);
            return -1;
        }
        if (eq) *eq = '\0';
        if (wa_channel_id(provider, item, out[n].id, sizeof out[n].id) < 0) {
            snprintf(err, errsz, "\"%s\" is not a number in E.164 (whatsapp:+E164 or +E164)", item);
            return -1;
        }
        snprintf(out[n].value, sizeof out[n].value, "%s", eq ? eq + 1 : "");
        for (int i = 0; i < n; i++)
            if (strcmp(out[i].id, out[n].id) == 0) {
                snprintf(err, errsz, "\"%s\" is listed twice", item);
                return -1;
            }
        n++;
        p = end ? end + 1 : p + len;
        if (end && !end[1]) {
            snprintf(err, errsz, "entry %d is empty", n + 1);
            return -1;
        }
    }
    if (n == 0) {
        snprintf(err, errsz, "no number given");
        return -1;
    }
    return n;
}

int wa_channel_list(const char *provider, const char *csv, char ids[][WA_CHANNEL_MAX], int max,
                    char *err, size_t errsz)
{
    struct wa_channel_entry e[WA_CHANNELS_MAX];
    int n = wa_channel_entries(provider, csv, e, max < WA_CHANNELS_MAX ? max : WA_CHANNELS_MAX, 0,
                               err, errsz);
    for (int i = 0; i < n; i++)
        memcpy(ids[i], e[i].id, WA_CHANNEL_MAX);
    return n;
}

int wa_channel_parse(const char *s, char *provider, size_t psz)
{
    if (!s) return -1;
    const char *number = wa_channel_number(s);
    size_t plen = number ? (size_t)(number - 1 - s) : strlen(s);
    if (!((plen == 6 && strncmp(s, "twilio", 6) == 0) ||
          (plen == 7 && strncmp(s, "baileys", 7) == 0)))
        return -1;
    if (number) {
        /* Only the canonical form: the id is compared as a string everywhere. */
        char e164[17];
        if (wa_phone_e164(number, e164, sizeof e164) < 0 || number[0] != '+' ||
            strcmp(e164, number) != 0)
            return -1;
    }
    if (plen >= psz) return -1;
    memcpy(provider, s, plen);
    provider[plen] = '\0';
    return 0;
}

int wa_channel_is_default(const char *channel, const char *provider, const char *default_id)
{
    return channel &&
           (strcmp(channel, provider) == 0 || (default_id && strcmp(channel, default_id) == 0));
}
