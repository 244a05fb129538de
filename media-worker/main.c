/* main.c - media-worker: wa.media jobs into object storage, one uniform copy per item.
 * Config, wiring; the loop is the senders' (common/wa_send.c). */
#include "media.h"
#include "wa_config.h"
#include "wa_log.h"

#include <stdlib.h>
#include <string.h>

struct mw_config mw_cfg;
static const char *log_level;

static const struct wa_cfg config[] = {
    {"KAFKA_BROKERS", "127.0.0.1:9092", WA_CFG_STR, 0, 0, NULL, "Kafka bootstrap servers",
     &mw_cfg.kafka_brokers, NULL},
    {"DATABASE_URL", NULL, WA_CFG_STR, 0, 0, NULL, "Postgres URL (media rows)",
     &mw_cfg.database_url, NULL},
    {"MEDIA_WORKER_LISTEN", "127.0.0.1:9104", WA_CFG_LISTEN, 0, 0, NULL,
     "address for /healthz, /readyz, /metrics", &mw_cfg.listen, NULL},
    {"MEDIA_WORKER_GROUP", "media-worker", WA_CFG_STR, 0, 0, NULL, "Kafka consumer group",
     &mw_cfg.group, NULL},
    {"MEDIA_TOPIC", "wa.media", WA_CFG_STR, 0, 0, NULL, "jobs in, stored results out",
     &mw_cfg.topic_media, NULL},
    {"MEDIA_TOPIC_EVENTS", "wa.events", WA_CFG_STR, 0, 0, NULL,
     "the CRM changelog (via the outbox)", &mw_cfg.topic_events, NULL},
    {"MEDIA_TOPIC_ERROR", "wa.error", WA_CFG_STR, 0, 0, NULL, "jobs that could not be done",
     &mw_cfg.topic_error, NULL},
    {"MEDIA_ALLOWED_HOSTS",
     "api.twilio.com,.twiliocdn.com,s3-external-1.amazonaws.com,127.0.0.1:3001", WA_CFG_STR, 0, 0,
     NULL,
     "hosts media may come from: host, host:port, or .domain (its subdomains); add the bridge's",
     &mw_cfg.allowed_hosts, NULL},
    {"MEDIA_PRIVATE_HOSTS", "", WA_CFG_STR, 0, 0, NULL,
     "allowed hosts that may resolve to private addresses (the bridge on a private network)",
     &mw_cfg.private_hosts, NULL},
    {"MEDIA_ALLOW_PRIVATE", "0", WA_CFG_INT, 0, 1, NULL,
     "1: allow loopback and private addresses (development only)", NULL, &mw_cfg.allow_private},
    {"MEDIA_MAX_BYTES", "105906176", WA_CFG_INT, 1024, 2147483647L, NULL,
     "largest file (default 101 MiB, just above WhatsApp's 100 MB documents)", NULL,
     &mw_cfg.max_bytes},
    {"MEDIA_MAX_REDIRECTS", "5", WA_CFG_INT, 0, 20, NULL, "redirects followed per file", NULL,
     &mw_cfg.max_redirects},
    {"MEDIA_CONNECT_TIMEOUT_MS", "5000", WA_CFG_INT, 100, 60000, NULL, "connect", NULL,
     &mw_cfg.connect_timeout_ms},
    {"MEDIA_TIMEOUT_MS", "300000", WA_CFG_INT, 1000, 3600000, NULL, "one transfer, whole", NULL,
     &mw_cfg.timeout_ms},
    {"MEDIA_MAX_ATTEMPTS", "5", WA_CFG_INT, 1, 100, NULL, "tries on 5xx and transport errors", NULL,
     &mw_cfg.max_attempts},
    {"MEDIA_BACKOFF_BASE_MS", "1000", WA_CFG_INT, 1, 60000, NULL, "first retry pause", NULL,
     &mw_cfg.base_ms},
    {"MEDIA_BACKOFF_CAP_MS", "30000", WA_CFG_INT, 1, 600000, NULL, "longest retry pause", NULL,
     &mw_cfg.cap_ms},
    {"MEDIA_SPOOL_DIR", "/tmp", WA_CFG_STR, 0, 0, NULL,
     "where a file waits between download and upload (unlinked; never in memory)",
     &mw_cfg.spool_dir, NULL},
    {"MEDIA_WORKERS", "2", WA_CFG_INT, 1, 64, NULL, "files in parallel", NULL, &mw_cfg.workers},
    {"TWILIO_ACCOUNT_SID", "", WA_CFG_STR, 0, 0, NULL, "basic auth for Twilio media URLs",
     &mw_cfg.twilio_sid, NULL},
    {"TWILIO_AUTH_TOKEN", "", WA_CFG_SECRET, 0, 0, NULL, "basic auth for Twilio media URLs",
     &mw_cfg.twilio_token, NULL},
    {"BAILEYS_WEBHOOK_SECRET", "", WA_CFG_SECRET, 0, 0, NULL,
     "X-BAILEYS-SECRET for the bridge's /media/:id", &mw_cfg.bridge_secret, NULL},
    {"S3_ENDPOINT", NULL, WA_CFG_URL, 0, 0, NULL, "S3-compatible endpoint (path-style)",
     &mw_cfg.s3_endpoint, NULL},
    {"S3_BUCKET", "wa-media", WA_CFG_STR, 0, 0, NULL, "bucket", &mw_cfg.s3_bucket, NULL},
    {"S3_ACCESS_KEY", NULL, WA_CFG_STR, 0, 0, NULL, "access key", &mw_cfg.s3_access_key, NULL},
    {"S3_SECRET_KEY", NULL, WA_CFG_SECRET, 0, 0, NULL, "secret key", &mw_cfg.s3_secret_key, NULL},
    {"S3_REGION", "us-east-1", WA_CFG_STR, 0, 0, NULL, "SigV4 region", &mw_cfg.s3_region, NULL},
    {"LOG_LEVEL", "info", WA_CFG_ENUM, 0, 0, "debug|info|warn|error", "log verbosity", &log_level,
     NULL},
};

extern const struct wa_pg_stmt mw_statements[];
extern const size_t mw_nstatements;
enum wa_result mw_handle(struct wa_sender *s, const rd_kafka_message_t *m, void *curl);

static void metrics_init(void)
{
    const char *h = "Media jobs by outcome.";
    mw_m.stored = wa_metric_new(WA_COUNTER, "wa_media_jobs_total", "result=\"stored\"", h);
    mw_m.duplicate = wa_metric_new(WA_COUNTER, "wa_media_jobs_total", "result=\"duplicate\"", h);
    mw_m.refused = wa_metric_new(WA_COUNTER, "wa_media_jobs_total", "result=\"refused\"", h);
    mw_m.failed = wa_metric_new(WA_COUNTER, "wa_media_jobs_total", "result=\"failed\"", h);
    mw_m.retried = wa_metric_new(WA_COUNTER, "wa_media_retries_total", "",
                                 "Transfers repeated after 5xx or transport errors.");
    mw_m.bytes = wa_metric_new(WA_COUNTER, "wa_media_stored_bytes_total", "", "Bytes stored.");
    mw_m.mismatch = wa_metric_new(WA_COUNTER, "wa_media_mime_mismatch_total", "",
                                  "Files whose bytes disagree with their declared type.");
    mw_m.seconds = wa_metric_new(WA_HISTOGRAM, "wa_media_job_seconds", "",
                                 "From taking a job to its row being stored.");
}

static void *worker_ctx(int worker, void *ctx)
{
    (void)worker;
    (void)ctx;
    return curl_easy_init();
}

int main(void)
{
    if (wa_service_start("media-worker", config, WA_CFG_COUNT(config), &log_level))
        return WA_EX_CONFIG;
    if (!mw_cfg.twilio_sid) mw_cfg.twilio_sid = "";
    if (!mw_cfg.twilio_token || !mw_cfg.twilio_sid[0]) mw_cfg.twilio_token = NULL;
    metrics_init();
    curl_global_init(CURL_GLOBAL_DEFAULT);
    struct wa_sender s = {.provider = "media",
                          .stage = "media-worker",
                          .topic_status = mw_cfg.topic_media,
                          .topic_error = mw_cfg.topic_error};
    const char *produces[] = {mw_cfg.topic_media, mw_cfg.topic_error, NULL};
    int rc = wa_sender_run(
        &s, &(struct wa_sender_setup){
                .service = "media-worker",
                .brokers = mw_cfg.kafka_brokers,
                .group = mw_cfg.group,
                .topic = mw_cfg.topic_media,
                .listen = mw_cfg.listen,
                .database_url = mw_cfg.database_url,
                .produces = produces,
                .workers = (int)mw_cfg.workers,
                /* fetch and store, each with its tries */
                .max_handle_ms = 2 * mw_cfg.max_attempts *
                                 (mw_cfg.connect_timeout_ms + mw_cfg.timeout_ms + mw_cfg.cap_ms),
                .stmts = mw_statements,
                .nstmts = mw_nstatements,
                .handle = mw_handle,
                .worker_ctx = worker_ctx});
    curl_global_cleanup();
    return rc;
}
