/* main.c - router: the CRM's single writer. Config, wiring, and the consumer loop. */
#include "router.h"
#include "wa_config.h"
#include "wa_http.h"
#include "wa_kafka.h"
#include "wa_log.h"
#include "wa_outbound.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

struct rtr_config rtr_cfg;
struct rtr_metrics rtr_m;
static const char *log_level;
static atomic_int pg_ready;

static const struct wa_cfg config[] = {
    {"KAFKA_BROKERS", "127.0.0.1:9092", WA_CFG_STR, 0, 0, NULL, "Kafka bootstrap servers",
     &rtr_cfg.kafka_brokers, NULL},
    {"DATABASE_URL", NULL, WA_CFG_STR, 0, 0, NULL, "Postgres connection URL", &rtr_cfg.database_url,
     NULL},
    {"ROUTER_LISTEN", "127.0.0.1:9101", WA_CFG_LISTEN, 0, 0, NULL,
     "address for /healthz, /readyz, /metrics", &rtr_cfg.listen, NULL},
    {"ROUTER_GROUP", "router", WA_CFG_STR, 0, 0, NULL, "Kafka consumer group", &rtr_cfg.group,
     NULL},
    RTR_PLAN_CFG(rtr_cfg.provider_mode, rtr_cfg.twilio_from, rtr_cfg.baileys_channels,
                 rtr_cfg.baileys_failover_to, rtr_cfg.reengage_sid),
    {"REENGAGE_VARIABLES", "", WA_CFG_STR, 0, 0, NULL,
     "its variables, a JSON object of strings; {name} is the contact's name",
     &rtr_cfg.reengage_vars, NULL},
    {"HOLD_TTL_S", "604800", WA_CFG_INT, 1, 2592000, NULL,
     "how long a held message waits for the contact's reply before it fails", NULL,
     &rtr_cfg.hold_ttl_s},
    {"OPTOUT_KEYWORDS", "STOP,UNSUBSCRIBE,CANCEL,הסר,הסרה,ביטול", WA_CFG_STR, 0, 0, NULL,
     "an inbound text that is exactly one of these (comma-separated; case and the whitespace "
     "around it aside) opts the contact out of the number it wrote to",
     &rtr_cfg.optout_keywords, NULL},
    {"OPTIN_KEYWORDS", "START", WA_CFG_STR, 0, 0, NULL,
     "and one of these opts it back in (comma-separated)", &rtr_cfg.optin_keywords, NULL},
    {"OPTOUT_CONFIRMATION", "", WA_CFG_STR, 0, 0, NULL,
     "text sent once, through the same number, right after an opt-out; empty: none",
     &rtr_cfg.optout_confirmation, NULL},
    {"ROUTER_TOPIC_INBOUND", "wa.inbound", WA_CFG_STR, 0, 0, NULL, "inbound topic",
     &rtr_cfg.topic_inbound, NULL},
    {"ROUTER_TOPIC_EVENTS", "wa.events", WA_CFG_STR, 0, 0, NULL, "CRM changelog topic",
     &rtr_cfg.topic_events, NULL},
    {"ROUTER_TOPIC_ERROR", "wa.error", WA_CFG_STR, 0, 0, NULL, "where unhandled records go",
     &rtr_cfg.topic_error, NULL},
    {"ROUTER_TOPIC_OUTBOUND", "wa.outbound", WA_CFG_STR, 0, 0, NULL, "send requests topic",
     &rtr_cfg.topic_outbound, NULL},
    {"ROUTER_TOPIC_STATUS", "wa.status", WA_CFG_STR, 0, 0, NULL, "delivery statuses topic",
     &rtr_cfg.topic_status, NULL},
    {"ROUTER_TOPIC_PROVIDER", "wa.provider", WA_CFG_STR, 0, 0, NULL,
     "provider health topic (compacted)", &rtr_cfg.topic_provider, NULL},
    {"ROUTER_TOPIC_SEND_TWILIO", "wa.send.twilio", WA_CFG_STR, 0, 0, NULL,
     "commands for sender-twilio", &rtr_cfg.topic_send_twilio, NULL},
    {"ROUTER_TOPIC_SEND_BAILEYS", "wa.send.baileys", WA_CFG_STR, 0, 0, NULL,
     "commands for sender-baileys", &rtr_cfg.topic_send_baileys, NULL},
    {"ROUTER_TOPIC_MEDIA", "wa.media", WA_CFG_STR, 0, 0, NULL,
     "media jobs for media-worker, one per item of a new inbound message", &rtr_cfg.topic_media,
     NULL},
    {"BAILEYS_HEALTH_STALE_S", "180", WA_CFG_INT, 5, 86400, NULL,
     "a wa.provider report not refreshed for this long is ignored (its prober may be gone)", NULL,
     &rtr_cfg.health_stale_s},
    {"LOG_LEVEL", "info", WA_CFG_ENUM, 0, 0, "debug|info|warn|error", "log verbosity", &log_level,
     NULL},
};

/* OPTOUT_CONFIRMATION is sent as a text message: the send API's limits hold for it. */
static int confirmation_load(char *err, size_t errsz)
{
    const char *t = rtr_cfg.optout_confirmation;
    if (t && !t[0]) t = rtr_cfg.optout_confirmation = NULL;
    if (!t) return 0;
    size_t chars = 0;
    for (const unsigned char *p = (const unsigned char *)t; *p; p++)
        chars += (*p & 0xC0) != 0x80;
    if (chars > WA_TEXT_MAX) {
        snprintf(err, errsz, "OPTOUT_CONFIRMATION: %zu characters, over the %d a text may have",
                 chars, WA_TEXT_MAX);
        return -1;
    }
    return 0;
}

static int ready(void)
{
    return atomic_load(&pg_ready);
}

static void metrics_init(void)
{
    const char *h = "Records of wa.inbound by outcome.";
    rtr_m.stored = wa_metric_new(WA_COUNTER, "wa_router_inbound_total", "result=\"stored\"", h);
    rtr_m.duplicate =
        wa_metric_new(WA_COUNTER, "wa_router_inbound_total", "result=\"duplicate\"", h);
    rtr_m.parked = wa_metric_new(WA_COUNTER, "wa_router_inbound_total", "result=\"parked\"", h);
    rtr_m.retried = wa_metric_new(WA_COUNTER, "wa_router_inbound_total", "result=\"retry\"", h);
    rtr_m.split = wa_metric_new(WA_COUNTER, "wa_router_batches_split_total", "",
                                "batches the CRM refused a record of, stored again one record a "
                                "transaction to find it");
    const char *o = "Send requests by outcome.";
    rtr_m.out_twilio = wa_metric_new(WA_COUNTER, "wa_router_outbound_total",
                                     "result=\"routed\",provider=\"twilio\"", o);
    rtr_m.out_baileys = wa_metric_new(WA_COUNTER, "wa_router_outbound_total",
                                      "result=\"routed\",provider=\"baileys\"", o);
    rtr_m.out_refused = wa_metric_new(WA_COUNTER, "wa_router_outbound_total",
                                      "result=\"refused\",provider=\"none\"", o);
    rtr_m.out_duplicate = wa_metric_new(WA_COUNTER, "wa_router_outbound_total",
                                        "result=\"duplicate\",provider=\"none\"", o);
    rtr_m.out_failover = wa_metric_new(WA_COUNTER, "wa_router_failover_total", "",
                                       "Messages routed to Twilio because Baileys was down.");
    rtr_m.out_held = wa_metric_new(WA_COUNTER, "wa_router_outbound_total",
                                   "result=\"held\",provider=\"twilio\"", o);
    rtr_m.held_expired =
        wa_metric_new(WA_COUNTER, "wa_router_held_expired_total", "",
                      "Held messages failed because the contact did not write in time.");
    const char *st = "Statuses by outcome.";
    rtr_m.st_applied =
        wa_metric_new(WA_COUNTER, "wa_router_status_total", "result=\"applied\"", st);
    rtr_m.st_stale = wa_metric_new(WA_COUNTER, "wa_router_status_total", "result=\"stale\"", st);
    rtr_m.st_unmatched =
        wa_metric_new(WA_COUNTER, "wa_router_status_total", "result=\"unmatched\"", st);
    rtr_m.st_duplicate =
        wa_metric_new(WA_COUNTER, "wa_router_status_total", "result=\"duplicate\"", st);
    const char *cs = "Consent changes recorded (docs/architecture.md §3.5).";
    rtr_m.optout =
        wa_metric_new(WA_COUNTER, "wa_router_consent_changes_total", "change=\"optout\"", cs);
    rtr_m.optin =
        wa_metric_new(WA_COUNTER, "wa_router_consent_changes_total", "change=\"optin\"", cs);
    rtr_m.template_refused = wa_metric_new(WA_COUNTER, "wa_router_consent_changes_total",
                                           "change=\"template_refused\"", cs);
    rtr_m.crm_seconds = wa_metric_new(WA_HISTOGRAM, "wa_router_inbound_to_crm_seconds", "",
                                      "From ingress accepting a message to its CRM commit.");
    rtr_m.published = wa_metric_new(WA_COUNTER, "wa_router_events_published_total", "",
                                    "Events published to wa.events.");
    rtr_m.publish_failed = wa_metric_new(WA_COUNTER, "wa_router_events_publish_failed_total", "",
                                         "Event publications Kafka did not acknowledge (retried).");
}

typedef enum wa_result (*batch_fn)(struct rtr *r, rd_kafka_message_t **ms, size_t n,
                                   struct rtr_outcome *out, enum wa_result *res);

/* One transaction, one commit (one fsync), for up to RTR_BATCH_MAX records of
 * one topic. Returns WA_RETRY when the batch must be redone. */
static enum wa_result handle_kind(struct rtr *r, batch_fn fn, const char *stage,
                                  rd_kafka_message_t **ms, size_t n)
{
    if (!n) return WA_OK;
    struct rtr_outcome *out = wa_xcalloc(n, sizeof *out);
    enum wa_result *res = wa_xcalloc(n, sizeof *res);
    enum wa_result batch = fn(r, ms, n, out, res);
    if (batch == WA_FAIL && n > 1) {
        wa_info("batch of %zu has a record the CRM refuses: one transaction per record", n);
        wa_metric_add(rtr_m.split, 1);
        batch = WA_OK;
        for (size_t i = 0; i < n && batch == WA_OK; i++) {
            enum wa_result one = fn(r, &ms[i], 1, &out[i], &res[i]);
            if (one == WA_RETRY) batch = WA_RETRY;
        }
    } else if (batch == WA_FAIL) {
        batch = WA_OK; /* the single record is marked WA_FAIL: park it */
    }
    if (batch != WA_OK) {
        free(out);
        free(res);
        return WA_RETRY;
    }
    int64_t now = wa_wall_ms();
    for (size_t i = 0; i < n; i++) {
        if (res[i] == WA_FAIL) {
            /* The CRM part is committed; if parking fails the batch is redone,
             * and what was stored comes back as duplicates. */
            if (rtr_park(r, ms[i], stage, out[i].code, out[i].reason) == WA_RETRY) {
                batch = WA_RETRY;
                break;
            }
        } else if (fn != rtr_inbound_batch) {
            continue; /* counted where they were handled */
        } else if (out[i].duplicate) {
            wa_metric_add(rtr_m.duplicate, 1);
        } else {
            wa_metric_add(rtr_m.stored, 1);
            if (out[i].received_ms)
                wa_metric_observe(rtr_m.crm_seconds, (double)(now - out[i].received_ms) / 1e3);
        }
    }
    free(out);
    free(res);
    return batch;
}

/* Inbound first, so a reply in the same batch sees the window its message
 * opened; statuses last, so they find the messages stored just before. */
static enum wa_result handle_batch(struct rtr *r, rd_kafka_message_t **ms, size_t n)
{
    rd_kafka_message_t **in = wa_xcalloc(n, sizeof *in), **out = wa_xcalloc(n, sizeof *out),
                       **st = wa_xcalloc(n, sizeof *st);
    size_t nin = 0, nout = 0, nst = 0;
    for (size_t i = 0; i < n; i++) {
        const char *t = rd_kafka_topic_name(ms[i]->rkt);
        if (strcmp(t, rtr_cfg.topic_outbound) == 0)
            out[nout++] = ms[i];
        else if (strcmp(t, rtr_cfg.topic_status) == 0)
            st[nst++] = ms[i];
        else
            in[nin++] = ms[i];
    }
    enum wa_result res = handle_kind(r, rtr_inbound_batch, "router.inbound", in, nin);
    if (res == WA_OK) res = handle_kind(r, rtr_outbound_batch, "router.outbound", out, nout);
    if (res == WA_OK) res = handle_kind(r, rtr_status_batch, "router.status", st, nst);
    free(in);
    free(out);
    free(st);
    return res;
}

static void run(struct rtr *r)
{
    rd_kafka_message_t *ms[RTR_BATCH_MAX];
    int64_t backoff = 0, last_drain = 0;
    while (wa_running()) {
        size_t n = 0;
        rd_kafka_message_t *m = rd_kafka_consumer_poll(r->consumer, 100);
        rd_kafka_poll(r->producer, 0);
        rtr_health_poll(r);
        if (wa_now_ms() - last_drain > 1000) {
            /* Events left behind by a crash or a Kafka outage go out here. */
            atomic_store(&pg_ready, wa_pg_ok(&r->pg));
            rtr_holds_expire(r);
            rtr_holds_start(r);
            rtr_outbox_publish(r);
            last_drain = wa_now_ms();
        }
        /* Take what is already fetched, without waiting: big batches under
         * load, no added delay when idle. */
        while (m) {
            if (m->err) {
                wa_warn("kafka consumer: %s", rd_kafka_message_errstr(m));
                rd_kafka_message_destroy(m);
            } else {
                ms[n++] = m;
            }
            if (n == RTR_BATCH_MAX) break;
            m = rd_kafka_consumer_poll(r->consumer, 0);
        }
        if (!n) continue;
        enum wa_result res = handle_batch(r, ms, n);
        if (res == WA_RETRY) {
            /* The same records again after a pause; the group stays alive meanwhile. */
            wa_metric_add(rtr_m.retried, (int64_t)n);
            wa_kafka_rewind(r->consumer, ms, n);
            backoff = backoff ? (backoff * 2 > 5000 ? 5000 : backoff * 2) : 100;
            wa_sleep_ms(backoff);
        } else {
            backoff = 0;
            /* Only now, with the batch committed, may the offsets move. */
            for (size_t i = 0; i < n; i++)
                wa_kafka_store_offset(r->consumer, ms[i]);
            rtr_outbox_publish(r);
        }
        for (size_t i = 0; i < n; i++)
            rd_kafka_message_destroy(ms[i]);
    }
}

int main(void)
{
    wa_memory_lean();
    if (wa_service_start("router", config, WA_CFG_COUNT(config), &log_level)) return WA_EX_CONFIG;
    char why[400];
    if (rtr_channels_load(&rtr_cfg.channels, rtr_cfg.twilio_from, rtr_cfg.baileys_channels,
                          rtr_cfg.baileys_failover_to, why, sizeof why) < 0 ||
        rtr_reengage_load(why, sizeof why) < 0 ||
        rtr_keywords_load(&rtr_cfg.keywords, rtr_cfg.optout_keywords, rtr_cfg.optin_keywords, why,
                          sizeof why) < 0 ||
        confirmation_load(why, sizeof why) < 0) {
        fprintf(stderr, "config: %s\n", why);
        return WA_EX_CONFIG;
    }
    metrics_init();

    char err[512];
    struct rtr r = {0};
    r.producer = wa_kafka_producer_new(rtr_cfg.kafka_brokers, "router", 10000, err, sizeof err);
    const char *topics[] = {rtr_cfg.topic_inbound, rtr_cfg.topic_outbound, rtr_cfg.topic_status};
    /* 4 MB fetched ahead: a backlog drains 60 % faster than with 1 MB (wa_kafka.c says why). */
    if (r.producer)
        r.consumer = wa_kafka_consumer_new(rtr_cfg.kafka_brokers, rtr_cfg.group, topics, 3, 0, 4096,
                                           NULL, err, sizeof err);
    if (!r.producer || !r.consumer || rtr_health_start(&r, err, sizeof err) < 0) {
        fprintf(stderr, "config: kafka: %s\n", err);
        return WA_EX_CONFIG;
    }
    struct MHD_Daemon *admin = wa_http_admin_start(rtr_cfg.listen, ready, err, sizeof err);
    if (!admin) {
        wa_error("%s", err);
        return WA_EX_TEMPFAIL;
    }
    /* Postgres may still be starting: wait for it rather than crash-loop. */
    while (wa_running() && wa_pg_connect(&r.pg, rtr_cfg.database_url, rtr_statements,
                                         rtr_nstatements, err, sizeof err) < 0) {
        wa_warn("postgres: %s; retrying", err);
        wa_sleep_ms(1000);
    }
    atomic_store(&pg_ready, 1);
    const char *out[] = {rtr_cfg.topic_events, rtr_cfg.topic_error, rtr_cfg.topic_send_twilio,
                         rtr_cfg.topic_send_baileys, rtr_cfg.topic_media};
    wa_kafka_warm(r.producer, out, 5, 5000);
    wa_info("consuming %s, %s, %s as group %s; health from %s", rtr_cfg.topic_inbound,
            rtr_cfg.topic_outbound, rtr_cfg.topic_status, rtr_cfg.group, rtr_cfg.topic_provider);

    run(&r);

    wa_info("stopping: committing offsets of finished records");
    wa_kafka_consumer_close(r.consumer);
    rtr_health_stop(&r);
    rtr_outbox_publish(&r);
    wa_kafka_producer_close(r.producer, 5000);
    wa_pg_close(&r.pg);
    MHD_stop_daemon(admin);
    wa_info("stopped");
    return wa_kafka_fatal() ? 1 : 0;
}
