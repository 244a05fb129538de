/* main.c - sender-baileys: wa.send.baileys to the bridge, with health probing and failover.
 * Config, wiring, the loop. */
#include "sender_baileys.h"
#include "wa_config.h"
#include "wa_health.h"
#include "wa_log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sbl_config sbl_cfg;
static const char *log_level;
struct wa_media_store sbl_store;
static const char *s3_internal;

static const struct wa_cfg config[] = {
    {"KAFKA_BROKERS", "127.0.0.1:9092", WA_CFG_STR, 0, 0, NULL, "Kafka bootstrap servers",
     &sbl_cfg.kafka_brokers, NULL},
    {"DATABASE_URL", NULL, WA_CFG_STR, 0, 0, NULL, "Postgres URL (claims)", &sbl_cfg.database_url,
     NULL},
    {"SENDER_BAILEYS_LISTEN", "127.0.0.1:9103", WA_CFG_LISTEN, 0, 0, NULL,
     "address for /healthz, /readyz, /metrics", &sbl_cfg.listen, NULL},
    {"SENDER_BAILEYS_GROUP", "sender-baileys", WA_CFG_STR, 0, 0, NULL, "Kafka consumer group",
     &sbl_cfg.group, NULL},
    {"SENDER_BAILEYS_TOPIC", "wa.send.baileys", WA_CFG_STR, 0, 0, NULL, "commands to send",
     &sbl_cfg.topic_send, NULL},
    {"SENDER_TWILIO_TOPIC", "wa.send.twilio", WA_CFG_STR, 0, 0, NULL, "where failovers go",
     &sbl_cfg.topic_twilio, NULL},
    {"SENDER_TOPIC_STATUS", "wa.status", WA_CFG_STR, 0, 0, NULL, "results", &sbl_cfg.topic_status,
     NULL},
    {"SENDER_TOPIC_ERROR", "wa.error", WA_CFG_STR, 0, 0, NULL, "what could not be sent",
     &sbl_cfg.topic_error, NULL},
    {"SENDER_TOPIC_PROVIDER", "wa.provider", WA_CFG_STR, 0, 0, NULL, "provider health",
     &sbl_cfg.topic_provider, NULL},
    {"SENDER_INSTANCE", "", WA_CFG_STR, 0, 0, NULL,
     "this instance's name on wa.provider, unique among the instances: letters, digits, '.', "
     "'_', '-', ':', '+', at most 64; empty: <hostname>-<pid>",
     &sbl_cfg.instance, NULL},
    {"BAILEYS_OUTBOUND_URL", "http://127.0.0.1:3001/send", WA_CFG_URL, 0, 0, NULL,
     "the bridge's POST /send", &sbl_cfg.send_url, NULL},
    {"BAILEYS_HEALTH_URL", "", WA_CFG_STR, 0, 0, NULL,
     "the bridge's GET /health; empty: BAILEYS_OUTBOUND_URL with /health for /send",
     &sbl_cfg.health_url, NULL},
    {"BAILEYS_CHANNELS", "", WA_CFG_STR, 0, 0, NULL,
     "several sessions: +E164=<its bridge's /send URL>, comma-separated, the first the default "
     "(each probed at /health beside /send); empty: the one bridge of BAILEYS_OUTBOUND_URL",
     &sbl_cfg.channels, NULL},
    {"BAILEYS_WEBHOOK_SECRET", NULL, WA_CFG_SECRET, 0, 0, NULL, "X-BAILEYS-SECRET for /send",
     &sbl_cfg.secret, NULL},
    {"WHATSAPP_PROVIDER", "auto", WA_CFG_ENUM, 0, 0, "auto|twilio|baileys",
     "baileys: never fail over (the provider is forced)", &sbl_cfg.provider_mode, NULL},
    {"BAILEYS_HEALTH_INTERVAL_S", "30", WA_CFG_INT, 1, 3600, NULL, "probe period while UP", NULL,
     &sbl_cfg.health_interval_s},
    {"BAILEYS_HEALTH_DOWN_INTERVAL_S", "5", WA_CFG_INT, 1, 3600, NULL, "probe period while DOWN",
     NULL, &sbl_cfg.health_down_interval_s},
    {"BAILEYS_DOWN_HOLD_S", "30", WA_CFG_INT, 0, 3600, NULL,
     "DOWN lasts at least this long, then needs a passing probe", NULL, &sbl_cfg.down_hold_s},
    {"BAILEYS_HEALTH_TIMEOUT_MS", "2000", WA_CFG_INT, 100, 60000, NULL, "one probe", NULL,
     &sbl_cfg.health_timeout_ms},
    {"SENDER_MAX_ATTEMPTS", "8", WA_CFG_INT, 1, 100, NULL,
     "bridge calls per message before giving up", NULL, &sbl_cfg.max_attempts},
    {"SENDER_BACKOFF_BASE_MS", "1000", WA_CFG_INT, 1, 60000, NULL, "first retry pause", NULL,
     &sbl_cfg.base_ms},
    {"SENDER_BACKOFF_CAP_MS", "30000", WA_CFG_INT, 1, 600000, NULL, "longest retry pause", NULL,
     &sbl_cfg.cap_ms},
    {"BAILEYS_SEND_TIMEOUT_MS", "15000", WA_CFG_INT, 100, 120000, NULL, "one /send call", NULL,
     &sbl_cfg.timeout_ms},
    {"BAILEYS_CONNECT_TIMEOUT_MS", "1000", WA_CFG_INT, 50, 60000, NULL, "connect to the bridge",
     NULL, &sbl_cfg.connect_timeout_ms},
    WA_MEDIA_STORE_CFG(sbl_store, s3_internal),
    WA_SENDER_LANES_CFG(sbl_cfg.workers, sbl_cfg.connections),
    {"LOG_LEVEL", "info", WA_CFG_ENUM, 0, 0, "debug|info|warn|error", "log verbosity", &log_level,
     NULL},
};

static void metrics_init(void)
{
    wa_send_counters_init(&sbl_m.send, "baileys", 1, "Bridge calls repeated with the same key.");
    sbl_m.probes_failed = wa_metric_new(WA_COUNTER, "wa_sender_baileys_probes_failed_total", "",
                                        "Health probes that failed.");
}

enum wa_result sbl_handle(struct wa_sender *s, CURL *h, const rd_kafka_message_t *m);

static void *worker_ctx(int worker, void *ctx)
{
    (void)worker;
    (void)ctx;
    return curl_easy_init(); /* each worker keeps its own connection to the bridge */
}

static enum wa_result handle(struct wa_sender *s, const rd_kafka_message_t *m, void *curl)
{
    return sbl_handle(s, curl, m);
}

static void started(struct wa_sender *s, void *ctx)
{
    (void)ctx;
    char err[256];
    if (sbl_health_start(s->producer, err, sizeof err) < 0) {
        wa_error("%s", err);
        wa_stop();
    }
}

static void stopping(void *ctx)
{
    (void)ctx;
    sbl_health_stop();
}

int main(void)
{
    wa_memory_lean();
    if (wa_service_start("sender-baileys", config, WA_CFG_COUNT(config), &log_level))
        return WA_EX_CONFIG;
    /* Each instance reports under its own name; two with one name would overwrite each
     * other's health again. */
    static char instance[WA_HEALTH_ID_MAX + 1];
    char why[400];
    if (wa_health_instance(sbl_cfg.instance, instance, why, sizeof why) < 0) {
        fprintf(stderr, "config: %s\n", why);
        return WA_EX_CONFIG;
    }
    sbl_cfg.instance = instance;
    if (sbl_channels_load(sbl_cfg.channels, sbl_cfg.send_url, sbl_cfg.health_url, why, sizeof why) <
        0) {
        fprintf(stderr, "config: %s\n", why);
        return WA_EX_CONFIG;
    }
    if (!sbl_store.endpoint || !sbl_store.endpoint[0]) sbl_store.endpoint = s3_internal;
    metrics_init();
    curl_global_init(CURL_GLOBAL_DEFAULT);
    struct wa_sender s = {.provider = "baileys",
                          .topic_status = sbl_cfg.topic_status,
                          .topic_error = sbl_cfg.topic_error};
    const char *produces[] = {sbl_cfg.topic_twilio, sbl_cfg.topic_status, sbl_cfg.topic_error,
                              sbl_cfg.topic_provider, NULL};
    for (int i = 0; i < sbl_n_channels; i++)
        wa_info("channel %s: sending via %s, probing %s, as instance %s", sbl_channels[i].id,
                sbl_channels[i].send_url, sbl_channels[i].health_url, sbl_cfg.instance);
    int rc = wa_sender_run(
        &s, &(struct wa_sender_setup){
                .service = "sender-baileys",
                .brokers = sbl_cfg.kafka_brokers,
                .group = sbl_cfg.group,
                .topic = sbl_cfg.topic_send,
                .listen = sbl_cfg.listen,
                .database_url = sbl_cfg.database_url,
                .produces = produces,
                .workers = (int)sbl_cfg.workers,
                .connections = (int)sbl_cfg.connections,
                .max_handle_ms = sbl_cfg.max_attempts *
                                 (sbl_cfg.connect_timeout_ms + sbl_cfg.timeout_ms + sbl_cfg.cap_ms),
                .handle = handle,
                .worker_ctx = worker_ctx,
                .started = started,
                .stopping = stopping});
    curl_global_cleanup();
    return rc;
}
