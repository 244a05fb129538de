/* main.c - sender-twilio: wa.send.twilio to Twilio's Messages API. Config, wiring, the loop. */
#include "sender_twilio.h"
#include "wa_config.h"
#include "wa_health.h"
#include "wa_log.h"
#include "wa_phone.h"

#include <stdio.h>
#include <string.h>

struct stw_config stw_cfg;
static const char *log_level;
struct wa_media_store stw_store;
static const char *s3_internal;

static const struct wa_cfg config[] = {
    {"KAFKA_BROKERS", "127.0.0.1:9092", WA_CFG_STR, 0, 0, NULL, "Kafka bootstrap servers",
     &stw_cfg.kafka_brokers, NULL},
    {"DATABASE_URL", NULL, WA_CFG_STR, 0, 0, NULL, "Postgres URL (claims)", &stw_cfg.database_url,
     NULL},
    {"SENDER_TWILIO_LISTEN", "127.0.0.1:9102", WA_CFG_LISTEN, 0, 0, NULL,
     "address for /healthz, /readyz, /metrics", &stw_cfg.listen, NULL},
    {"SENDER_TWILIO_GROUP", "sender-twilio", WA_CFG_STR, 0, 0, NULL, "Kafka consumer group",
     &stw_cfg.group, NULL},
    {"SENDER_TWILIO_TOPIC", "wa.send.twilio", WA_CFG_STR, 0, 0, NULL, "commands to send",
     &stw_cfg.topic_send, NULL},
    {"SENDER_TOPIC_STATUS", "wa.status", WA_CFG_STR, 0, 0, NULL, "results", &stw_cfg.topic_status,
     NULL},
    {"SENDER_TOPIC_ERROR", "wa.error", WA_CFG_STR, 0, 0, NULL, "what could not be sent",
     &stw_cfg.topic_error, NULL},
    {"SENDER_TOPIC_PROVIDER", "wa.provider", WA_CFG_STR, 0, 0, NULL,
     "each channel's health, from the send results", &stw_cfg.topic_provider, NULL},
    {"SENDER_INSTANCE", "", WA_CFG_STR, 0, 0, NULL,
     "this instance's name on wa.provider, unique among the instances: letters, digits, '.', "
     "'_', '-', ':', '+', at most 64; empty: <hostname>-<pid>",
     &stw_cfg.instance, NULL},
    {"TWILIO_ACCOUNT_SID", NULL, WA_CFG_STR, 0, 0, NULL, "AC… account sid (basic auth user)",
     &stw_cfg.account_sid, NULL},
    {"TWILIO_AUTH_TOKEN", NULL, WA_CFG_SECRET, 0, 0, NULL, "auth token (basic auth password)",
     &stw_cfg.auth_token, NULL},
    {"TWILIO_WA_FROM", NULL, WA_CFG_STR, 0, 0, NULL,
     "our WhatsApp senders, whatsapp:+E164 (or +E164), comma-separated; the first is the default",
     &stw_cfg.from, NULL},
    {"TWILIO_API_BASE", "https://api.twilio.com", WA_CFG_URL, 0, 0, NULL,
     "Messages API base URL; tests point it at the simulator", &stw_cfg.api_base, NULL},
    {"TWILIO_CONTENT_URL", "https://content.twilio.com", WA_CFG_URL, 0, 0, NULL,
     "Content API base URL (the template catalogue); tests point it at the simulator",
     &stw_cfg.content_base, NULL},
    {"TEMPLATE_SYNC_S", "600", WA_CFG_INT, 0, 86400, NULL,
     "how often the template catalogue is synced from the Content API; 0: only when asked "
     "(POST /api/whatsapp/templates/sync)",
     NULL, &stw_cfg.template_sync_s},
    {"SENDER_TOPIC_EVENTS", "wa.events", WA_CFG_STR, 0, 0, NULL,
     "where template.sync goes (through the outbox)", &stw_cfg.topic_events, NULL},
    {"PUBLIC_BASE_URL", NULL, WA_CFG_URL, 0, 0, NULL,
     "ingress as Twilio reaches it: StatusCallback = this + /api/whatsapp/twilio/status",
     &stw_cfg.public_base_url, NULL},
    {"TWILIO_RATE_PER_SECOND", "80", WA_CFG_INT, 1, 10000, NULL,
     "messages per second per sender number, shared by every instance", NULL, &stw_cfg.rate},
    {"TWILIO_NUMBER_RATES", "", WA_CFG_STR, 0, 0, NULL,
     "messages per second of some numbers: +E164=rate,... (the rest: TWILIO_RATE_PER_SECOND)",
     &stw_cfg.number_rates, NULL},
    {"SENDER_MAX_ATTEMPTS", "8", WA_CFG_INT, 1, 100, NULL,
     "provider calls per message before giving up on 429/5xx", NULL, &stw_cfg.max_attempts},
    {"SENDER_BACKOFF_BASE_MS", "1000", WA_CFG_INT, 1, 60000, NULL, "first retry pause", NULL,
     &stw_cfg.base_ms},
    {"SENDER_BACKOFF_CAP_MS", "30000", WA_CFG_INT, 1, 600000, NULL, "longest retry pause", NULL,
     &stw_cfg.cap_ms},
    {"TWILIO_TIMEOUT_MS", "15000", WA_CFG_INT, 100, 120000, NULL, "whole call", NULL,
     &stw_cfg.timeout_ms},
    {"TWILIO_CONNECT_TIMEOUT_MS", "3000", WA_CFG_INT, 100, 60000, NULL, "connect", NULL,
     &stw_cfg.connect_timeout_ms},
    {"TWILIO_HEALTH_FAILURES", "3", WA_CFG_INT, 1, 100, NULL,
     "sends failing in a row (no connection, no answer, 429, 5xx) that make a channel DOWN", NULL,
     &stw_cfg.health_failures},
    {"TWILIO_HEALTH_HEARTBEAT_S", "30", WA_CFG_INT, 1, 3600, NULL,
     "an unchanged health is published again after this long while sends happen; keep it well "
     "under the routers' BAILEYS_HEALTH_STALE_S",
     NULL, &stw_cfg.health_heartbeat_s},
    WA_MEDIA_STORE_CFG(stw_store, s3_internal),
    WA_SENDER_LANES_CFG(stw_cfg.workers, stw_cfg.connections),
    {"LOG_LEVEL", "info", WA_CFG_ENUM, 0, 0, "debug|info|warn|error", "log verbosity", &log_level,
     NULL},
};

static void metrics_init(void)
{
    wa_send_counters_init(&stw_m.send, "twilio", 0,
                          "Provider calls repeated after 429, 5xx or a failed connect.");
    stw_m.throttled_ms =
        wa_metric_new(WA_COUNTER, "wa_sender_throttled_ms_total", "provider=\"twilio\"",
                      "Time spent waiting for the rate limit.");
    static char labels[WA_CHANNELS_MAX][WA_CHANNEL_MAX + 16];
    for (int i = 0; i < stw_nchannels; i++) {
        snprintf(labels[i], sizeof labels[i], "channel=\"%s\"", stw_channels[i]);
        stw_m.up[i] = wa_metric_new(WA_GAUGE, "wa_sender_twilio_up", labels[i],
                                    "1 while this instance's send results say the channel is UP.");
    }
}

enum wa_result stw_handle(struct wa_sender *s, CURL *h, const rd_kafka_message_t *m);

static void *worker_ctx(int worker, void *ctx)
{
    (void)worker;
    (void)ctx;
    return curl_easy_init(); /* each worker keeps its own connection to Twilio */
}

static enum wa_result handle(struct wa_sender *s, const rd_kafka_message_t *m, void *curl)
{
    return stw_handle(s, curl, m);
}

static void started(struct wa_sender *s, void *ctx)
{
    (void)ctx;
    char err[256];
    if (stw_health_start(s->producer, err, sizeof err) < 0 ||
        stw_templates_start(err, sizeof err) < 0) {
        wa_error("%s", err);
        wa_stop();
    }
}

static void stopping(void *ctx)
{
    (void)ctx;
    stw_templates_stop();
    stw_health_stop();
}

int main(void)
{
    wa_memory_lean();
    if (wa_service_start("sender-twilio", config, WA_CFG_COUNT(config), &log_level))
        return WA_EX_CONFIG;
    const char *sid = stw_cfg.account_sid;
    if (!wa_twilio_sid(sid, "AC")) {
        fprintf(stderr, "config: TWILIO_ACCOUNT_SID=%s is not AC followed by 32 hex digits\n", sid);
        return WA_EX_CONFIG;
    }
    char from[40], why[200];
    stw_nchannels =
        wa_channel_list("twilio", stw_cfg.from, stw_channels, WA_CHANNELS_MAX, why, sizeof why);
    if (stw_nchannels < 0) {
        fprintf(stderr, "config: TWILIO_WA_FROM: %s\n", why);
        return WA_EX_CONFIG;
    }
    /* Each instance reports under its own name; two with one name would overwrite each
     * other's health. */
    static char instance[WA_HEALTH_ID_MAX + 1];
    if (wa_health_instance(stw_cfg.instance, instance, why, sizeof why) < 0) {
        fprintf(stderr, "config: %s\n", why);
        return WA_EX_CONFIG;
    }
    stw_cfg.instance = instance;
    char rerr[300];
    if (stw_rates_parse(stw_cfg.number_rates, (double)stw_cfg.rate, stw_channels, stw_nchannels,
                        stw_rates, rerr, sizeof rerr) < 0) {
        fprintf(stderr, "config: %s\n", rerr);
        return WA_EX_CONFIG;
    }
    snprintf(from, sizeof from, "whatsapp:%s", wa_channel_number(stw_channels[0]));
    stw_cfg.from = from; /* the default number */
    if (!stw_store.endpoint || !stw_store.endpoint[0]) stw_store.endpoint = s3_internal;
    metrics_init();
    curl_global_init(CURL_GLOBAL_DEFAULT);
    struct wa_sender s = {.provider = "twilio",
                          .topic_status = stw_cfg.topic_status,
                          .topic_error = stw_cfg.topic_error};
    const char *produces[] = {stw_cfg.topic_status, stw_cfg.topic_error, stw_cfg.topic_provider,
                              NULL};
    wa_info("sending via %s as %s; reporting the health of %d channels as instance %s",
            stw_cfg.api_base, stw_cfg.from, stw_nchannels, stw_cfg.instance);
    int rc = wa_sender_run(
        &s, &(struct wa_sender_setup){.service = "sender-twilio",
                                      .brokers = stw_cfg.kafka_brokers,
                                      .group = stw_cfg.group,
                                      .topic = stw_cfg.topic_send,
                                      .listen = stw_cfg.listen,
                                      .database_url = stw_cfg.database_url,
                                      .produces = produces,
                                      .workers = (int)stw_cfg.workers,
                                      .connections = (int)stw_cfg.connections,
                                      /* a call, a reconciling look-up after
                                         its pause, and the retry pause */
                                      .max_handle_ms =
                                          stw_cfg.max_attempts *
                                          (2 * (stw_cfg.connect_timeout_ms + stw_cfg.timeout_ms) +
                                           stw_cfg.base_ms + stw_cfg.cap_ms),
                                      .handle = handle,
                                      .worker_ctx = worker_ctx,
                                      .started = started,
                                      .stopping = stopping});
    curl_global_cleanup();
    return rc;
}
