/* sender_twilio.h - what the files of sender-twilio/ share. */
#ifndef SENDER_TWILIO_H
#define SENDER_TWILIO_H

#include <curl/curl.h>
#include <stdint.h>

#include "wa_channel.h"
#include "wa_client.h"
#include "wa_metrics.h"
#include "wa_outbound.h"
#include "wa_send.h"

struct stw_config {
    const char *kafka_brokers, *database_url, *listen, *group;
    const char *topic_send, *topic_status, *topic_error;
    const char *account_sid, *auth_token, *from, *api_base, *public_base_url;
    long rate, max_attempts, base_ms, cap_ms, timeout_ms, connect_timeout_ms, workers;
};
extern struct stw_config stw_cfg;
/* The Twilio channels this sender sends from (TWILIO_WA_FROM), the first the default. */
extern char stw_channels[WA_CHANNELS_MAX][WA_CHANNEL_MAX];
extern int stw_nchannels;

/* The From of a command: its channel's number as "whatsapp:+E164" into buf, or the default
 * number when it names none (or Twilio's bare default). NULL when the channel is not one of
 * this sender's numbers. */
const char *stw_from(const struct wa_outbound *o, char *buf, size_t bufsz);

/* request.c (pure): the Messages API request for a command, and what its answer means. */
/* Appends the form body (To, From, Body/MediaUrl or ContentSid/ContentVariables,
 * StatusCallback) for o. from is "whatsapp:+E164". */
void stw_form(CURL *h, const struct wa_outbound *o, const char *from, const char *callback_base,
              struct wa_buf *form);

/* What the answer means: 2xx sent (sid in id); 429, 5xx or nothing sent: retry; 502/504 or
 * no answer after the request left: unknown (reconciled before any resend); other 4xx: failed,
 * never repeated. code is Twilio's error code, or ours. */
void stw_classify(const struct wa_client_result *r, struct wa_outcome *out);

/* After an ambiguous answer: in a page of Twilio's message list (GET .../Messages.json, newest
 * first), the message this command made, if any. It matches when it went to the command's
 * number from ours, outbound, created in or after the second of since_ms, with the command's
 * text (or caption) as its body. Returns 1 (sid filled), 0 (not there: Twilio did not make it),
 * or -1 when the page is not a message list. */
int stw_find_created(const char *list, size_t len, const struct wa_outbound *o, const char *from,
                     int64_t since_ms, char *sid, size_t sidsz);

/* ratelimit.c (pure): a token bucket per sender number. */
struct stw_bucket {
    double tokens, rate, burst;
    int64_t last_ms;
};
void stw_bucket_init(struct stw_bucket *b, double rate, double burst, int64_t now_ms);
/* Takes a token and returns 0, or returns how long to wait for one (ms). */
int64_t stw_bucket_take(struct stw_bucket *b, int64_t now_ms);

struct stw_metrics {
    struct wa_send_counters send;
    struct wa_metric *throttled_ms;
};
extern struct stw_metrics stw_m;

extern struct wa_media_store stw_store; /* presigned URLs for stored media */

#endif
