/* health.c - provider health from wa.provider: every router reads the whole topic itself, so
 * each one routes on every change; the change is recorded (once) as a provider.health event. */
#include "router.h"
#include "wa_form.h"
#include "wa_log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct {
    int known, up, pending;
    int64_t since_ms, checked_ms;
    char reason[256];
} baileys;

int rtr_health_start(struct rtr *r, char *err, size_t errsz)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char group[96];
    /* Not a shared group: this consumer never commits and always reads the
     * compacted topic from its start. */
    snprintf(group, sizeof group, "router-health-%ld", (long)getpid());
    if (rd_kafka_conf_set(conf, "bootstrap.servers", rtr_cfg.kafka_brokers, err, errsz) ||
        rd_kafka_conf_set(conf, "group.id", group, err, errsz) ||
        rd_kafka_conf_set(conf, "enable.auto.commit", "false", err, errsz) ||
        rd_kafka_conf_set(conf, "enable.auto.offset.store", "false", err, errsz)) {
        rd_kafka_conf_destroy(conf);
        return -1;
    }
    r->health = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, errsz);
    if (!r->health) return -1;
    rd_kafka_topic_partition_list_t *tp = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(tp, rtr_cfg.topic_provider, 0)->offset =
        RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_resp_err_t e = rd_kafka_assign(r->health, tp);
    rd_kafka_topic_partition_list_destroy(tp);
    if (e) {
        snprintf(err, errsz, "assign %s: %s", rtr_cfg.topic_provider, rd_kafka_err2str(e));
        return -1;
    }
    return 0;
}

/* Writes a pending change into the CRM (and the outbox) once. */
static void record(struct rtr *r)
{
    char err[512], since[24];
    enum wa_result res;
    snprintf(since, sizeof since, "%lld", (long long)baileys.since_ms);
    json_t *e = json_pack("{s:i, s:s, s:s, s:I, s:s, s:s, s:I}", "v", 1, "type", "provider.health",
                          "provider", "baileys", "at_ms", (json_int_t)wa_wall_ms(), "state",
                          baileys.up ? "UP" : "DOWN", "reason", baileys.reason, "since_ms",
                          (json_int_t)baileys.since_ms);
    char *ev = e ? json_dumps(e, JSON_COMPACT) : NULL;
    json_decref(e);
    if (!ev) {
        wa_warn("provider health event could not be encoded (not recorded)");
        baileys.pending = 0;
        return;
    }
    const char *p[] = {"baileys", baileys.up ? "UP" : "DOWN", baileys.reason,
                       since,     rtr_cfg.topic_events,       ev};
    PGresult *q = wa_pg_exec(&r->pg, "health_record", 6, p, &res, err, sizeof err);
    free(ev);
    if (!q) {
        wa_warn("postgres %s (provider health is recorded later)", err);
        return;
    }
    PQclear(q);
    baileys.pending = 0;
}

static void apply(const rd_kafka_message_t *m)
{
    json_error_t je;
    json_t *o = json_loadb(m->payload, m->len, 0, &je);
    const char *provider = NULL, *state = NULL, *reason = "";
    json_int_t since = 0, checked = 0;
    if (!o || json_unpack_ex(o, &je, 0, "{s:s, s:s, s?s, s:I, s?I}", "provider", &provider, "state",
                             &state, "reason", &reason, "since_ms", &since, "checked_ms",
                             &checked) != 0) {
        wa_warn("ignoring a malformed wa.provider record offset=%lld: %s", (long long)m->offset,
                je.text);
        json_decref(o);
        return;
    }
    if (since < 0 || checked < 0) {
        /* A time before 1970 is no report: and age arithmetic on it would overflow. */
        wa_warn("ignoring a wa.provider record with a negative time offset=%lld",
                (long long)m->offset);
        json_decref(o);
        return;
    }
    if (strcmp(provider, "baileys") == 0) {
        int up = strcmp(state, "UP") == 0;
        int changed = !baileys.known || up != baileys.up || since != baileys.since_ms;
        baileys.known = 1;
        baileys.up = up;
        baileys.since_ms = since;
        baileys.checked_ms = checked ? checked : since;
        wa_utf8_copy(baileys.reason, sizeof baileys.reason, reason);
        if (changed) {
            baileys.pending = 1;
            wa_info("provider baileys is %s since %lld: %s", state, (long long)since, reason);
        }
    }
    json_decref(o);
}

void rtr_health_poll(struct rtr *r)
{
    rd_kafka_message_t *m;
    while ((m = rd_kafka_consumer_poll(r->health, 0)) != NULL) {
        if (!m->err) apply(m);
        rd_kafka_message_destroy(m);
    }
    wa_metric_set(rtr_m.baileys_up, rtr_baileys_up());
    if (baileys.pending) record(r);
}

int rtr_baileys_up(void)
{
    /* A report nobody has refreshed is no evidence: the prober may be gone. */
    return baileys.known && baileys.up &&
           wa_wall_ms() - baileys.checked_ms < rtr_cfg.health_stale_s * 1000;
}

void rtr_health_stop(struct rtr *r)
{
    if (!r->health) return;
    rd_kafka_consumer_close(r->health);
    rd_kafka_destroy(r->health);
}
