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
    const char *topic_send, *topic_status, *topic_error, *topic_provider;
    const char *account_sid, *auth_token, *from, *api_base, *public_base_url;
    const char *instance;     /* this process's name on wa.provider (SENDER_INSTANCE) */
    const char *number_rates; /* TWILIO_NUMBER_RATES */
    long rate, max_attempts, base_ms, cap_ms, timeout_ms, connect_timeout_ms, workers, connections;
    long health_failures, health_heartbeat_s;
    const char *content_base; /* TWILIO_CONTENT_URL */
    const char *topic_events; /* SENDER_TOPIC_EVENTS: template.sync, through the outbox */
    long template_sync_s;     /* TEMPLATE_SYNC_S: 0 only on request */
};
extern struct stw_config stw_cfg;
/* The Twilio channels this sender sends from (TWILIO_WA_FROM), the first the default. */
extern char stw_channels[WA_CHANNELS_MAX][WA_CHANNEL_MAX];
extern int stw_nchannels;

/* The index in stw_channels of a command's channel: the default (0) when it names none (or
 * Twilio's bare default); -1 when the channel is not one of this sender's numbers. */
int stw_channel_of(const struct wa_outbound *o);

/* The From of a command: its channel's number as "whatsapp:+E164" into buf. NULL when the
 * channel is not one of this sender's numbers. */
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

/* content.c (pure): one page of Twilio's Content API list (GET /v1/ContentAndApprovals). */
struct stw_template {
    char sid[35], name[128], language[16], category[32], status[32], rejection_reason[256];
    char *body;      /* its text (twilio/text body), or NULL */
    char *variables; /* JSON object of the sample values that are strings */
    char *types;     /* JSON object: Twilio's "types" as listed */
};
/* Reads up to max templates of a page into out (each freed with stw_template_free) and the
 * next page's URL into next ("" at the end). Items without an HX sid or a name are skipped;
 * one without a WhatsApp approval is "unsubmitted". Returns how many, or -1 with err when the
 * page is not a ContentAndApprovals page. */
int stw_content_page(const char *page, size_t len, struct stw_template *out, int max, char *next,
                     size_t nextsz, char *err, size_t errsz);
void stw_template_free(struct stw_template *t);

/* templates.c: the catalogue sync, a thread (docs/architecture.md §3.4). */
int stw_templates_start(char *err, size_t errsz);
void stw_templates_stop(void);

/* ratelimit.c (pure): each of the n channels' messages per second into rates: per_number
 * (TWILIO_RATE_PER_SECOND), or what spec (TWILIO_NUMBER_RATES, "+E164=rate,...") gives its
 * number. Returns -1 with err for an entry that is malformed, not one of the channels, or out of
 * range (0.01-10000). */
int stw_rates_parse(const char *spec, double per_number, char channels[][WA_CHANNEL_MAX], int n,
                    double *rates, char *err, size_t errsz);
/* Each channel's rate (index as stw_channels). */
extern double stw_rates[WA_CHANNELS_MAX];

/* health_rule.c (pure): what a send's result says of its channel's health. */
enum stw_signal {
    STW_SIGNAL_PASS,   /* the channel works: Twilio took the message, or refused it for the
                          message's own sake (21211 invalid number, 63016 outside the window) */
    STW_SIGNAL_FAIL,   /* it may be a blip: no connection, no answer, 429, 5xx, 502/504 */
    STW_SIGNAL_BROKEN, /* Twilio refuses our account or number: 401, 403, 404, 21606, 63007 */
};
enum stw_signal stw_health_signal(const struct wa_outcome *oc, long http_status);

enum stw_state { STW_HEALTH_NONE, STW_HEALTH_UP, STW_HEALTH_DOWN };

/* One channel as this instance sees it from its send results. Zeroed: no word yet. */
struct stw_health {
    enum stw_state state;
    int failures;             /* FAIL or BROKEN results in a row since the last PASS */
    int64_t since_ms;         /* when state began (DOWN: the first failure of the run) */
    int64_t first_failure_ms; /* of the current run of failures */
    int64_t published_ms;     /* when a report went out last */
    char reason[256]; /* Twilio's words cut at 200 bytes (the encoder mends a cut character) */
};

struct stw_health_rule {
    int failures_down;    /* FAIL results in a row that make the channel DOWN */
    int64_t heartbeat_ms; /* an unchanged state is published again, on a result, after this */
};

/* Takes one send's result (oc as stw_classify made it; http_status 0 when no answer came) into
 * h: UP on a PASS; DOWN on a BROKEN, or once rule->failures_down FAILs come in a row; below
 * that, the last word stands (UP, or none). Returns 1 when a report is due now: the state
 * changed, or it has not been published for rule->heartbeat_ms. No word yet: never due. */
int stw_health_see(struct stw_health *h, const struct stw_health_rule *rule,
                   const struct wa_outcome *oc, long http_status, int64_t now_ms);
const char *stw_health_name(enum stw_state s); /* "UP", "DOWN", "NONE" */

/* health.c: every channel's health, published to wa.provider under this instance's key. */
int stw_health_start(rd_kafka_t *producer, char *err, size_t errsz);
/* A send on channel (an index in stw_channels) ended with oc. */
void stw_health_note(int channel, const struct wa_outcome *oc, long http_status);
/* Publishes a tombstone per channel (before the producer closes): the routers forget this
 * instance. Nothing is published after it. */
void stw_health_stop(void);

struct stw_metrics {
    struct wa_send_counters send;
    struct wa_metric *throttled_ms;
    struct wa_metric *up[WA_CHANNELS_MAX]; /* per channel: 1 while this instance sees it UP */
};
extern struct stw_metrics stw_m;

extern struct wa_media_store stw_store; /* presigned URLs for stored media */

#endif
