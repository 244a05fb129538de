/* health.c - provider health from wa.provider: every router reads the whole topic itself, so
 * each one routes on every change. The reports of the Baileys channel's instances are merged by
 * health_merge.c (docs/architecture.md §3.3); a change of the merged state is recorded (once) as
 * a provider.health event. */
#include "health_merge.h"
#include "router.h"
#include "wa_form.h"
#include "wa_health.h"
#include "wa_log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct rtr_channel baileys; /* the one Baileys channel */
static struct {
    int caught_up; /* the topic has been read to its end once */
    int have_last; /* last holds the merged state this router last saw */
    int pending;   /* to_record is a change not yet in the CRM */
    struct rtr_merged last, to_record;
    char reason[RTR_HEALTH_REASON];
} seen;

static int64_t stale_ms(void)
{
    return rtr_cfg.health_stale_s * 1000;
}

int rtr_health_start(struct rtr *r, char *err, size_t errsz)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char group[96];
    /* Not a shared group: this consumer never commits and always reads the
     * compacted topic from its start. The end of the partition is reported, so that what is
     * only history replayed at start is never recorded as a change. */
    snprintf(group, sizeof group, "router-health-%ld", (long)getpid());
    if (rd_kafka_conf_set(conf, "bootstrap.servers", rtr_cfg.kafka_brokers, err, errsz) ||
        rd_kafka_conf_set(conf, "group.id", group, err, errsz) ||
        rd_kafka_conf_set(conf, "enable.auto.commit", "false", err, errsz) ||
        rd_kafka_conf_set(conf, "enable.auto.offset.store", "false", err, errsz) ||
        rd_kafka_conf_set(conf, "enable.partition.eof", "true", err, errsz)) {
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

/* Writes the pending change into the CRM (and the outbox) once. */
static void record(struct rtr *r)
{
    char err[512], since[24];
    enum wa_result res;
    const char *state = rtr_health_name(seen.to_record.state);
    snprintf(since, sizeof since, "%lld", (long long)seen.to_record.since_ms);
    json_t *e = json_pack("{s:i, s:s, s:s, s:s, s:I, s:s, s:s, s:I, s:i}", "v", 1, "type",
                          "provider.health", "provider", "baileys", "channel",
                          WA_HEALTH_BAILEYS_CHANNEL, "at_ms", (json_int_t)wa_wall_ms(), "state",
                          state, "reason", seen.reason, "since_ms",
                          (json_int_t)seen.to_record.since_ms, "instances", seen.to_record.live);
    char *ev = e ? json_dumps(e, JSON_COMPACT) : NULL;
    json_decref(e);
    if (!ev) {
        wa_warn("provider health event could not be encoded (not recorded)");
        seen.pending = 0;
        return;
    }
    const char *p[] = {"baileys", state, seen.reason, since, rtr_cfg.topic_events, ev};
    PGresult *q = wa_pg_exec(&r->pg, "health_record", 6, p, &res, err, sizeof err);
    free(ev);
    if (!q) {
        wa_warn("postgres %s (provider health is recorded later)", err);
        return;
    }
    PQclear(q);
    seen.pending = 0;
}

/* A tombstone: the instance left cleanly. Its key says who it was. */
static void forget(const char *key, size_t klen, int64_t at_ms, int64_t offset)
{
    char channel[WA_HEALTH_ID_MAX + 1], instance[WA_HEALTH_ID_MAX + 1];
    if (!key || wa_health_key_split(key, klen, channel, instance) < 0) {
        wa_warn("ignoring a wa.provider tombstone with a key that names no instance offset=%lld",
                (long long)offset);
        return;
    }
    if (strcmp(channel, WA_HEALTH_BAILEYS_CHANNEL) != 0) return;
    rtr_channel_forget(&baileys, instance, at_ms, stale_ms());
    wa_info("channel %s: instance %s left", channel, instance[0] ? instance : "(unnamed)");
}

/* One wa.provider record (docs/events.md): a report replaces its instance's previous one; an
 * empty value (a tombstone) forgets the instance. at_ms is the record's Kafka timestamp. */
static void apply(const char *key, size_t klen, const void *val, size_t len, int64_t at_ms,
                  int64_t offset)
{
    if (!val) {
        forget(key, klen, at_ms, offset);
        return;
    }
    json_error_t je;
    json_t *o = json_loadb(val, len, 0, &je);
    const char *provider = NULL, *state = NULL, *reason = "", *channel = NULL, *instance = "";
    json_int_t since = 0, checked = 0;
    if (!o ||
        json_unpack_ex(o, &je, 0, "{s:s, s:s, s?s, s:I, s?I, s?s, s?s}", "provider", &provider,
                       "state", &state, "reason", &reason, "since_ms", &since, "checked_ms",
                       &checked, "channel", &channel, "instance", &instance) != 0) {
        wa_warn("ignoring a malformed wa.provider record offset=%lld: %s", (long long)offset,
                je.text);
        json_decref(o);
        return;
    }
    if (since < 0 || checked < 0) {
        /* A time before 1970 is no report: and age arithmetic on it would overflow. */
        wa_warn("ignoring a wa.provider record with a negative time offset=%lld",
                (long long)offset);
        json_decref(o);
        return;
    }
    /* Without a channel, a record is about its provider's one channel; without an instance,
     * it is the old format's single prober. */
    if (!channel) channel = provider;
    if (!wa_health_id_valid(channel) || (instance[0] && !wa_health_id_valid(instance))) {
        wa_warn("ignoring a wa.provider record with an invalid channel or instance offset=%lld",
                (long long)offset);
        json_decref(o);
        return;
    }
    if (strcmp(provider, "baileys") == 0 && strcmp(channel, WA_HEALTH_BAILEYS_CHANNEL) == 0) {
        struct rtr_report rep = {.up = strcmp(state, "UP") == 0,
                                 .since_ms = since,
                                 .checked_ms = checked ? checked : since};
        snprintf(rep.instance, sizeof rep.instance, "%s", instance);
        wa_utf8_copy(rep.reason, sizeof rep.reason, reason); /* the bridge's words: any bytes */
        rtr_channel_put(&baileys, &rep);
        wa_debug("channel %s: instance %s says %s since %lld", channel,
                 instance[0] ? instance : "(unnamed)", state, (long long)since);
    }
    json_decref(o);
}

/* Merges the channel as of now; a change of the merged state becomes pending. */
static void note(int64_t now_ms)
{
    struct rtr_merged m = rtr_channel_merge(&baileys, now_ms, stale_ms());
    if (!rtr_health_changed(&seen.last, seen.have_last, &m)) return;
    seen.last = m;
    seen.have_last = 1;
    seen.to_record = m;
    seen.pending = 1;
    rtr_health_describe(&baileys, &m, seen.reason, sizeof seen.reason);
    wa_info("provider baileys is %s since %lld (%d live instances): %s", rtr_health_name(m.state),
            (long long)m.since_ms, m.live, seen.reason);
}

void rtr_health_poll(struct rtr *r)
{
    rd_kafka_message_t *m;
    while ((m = rd_kafka_consumer_poll(r->health, 0)) != NULL) {
        if (!m->err) {
            int64_t ts = rd_kafka_message_timestamp(m, NULL);
            apply((const char *)m->key, m->key_len, m->payload, m->len, ts > 0 ? ts : wa_wall_ms(),
                  m->offset);
        } else if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            seen.caught_up = 1;
        }
        rd_kafka_message_destroy(m);
    }
    int64_t now = wa_wall_ms();
    struct rtr_merged now_m = rtr_channel_merge(&baileys, now, stale_ms());
    wa_metric_set(rtr_m.baileys_up, now_m.state == RTR_HEALTH_UP);
    wa_metric_set(rtr_m.baileys_instances, now_m.live);
    /* What the topic held at start is history: only the state it adds up to is a change. */
    if (seen.caught_up) note(now);
    if (seen.pending) record(r);
}

int rtr_baileys_up(void)
{
    return rtr_channel_merge(&baileys, wa_wall_ms(), stale_ms()).state == RTR_HEALTH_UP;
}

void rtr_health_stop(struct rtr *r)
{
    if (!r->health) return;
    rd_kafka_consumer_close(r->health);
    rd_kafka_destroy(r->health);
}
