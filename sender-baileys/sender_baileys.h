/* sender_baileys.h - what the files of sender-baileys/ share. */
#ifndef SENDER_BAILEYS_H
#define SENDER_BAILEYS_H

#include <curl/curl.h>
#include <stdint.h>

#include "wa_channel.h"
#include "wa_client.h"
#include "wa_metrics.h"
#include "wa_outbound.h"
#include "wa_send.h"

struct sbl_config {
    const char *kafka_brokers, *database_url, *listen, *group;
    const char *topic_send, *topic_twilio, *topic_status, *topic_error, *topic_provider;
    const char *send_url, *health_url, *secret, *provider_mode;
    const char *channels; /* BAILEYS_CHANNELS */
    const char *instance; /* this process's name on wa.provider (SENDER_INSTANCE) */
    long max_attempts, base_ms, cap_ms, timeout_ms, connect_timeout_ms, workers, connections;
    long health_interval_s, health_down_interval_s, down_hold_s, health_timeout_ms;
};
extern struct sbl_config sbl_cfg;

/* One Baileys session: its channel and its bridge. Without BAILEYS_CHANNELS there is one, the
 * channel "baileys", at BAILEYS_OUTBOUND_URL. */
struct sbl_channel {
    char id[WA_CHANNEL_MAX];
    char send_url[512], health_url[520];
};
extern struct sbl_channel sbl_channels[WA_CHANNELS_MAX];
extern int sbl_n_channels;

/* channels.c (pure): the sessions from BAILEYS_CHANNELS (or the one bridge); -1 with err. */
int sbl_channels_load(const char *csv, const char *send_url, const char *health_url, char *err,
                      size_t errsz);
/* The session that sends a command for channel: the named one; the first for none or the bare
 * "baileys"; the one bridge for any number when BAILEYS_CHANNELS is not set. NULL: not ours. */
const struct sbl_channel *sbl_channel_of(const char *channel);

/* bridge.c (pure): the bridge's /send request, and what its answer means. */
/* The bridge's /send body for o (new JSON string); filename: a document's name, or NULL. */
char *sbl_request(const struct wa_outbound *o, const char *filename);

/* What the bridge's answer means: 200 sent (WhatsApp's message id in id; a repeat of our key
 * answers with the first id); refused connection, connect timeout or 503 not_connected: down,
 * provably not sent (earlier_unknown when the bridge says an earlier attempt with this key may
 * have reached WhatsApp); 429, other 5xx: retry with the same key; no answer after the request
 * left, or 502 send_failed: unknown (the same key again later, never another provider); 400:
 * failed. */
void sbl_classify(const struct wa_client_result *r, struct wa_outcome *out);

/* health.c: the prober thread and the shared view of the bridge. */
int sbl_health_start(rd_kafka_t *producer, char *err, size_t errsz);
/* Joins the prober, then publishes this instance's tombstone (before the producer closes). */
void sbl_health_stop(void);
/* A send found the session's bridge down: DOWN now, published at once. */
void sbl_mark_down(const struct sbl_channel *ch, const char *reason);

struct sbl_metrics {
    struct wa_send_counters send;
    struct wa_metric *probes_failed; /* the up gauges are per channel (health.c) */
};
extern struct sbl_metrics sbl_m;

extern struct wa_media_store sbl_store; /* presigned URLs for stored media */

#endif
