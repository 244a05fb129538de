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

int wa_channel_list(const char *provider, const char *csv, char ids[][WA_CHANNEL_MAX], int max,
                    char *err, size_t errsz)
{
    int n = 0;
    const char *p = csv ? csv : "";
    while (*p) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        char item[64];
        /* Spaces around an entry are a typing habit, not part of the number. */
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
        if (wa_channel_id(provider, item, ids[n], WA_CHANNEL_MAX) < 0) {
            snprintf(err, errsz, "\"%s\" is not a number in E.164 (whatsapp:+E164 or +E164)", item);
            return -1;
        }
        for (int i = 0; i < n; i++)
            if (strcmp(ids[i], ids[n]) == 0) {
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

int wa_channel_is_default(const char *channel, const char *provider, const char *default_id)
{
    return channel &&
           (strcmp(channel, provider) == 0 || (default_id && strcmp(channel, default_id) == 0));
}
