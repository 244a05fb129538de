/* channels.c - the Baileys sessions this sender sends through (BAILEYS_CHANNELS), and which one
 * a command goes to; pure. */
#include "sender_baileys.h"

#include <stdio.h>
#include <string.h>

struct sbl_channel sbl_channels[WA_CHANNELS_MAX];
int sbl_n_channels;
static int configured; /* BAILEYS_CHANNELS names the sessions */

/* The bridge's /health beside its /send: the URL up to its last '/', then /health. */
static void health_of(const char *send_url, char *out, size_t outsz)
{
    const char *slash = strrchr(send_url, '/');
    size_t n = slash ? (size_t)(slash - send_url) : strlen(send_url);
    snprintf(out, outsz, "%.*s/health", (int)n, send_url);
}

int sbl_channels_load(const char *csv, const char *send_url, const char *health_url, char *err,
                      size_t errsz)
{
    memset(sbl_channels, 0, sizeof sbl_channels);
    configured = csv && csv[0];
    if (!configured) {
        sbl_n_channels = 1;
        snprintf(sbl_channels[0].id, sizeof sbl_channels[0].id, "baileys");
        snprintf(sbl_channels[0].send_url, sizeof sbl_channels[0].send_url, "%s", send_url);
        if (health_url && health_url[0])
            snprintf(sbl_channels[0].health_url, sizeof sbl_channels[0].health_url, "%s",
                     health_url);
        else
            health_of(send_url, sbl_channels[0].health_url, sizeof sbl_channels[0].health_url);
        return 0;
    }
    struct wa_channel_entry e[WA_CHANNELS_MAX];
    char why[300];
    int n = wa_channel_entries("baileys", csv, e, WA_CHANNELS_MAX, 1, why, sizeof why);
    if (n < 0) {
        snprintf(err, errsz, "BAILEYS_CHANNELS: %s", why);
        return -1;
    }
    for (int i = 0; i < n; i++) {
        if (strncmp(e[i].value, "http://", 7) != 0 && strncmp(e[i].value, "https://", 8) != 0) {
            snprintf(err, errsz,
                     "BAILEYS_CHANNELS: %s: \"%s\" is not an http(s) URL of the "
                     "session's bridge /send",
                     e[i].id, e[i].value);
            return -1;
        }
        snprintf(sbl_channels[i].id, sizeof sbl_channels[i].id, "%s", e[i].id);
        snprintf(sbl_channels[i].send_url, sizeof sbl_channels[i].send_url, "%s", e[i].value);
        health_of(e[i].value, sbl_channels[i].health_url, sizeof sbl_channels[i].health_url);
    }
    sbl_n_channels = n;
    return 0;
}

const struct sbl_channel *sbl_channel_of(const char *channel)
{
    if (!configured || !channel || strcmp(channel, "baileys") == 0) return &sbl_channels[0];
    for (int i = 0; i < sbl_n_channels; i++)
        if (strcmp(sbl_channels[i].id, channel) == 0) return &sbl_channels[i];
    return NULL;
}
