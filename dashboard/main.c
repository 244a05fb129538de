/* main.c - dashboard: the operator's view over the CRM and wa.events. Config and wiring. */
#include "dash.h"
#include "wa_client.h"
#include "wa_config.h"
#include "wa_log.h"

#include <stdio.h>
#include <string.h>

struct dash_config dash_cfg;
struct wa_tls dash_tls;
struct wa_edge dash_edge;
struct wa_media_store dash_store;
struct dash_metrics dash_m;
static const char *log_level, *s3_internal;

static const struct wa_cfg config[] = {
    {"DASHBOARD_LISTEN", "127.0.0.1:8090", WA_CFG_LISTEN, 0, 0, NULL, "address to listen on",
     &dash_cfg.listen, NULL},
    {"DASHBOARD_SESSION_S", "43200", WA_CFG_INT, 300, 2592000, NULL,
     "how long a login lasts (the server forgets the session then; logout ends it at once)", NULL,
     &dash_cfg.session_s},
    {"DASHBOARD_SESSION_IDLE_S", "7200", WA_CFG_INT, 60, 2592000, NULL,
     "a login also ends after this long without a request", NULL, &dash_cfg.session_idle_s},
    {"DASHBOARD_COOKIE_SECURE", "0", WA_CFG_INT, 0, 1, NULL,
     "1: the session cookie is sent over HTTPS only (set it behind a TLS proxy; implied by "
     "DASHBOARD_TLS_CERT)",
     NULL, &dash_cfg.cookie_secure},
    {"DASHBOARD_TOKEN", NULL, WA_CFG_SECRET, 0, 0, NULL,
     "the operator's token: log in with it, or send Authorization: Bearer", &dash_cfg.token, NULL},
    {"DATABASE_URL", NULL, WA_CFG_STR, 0, 0, NULL,
     "Postgres URL (reads the CRM; writes sessions and sync requests)", &dash_cfg.database_url,
     NULL},
    {"KAFKA_BROKERS", "127.0.0.1:9092", WA_CFG_STR, 0, 0, NULL, "Kafka bootstrap servers",
     &dash_cfg.kafka_brokers, NULL},
    {"DASHBOARD_TOPIC_EVENTS", "wa.events", WA_CFG_STR, 0, 0, NULL, "the CRM changelog",
     &dash_cfg.topic_events, NULL},
    {"DASHBOARD_WEB_DIR", "dashboard/web", WA_CFG_STR, 0, 0, NULL,
     "the page's files (and node_modules/uplot)", &dash_cfg.web_dir, NULL},
    {"DASHBOARD_DB_POOL", "4", WA_CFG_INT, 1, 64, NULL, "Postgres connections", NULL,
     &dash_cfg.db_pool},
    {"DASHBOARD_SSE_MAX", "500", WA_CFG_INT, 1, 10000, NULL, "live connections at most", NULL,
     &dash_cfg.sse_max},
    {"DASHBOARD_SSE_BUFFER", "4096", WA_CFG_INT, 16, 1000000, NULL,
     "recent events kept for slow connections", NULL, &dash_cfg.sse_buffer},
    WA_TLS_CFG("DASHBOARD", dash_cfg.tls_cert, dash_cfg.tls_key),
    WA_EDGE_CFG("DASHBOARD", dash_edge, "32", "120"),
    {"DASHBOARD_THREADS", "4", WA_CFG_INT, 1, 64, NULL,
     "HTTP threads; each serves many connections, and live ones wait without holding one", NULL,
     &dash_cfg.threads},
    {"DASHBOARD_SEND_URL", "http://127.0.0.1:8080/api/whatsapp/send", WA_CFG_STR, 0, 0, NULL,
     "the send API the operator's replies go to (ingress's POST /api/whatsapp/send)",
     &dash_cfg.send_url, NULL},
    {"DASHBOARD_SEND_CA_FILE", "", WA_CFG_STR, 0, 0, NULL,
     "PEM file of the CAs the send API's certificate is checked against, in place of the "
     "system's (an https DASHBOARD_SEND_URL with a private CA); empty: the system's",
     &wa_client_ca_file, NULL},
    {"DASHBOARD_SEND_TOKEN", "", WA_CFG_SECRET, 0, 0, NULL,
     "the send API's bearer token (ingress's SEND_API_TOKEN); empty: replies are off",
     &dash_cfg.send_token, NULL},
    /* The router's settings: the reply preview plans with the router's code and these. */
    RTR_PLAN_CFG(dash_cfg.provider_mode, dash_cfg.twilio_from, dash_cfg.baileys_channels,
                 dash_cfg.baileys_failover_to, dash_cfg.reengage_sid),
    WA_MEDIA_STORE_CFG(dash_store, s3_internal),
    {"S3_BUCKET", "wa-media", WA_CFG_STR, 0, 0, NULL, "the bucket the operator's uploads go to",
     &dash_cfg.s3_bucket, NULL},
    /* 16 MB: what Twilio takes for one WhatsApp media message (images 5 MB). */
    {"DASHBOARD_MEDIA_MAX_BYTES", "16000000", WA_CFG_INT, 1024, 104857600, NULL,
     "the largest file the operator may upload to send (larger: 413)", NULL, &dash_cfg.media_max},
    {"DASHBOARD_SPOOL_DIR", "/tmp", WA_CFG_STR, 0, 0, NULL,
     "where an upload waits while it is read and stored (unlinked; never in memory)",
     &dash_cfg.spool_dir, NULL},
    {"LOG_LEVEL", "info", WA_CFG_ENUM, 0, 0, "debug|info|warn|error", "log verbosity", &log_level,
     NULL},
};

static void metrics_init(void)
{
    dash_m.requests =
        wa_metric_new(WA_COUNTER, "wa_dashboard_api_requests_total", "", "API requests answered.");
    dash_m.refused = wa_metric_new(WA_COUNTER, "wa_dashboard_refused_total", "",
                                   "Requests without a valid token or session, and bad logins.");
    dash_m.bad = wa_metric_new(WA_COUNTER, "wa_dashboard_bad_requests_total", "",
                               "API requests with bad parameters, and bodies over 4096 bytes.");
    dash_m.sse_clients = wa_metric_new(WA_GAUGE, "wa_dashboard_live_connections", "",
                                       "Browsers connected to /api/events.");
    dash_m.sse_events = wa_metric_new(WA_COUNTER, "wa_dashboard_events_total", "",
                                      "Events read from wa.events and offered to browsers.");
    dash_m.sse_dropped = wa_metric_new(WA_COUNTER, "wa_dashboard_events_dropped_total", "",
                                       "Events a slow connection skipped.");
    dash_m.replies = wa_metric_new(WA_COUNTER, "wa_dashboard_replies_total", "",
                                   "Operator replies handed to the send API and taken (200/202).");
    dash_m.uploads = wa_metric_new(WA_COUNTER, "wa_dashboard_uploads_total", "",
                                   "Files the operator uploaded for a media reply, stored.");
    dash_m.api_seconds =
        wa_metric_new(WA_HISTOGRAM, "wa_dashboard_api_seconds", "", "API answer time.");
}

int main(void)
{
    if (wa_service_start("dashboard", config, WA_CFG_COUNT(config), &log_level))
        return WA_EX_CONFIG;
    if (strlen(dash_cfg.token) < 12) {
        fprintf(stderr, "config: DASHBOARD_TOKEN is shorter than 12 characters\n");
        return WA_EX_CONFIG;
    }
    char err[512];
    if (wa_edge_start(&dash_edge, err, sizeof err) < 0) {
        fprintf(stderr, "config: %s\n", err);
        return WA_EX_CONFIG;
    }
    if (wa_tls_load(&dash_tls, "DASHBOARD", dash_cfg.tls_cert, dash_cfg.tls_key, err, sizeof err) <
        0) {
        fprintf(stderr, "config: %s\n", err);
        return WA_EX_CONFIG;
    }
    /* Served over HTTPS itself: the session cookie never goes over plain HTTP. */
    if (wa_tls_on(&dash_tls) && !dash_cfg.cookie_secure) {
        dash_cfg.cookie_secure = 1;
        wa_info("DASHBOARD_TLS_CERT is set: the session cookie is Secure (DASHBOARD_COOKIE_SECURE "
                "taken as 1)");
    }
    if (!dash_store.endpoint || !dash_store.endpoint[0]) dash_store.endpoint = s3_internal;
    dash_cfg.s3_endpoint = s3_internal && s3_internal[0] ? s3_internal : dash_store.endpoint;
    char why[400];
    if (rtr_channels_load(&dash_cfg.channels, dash_cfg.twilio_from, dash_cfg.baileys_channels,
                          dash_cfg.baileys_failover_to, why, sizeof why) < 0) {
        fprintf(stderr, "config: %s\n", why);
        return WA_EX_CONFIG;
    }
    if (wa_client_ca_file && wa_client_ca_file[0] &&
        wa_tls_check_ca("DASHBOARD_SEND_CA_FILE", wa_client_ca_file, err, sizeof err) < 0) {
        fprintf(stderr, "config: %s\n", err);
        return WA_EX_CONFIG;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    metrics_init();
    if (dash_db_start(err, sizeof err) < 0 || dash_sse_start(err, sizeof err) < 0) {
        fprintf(stderr, "config: %s\n", err);
        return WA_EX_CONFIG;
    }
    struct MHD_Daemon *d = dash_http_start(err, sizeof err);
    if (!d) {
        wa_error("%s", err);
        return WA_EX_TEMPFAIL;
    }
    wa_info("dashboard on %s://%s (web %s)", wa_tls_scheme(&dash_tls), dash_cfg.listen,
            dash_cfg.web_dir);
    while (wa_running())
        wa_sleep_ms(200);
    wa_info("stopping");
    dash_sse_stop(); /* wakes the live connections, which then end */
    MHD_stop_daemon(d);
    wa_tls_free(&dash_tls);
    return 0;
}
