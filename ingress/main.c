/* main.c - ingress: the HTTP edge. Config, wiring, and the producer's poll loop. */
#include "ingress.h"
#include "wa_config.h"
#include "wa_log.h"
#include "wa_net.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ing_config ing_cfg;
struct wa_tls ing_tls;
struct wa_edge ing_edge;
rd_kafka_t *ing_producer;
static const char *log_level;
static atomic_int kafka_ready_flag;

static const struct wa_cfg config[] = {
    {"INGRESS_LISTEN", "127.0.0.1:8080", WA_CFG_LISTEN, 0, 0, NULL, "address to listen on",
     &ing_cfg.listen, NULL},
    {"PUBLIC_BASE_URL", NULL, WA_CFG_URL, 0, 0, NULL,
     "the URL Twilio calls, without the path; signatures are checked against it",
     &ing_cfg.public_base_url, NULL},
    {"TWILIO_AUTH_TOKEN", NULL, WA_CFG_SECRET, 0, 0, NULL, "Twilio auth token that signs webhooks",
     &ing_cfg.twilio_auth_token, NULL},
    {"KAFKA_BROKERS", "127.0.0.1:9092", WA_CFG_STR, 0, 0, NULL, "Kafka bootstrap servers",
     &ing_cfg.kafka_brokers, NULL},
    {"INGRESS_TOPIC_INBOUND", "wa.inbound", WA_CFG_STR, 0, 0, NULL, "topic for inbound messages",
     &ing_cfg.topic_inbound, NULL},
    {"BAILEYS_WEBHOOK_SECRET", NULL, WA_CFG_SECRET, 0, 0, NULL,
     "shared secret the bridge sends in X-BAILEYS-SECRET", &ing_cfg.baileys_secret, NULL},
    {"BAILEYS_ALLOWED_IPS", "", WA_CFG_STR, 0, 0, NULL,
     "comma-separated addresses or networks (a.b.c.d/n, IPv6 too) the bridge posts from; "
     "empty: any",
     &ing_cfg.baileys_allowed_ips, NULL},
    {"INGRESS_TOPIC_STATUS", "wa.status", WA_CFG_STR, 0, 0, NULL, "topic for delivery statuses",
     &ing_cfg.topic_status, NULL},
    {"INGRESS_TOPIC_OUTBOUND", "wa.outbound", WA_CFG_STR, 0, 0, NULL, "topic for send requests",
     &ing_cfg.topic_outbound, NULL},
    {"INGRESS_TOPIC_ERROR", "wa.error", WA_CFG_STR, 0, 0, NULL,
     "topic for what could not be done: the entries the bridge parked", &ing_cfg.topic_error, NULL},
    {"SEND_API_TOKEN", "", WA_CFG_SECRET, 0, 0, NULL,
     "bearer token of POST /api/whatsapp/send and GET /api/whatsapp/messages/{id}; empty: off",
     &ing_cfg.send_token, NULL},
    {"DATABASE_URL", "", WA_CFG_STR, 0, 0, NULL,
     "Postgres URL, read by GET /api/whatsapp/messages/{id} and the repeat check of sends",
     &ing_cfg.database_url, NULL},
    {"INGRESS_MAX_BODY", "524288", WA_CFG_INT, 1024, 900 << 10, NULL, "largest request body, bytes",
     NULL, &ing_cfg.max_body},
    /* Each open connection has this much (libmicrohttpd's pool): at 300 sends/s in
     * bench-outbound, about 400 connections at once made 32 KB a 25 MB process, 8 KB 17 MB.
     * Webhooks' and API calls' headers are well under 8 KB. */
    {"INGRESS_MAX_HEADER", "8192", WA_CFG_INT, 4096, 1 << 20, NULL,
     "memory per connection for headers, bytes", NULL, &ing_cfg.max_header},
    {"INGRESS_KAFKA_DEADLINE_MS", "5000", WA_CFG_INT, 100, 60000, NULL,
     "answer 503 when Kafka has not acknowledged within this time", NULL,
     &ing_cfg.kafka_deadline_ms},
    {"INGRESS_CLIENT_TIMEOUT_S", "10", WA_CFG_INT, 1, 300, NULL,
     "drop a connection idle this long (slow clients)", NULL, &ing_cfg.client_timeout_s},
    {"INGRESS_MAX_CONNECTIONS", "4096", WA_CFG_INT, 16, 100000, NULL, "open connections at most",
     NULL, &ing_cfg.max_connections},
    {"INGRESS_THREADS", "2", WA_CFG_INT, 1, 64, NULL, "HTTP threads", NULL, &ing_cfg.threads},
    WA_TLS_CFG("INGRESS", ing_cfg.tls_cert, ing_cfg.tls_key),
    /* 512 per address: an application calling the send API is one address with a pool of
     * connections (make bench-pacing's load was cut at 64); slow ones are cut at the deadline. */
    WA_EDGE_CFG("INGRESS", ing_edge, "512", "30"),
    {"LOG_LEVEL", "info", WA_CFG_ENUM, 0, 0, "debug|info|warn|error", "log verbosity", &log_level,
     NULL},
};

int ing_kafka_is_ready(void)
{
    return atomic_load(&kafka_ready_flag);
}

/* Readiness needs a broker round trip; do it here, never on a request. */
static void *readiness_loop(void *arg)
{
    (void)arg;
    while (wa_running()) {
        atomic_store(&kafka_ready_flag, wa_kafka_reachable(ing_producer, 1000));
        wa_sleep_ms(2000);
    }
    return NULL;
}

int main(void)
{
    if (wa_service_start("ingress", config, WA_CFG_COUNT(config), &log_level)) return WA_EX_CONFIG;
    char why[300];
    if (wa_netlist_check(ing_cfg.baileys_allowed_ips, why, sizeof why) < 0) {
        /* A typo must not open the bridge endpoints to everyone, nor close them silently. */
        fprintf(stderr, "config: BAILEYS_ALLOWED_IPS: %s\n", why);
        return WA_EX_CONFIG;
    }
    char err[512];
    if (wa_edge_start(&ing_edge, err, sizeof err) < 0) {
        fprintf(stderr, "config: %s\n", err);
        return WA_EX_CONFIG;
    }
    if (wa_tls_load(&ing_tls, "INGRESS", ing_cfg.tls_cert, ing_cfg.tls_key, err, sizeof err) < 0) {
        fprintf(stderr, "config: %s\n", err);
        return WA_EX_CONFIG;
    }
    if (wa_tls_on(&ing_tls) && strncmp(ing_cfg.public_base_url, "https://", 8) != 0)
        wa_warn("ingress serves HTTPS but PUBLIC_BASE_URL=%s is not https://: Twilio signs the URL "
                "it calls, so its signatures will not match unless it really calls that URL",
                ing_cfg.public_base_url);
    ing_metrics_init();
    /* The CRM worker (crm.c) gives up on a connect after 2 s. */
    setenv("PGCONNECT_TIMEOUT", "2", 0);

    ing_producer = wa_kafka_producer_new(ing_cfg.kafka_brokers, "ingress",
                                         (int)ing_cfg.kafka_deadline_ms, err, sizeof err);
    if (!ing_producer) {
        fprintf(stderr, "config: kafka producer: %s\n", err);
        return WA_EX_CONFIG;
    }
    const char *out[] = {ing_cfg.topic_inbound, ing_cfg.topic_status, ing_cfg.topic_outbound,
                         ing_cfg.topic_error};
    wa_kafka_warm(ing_producer, out, 4, 5000);
    struct MHD_Daemon *d = ing_http_start(err, sizeof err);
    if (!d) {
        wa_error("%s", err);
        rd_kafka_destroy(ing_producer);
        wa_tls_free(&ing_tls);
        return WA_EX_TEMPFAIL;
    }
    pthread_t ready_thread;
    pthread_create(&ready_thread, NULL, readiness_loop, NULL);
    ing_crm_start();
    wa_info("listening on %s://%s", wa_tls_scheme(&ing_tls), ing_cfg.listen);

    /* Delivery reports run here, and each one resumes its HTTP connection. */
    while (wa_running())
        rd_kafka_poll(ing_producer, 100);

    wa_info("stopping: no new connections, finishing the ones waiting for Kafka");
    MHD_quiesce_daemon(d);
    for (int i = 0; i < 100 && wa_metric_value(ing_m_inflight) > 0; i++)
        rd_kafka_poll(ing_producer, 100);
    ing_crm_stop(); /* every suspended lookup is resumed before the daemon stops */
    MHD_stop_daemon(d);
    wa_tls_free(&ing_tls);
    pthread_join(ready_thread, NULL);
    wa_kafka_producer_close(ing_producer, 5000);
    int fatal = wa_kafka_fatal();
    wa_info("stopped");
    return fatal ? 1 : 0;
}
