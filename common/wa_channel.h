/* wa_channel.h - channels (docs/architecture.md §3): a channel is one business number on one
 * provider, named "<provider>:<E.164>", e.g. "twilio:+14155238886", "baileys:+972500000001". A
 * bare provider name ("twilio", "baileys") is that provider's default channel where the number
 * is not known (rows stored before channels, a bridge that does not say its number). Pure. */
#ifndef WA_CHANNEL_H
#define WA_CHANNEL_H

#include <stddef.h>

#define WA_CHANNEL_MAX 32 /* "baileys:" + "+" + 15 digits, with room */
#define WA_CHANNELS_MAX 16

/* The channel of provider's number (any form wa_phone_e164 takes: "whatsapp:+1...", "+1...").
 * Returns -1 when the number is not E.164. */
int wa_channel_id(const char *provider, const char *number, char *out, size_t outsz);

/* The number of a channel ("+14155238886"), or NULL for a bare provider name. */
const char *wa_channel_number(const char *channel);

/* The provider's channels from a comma-separated list of numbers (TWILIO_WA_FROM); the first is
 * the provider's default. Returns how many, or -1 with err naming the entry that is wrong (not
 * E.164, a repeat, too many, or none at all). */
int wa_channel_list(const char *provider, const char *csv, char ids[][WA_CHANNEL_MAX], int max,
                    char *err, size_t errsz);

/* One entry of a list of numbers with a value each: BAILEYS_CHANNELS ("+E164=<bridge URL>"),
 * BAILEYS_FAILOVER_TO ("+E164=<Twilio number>"). */
struct wa_channel_entry {
    char id[WA_CHANNEL_MAX]; /* provider's channel of the number */
    char value[512];         /* what follows '=' ("" when with_value is 0) */
};

/* Like wa_channel_list; with with_value, every entry is "<number>=<value>" with a value, and
 * without it, no entry has '='. Returns how many, or -1 with err naming the wrong entry. */
int wa_channel_entries(const char *provider, const char *csv, struct wa_channel_entry *out, int max,
                       int with_value, char *err, size_t errsz);

/* Checks a channel id as a request names it: "twilio" or "baileys" (the default channel), or
 * "<provider>:+<E.164>" in canonical form. Writes the provider; returns -1 when it is none. */
int wa_channel_parse(const char *s, char *provider, size_t psz);

/* channel is provider's default: its bare name, or the first of its configured ids. */
int wa_channel_is_default(const char *channel, const char *provider, const char *default_id);

#endif
