/* ratelimit.c - each sender number's pace: TWILIO_RATE_PER_SECOND for every number, and
 * TWILIO_NUMBER_RATES for some; pure. The pacing itself is shared by every instance through
 * Postgres (wa_send_pace). */
#include "sender_twilio.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int stw_rates_parse(const char *spec, double per_number, char channels[][WA_CHANNEL_MAX], int n,
                    double *rates, char *err, size_t errsz)
{
    for (int i = 0; i < n; i++)
        rates[i] = per_number;
    if (!spec || !spec[0]) return 0;
    struct wa_channel_entry e[WA_CHANNELS_MAX];
    char why[256];
    int k = wa_channel_entries("twilio", spec, e, WA_CHANNELS_MAX, 1, why, sizeof why);
    if (k < 0) {
        snprintf(err, errsz, "TWILIO_NUMBER_RATES: %s", why);
        return -1;
    }
    for (int j = 0; j < k; j++) {
        int i = 0;
        while (i < n && strcmp(channels[i], e[j].id) != 0)
            i++;
        if (i == n) {
            snprintf(err, errsz, "TWILIO_NUMBER_RATES: %s is not a number of TWILIO_WA_FROM",
                     wa_channel_number(e[j].id));
            return -1;
        }
        char *end = NULL;
        double r = strtod(e[j].value, &end);
        if (end == e[j].value || *end || !isfinite(r) || r < 0.01 || r > 10000) {
            snprintf(err, errsz,
                     "TWILIO_NUMBER_RATES: %s=%s: the rate must be a number of messages per "
                     "second from 0.01 to 10000",
                     wa_channel_number(e[j].id), e[j].value);
            return -1;
        }
        rates[i] = r;
    }
    return 0;
}
