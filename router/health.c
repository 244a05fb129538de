/* health.c - channel health from wa.provider: every router reads the whole topic itself, so
 * each one routes on every change. Each channel's reports (one per instance: the probers of a
 * Baileys session, the senders of a Twilio number) are merged by health_merge.c
 * (docs/architecture.md §3.3); a change of a channel's merged state is recorded (once) as a
 * provider.health event. */
#include "health_merge.h"
#include "router.h"
#include "wa_channel.h"
#include "wa_form.h"
#include "wa_health.h"
#include "wa_log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Every channel a report has named, in order of first appearance. Reports of the old format
 * name no channel: they are about their provider's default channel, the bare provider name. */
#define CHANNELS (2 * WA_CHANNELS_MAX + 2)
static struct known {
    char id[WA_HEALTH_ID_MAX + 1], provider[16];
    struct rtr_channel ch;
    int have_last; /* last holds the merged state this router last saw */
    int pending;   /* to_record is a change not yet in the CRM */
    struct rtr_merged last, to_record;
    char reason[RTR_HEALTH_REASON];
    char labels[WA_HEALTH_ID_MAX + 32];
    struct wa_metric *up, *instances;
} chans[CHANNELS];
static size_t n_chans;
static int caught_up; /* the topic has been read to its end once */

static struct known *find(const char *id)
{
    for (size_t i = 0; i < n_chans; i++)
        if (strcmp(chans[i].id, id) == 0) return &chans[i];
    return NULL;
}

/* The channel's entry, made on its first report; NULL when the table is full (logged). */
static struct known *find_or_add(const char *id, const char *provider)
{
    struct known *k = find(id);
    if (k || !provider) return k;
    if (n_chans == CHANNELS) {
        wa_warn("ignoring health of channel %s: %d channels are known already", id, CHANNELS);
        return NULL;
    }
    k = &chans[n_chans++];
    snprintf(k->id, sizeof k->id, "%s", id);
    snprintf(k->provider, sizeof k->provider, "%s", provider);
    snprintf(k->labels, sizeof k->labels, "channel=\"%s\"", id);
    k->up = wa_metric_new(WA_GAUGE, "wa_router_channel_up", k->labels,
                          "1 while the channel's merged health is UP.");
    k->instances = wa_metric_new(WA_GAUGE, "wa_router_channel_instances", k->labels,
                                 "Instances whose health report on the channel is fresh.");
    return k;
}

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

/* Writes the channel's pending change into the CRM (and the outbox) once. */
static void record(struct rtr *r, struct known *k)
{
    char err[512], since[24];
    enum wa_result res;
    const char *state = rtr_health_name(k->to_record.state);
    snprintf(since, sizeof since, "%lld", (long long)k->to_record.since_ms);
    json_t *e = json_pack("{s:i, s:s, s:s, s:s, s:I, s:s, s:s, s:I, s:i}", "v", 1, "type",
                          "provider.health", "provider", k->provider, "channel", k->id, "at_ms",
                          (json_int_t)wa_wall_ms(), "state", state, "reason", k->reason, "since_ms",
                          (json_int_t)k->to_record.since_ms, "instances", k->to_record.live);
    char *ev = e ? json_dumps(e, JSON_COMPACT) : NULL;
    json_decref(e);
    if (!ev) {
        wa_warn("provider health event could not be encoded (not recorded)");
        k->pending = 0;
        return;
    }
    const char *p[] = {k->provider, state, k->reason, since, rtr_cfg.topic_events, ev, k->id};
    PGresult *q = wa_pg_exec(&r->pg, "health_record", 7, p, &res, err, sizeof err);
    free(ev);
    if (!q) {
        wa_warn("postgres %s (provider health is recorded later)", err);
        return;
    }
    PQclear(q);
    k->pending = 0;
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
    struct known *k = find(channel);
    if (!k) return;
    rtr_channel_forget(&k->ch, instance, at_ms, stale_ms());
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
    /* Without a channel, a record is about its provider's default channel; without an
     * instance, it is the old format's single prober. */
    if (!channel) channel = provider;
    int known_provider = strcmp(provider, "baileys") == 0 || strcmp(provider, "twilio") == 0;
    const char *number = wa_channel_number(channel);
    size_t plen = strlen(provider);
    /* A channel belongs to the provider that reports it: "baileys" or "baileys:+E164". */
    int own = strncmp(channel, provider, plen) == 0 && (channel[plen] == '\0' || number);
    if (!known_provider || !own || !wa_health_id_valid(channel) ||
        (instance[0] && !wa_health_id_valid(instance))) {
        wa_warn("ignoring a wa.provider record with an unknown provider, or an invalid channel "
                "or instance offset=%lld",
                (long long)offset);
        json_decref(o);
        return;
    }
    struct known *k = find_or_add(channel, provider);
    if (k) {
        struct rtr_report rep = {.up = strcmp(state, "UP") == 0,
                                 .since_ms = since,
                                 .checked_ms = checked ? checked : since};
        snprintf(rep.instance, sizeof rep.instance, "%s", instance);
        wa_utf8_copy(rep.reason, sizeof rep.reason, reason); /* the bridge's words: any bytes */
        rtr_channel_put(&k->ch, &rep);
        wa_debug("channel %s: instance %s says %s since %lld", channel,
                 instance[0] ? instance : "(unnamed)", state, (long long)since);
    }
    json_decref(o);
}

/* Merges a channel as of now; a change of the merged state becomes pending. */
static void note(struct known *k, const struct rtr_merged *now_m)
{
    struct rtr_merged m = *now_m;
    if (!rtr_health_changed(&k->last, k->have_last, &m)) return;
    k->last = m;
    k->have_last = 1;
    k->to_record = m;
    k->pending = 1;
    rtr_health_describe(&k->ch, &m, k->reason, sizeof k->reason);
    wa_info("channel %s is %s since %lld (%d live instances): %s", k->id, rtr_health_name(m.state),
            (long long)m.since_ms, m.live, k->reason);
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
            caught_up = 1;
        }
        rd_kafka_message_destroy(m);
    }
    int64_t now = wa_wall_ms();
    for (size_t i = 0; i < n_chans; i++) {
        struct known *k = &chans[i];
        struct rtr_merged now_m = rtr_channel_merge(&k->ch, now, stale_ms());
        wa_metric_set(k->up, now_m.state == RTR_HEALTH_UP);
        wa_metric_set(k->instances, now_m.live);
        /* What the topic held at start is history: only the state it adds up to is a change. */
        if (caught_up) note(k, &now_m);
        if (k->pending) record(r, k);
    }
}

/* What the live reports on one channel say now. */
static enum rtr_health_now health_now(const char *channel, void *ctx)
{
    int64_t now = *(const int64_t *)ctx;
    struct known *k = find(channel);
    if (!k || k->ch.n == 0) return RTR_NOW_NONE;
    struct rtr_merged m = rtr_channel_merge(&k->ch, now, stale_ms());
    if (m.live == 0) return RTR_NOW_NONE;
    return m.state == RTR_HEALTH_UP ? RTR_NOW_UP : RTR_NOW_NOT_UP;
}

int rtr_channel_up(const char *channel)
{
    int64_t now = wa_wall_ms();
    return rtr_channel_judged_up(channel, health_now, &now);
}

void rtr_health_stop(struct rtr *r)
{
    if (!r->health) return;
    rd_kafka_consumer_close(r->health);
    rd_kafka_destroy(r->health);
}
