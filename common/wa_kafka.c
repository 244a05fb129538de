/* wa_kafka.c - librdkafka set-up shared by all services: delivery reports, fatal errors,
 * rebalances. */
#include "wa_kafka.h"
#include "wa_log.h"
#include "wa_util.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static atomic_int fatal_seen;

int wa_kafka_fatal(void)
{
    return atomic_load(&fatal_seen);
}

static void on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    (void)opaque;
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
        char buf[512];
        rd_kafka_resp_err_t orig = rd_kafka_fatal_error(rk, buf, sizeof buf);
        wa_error("kafka fatal error=%s reason=\"%s\": stopping", rd_kafka_err2name(orig), buf);
        atomic_store(&fatal_seen, 1);
        wa_stop();
        return;
    }
    /* Everything else is informational: librdkafka retries by itself. */
    wa_warn("kafka error=%s reason=\"%s\"", rd_kafka_err2name((rd_kafka_resp_err_t)err), reason);
}

static void on_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    (void)rk;
    if (level <= 4)
        wa_warn("kafka log fac=%s msg=\"%s\"", fac, buf);
    else
        wa_debug("kafka log fac=%s msg=\"%s\"", fac, buf);
}

/* A waiter of a served producer names its condition in its deliveries (under this mutex) and
 * sleeps on it; a report wakes only the waiter of its own record. (One condition for all woke
 * every waiter on every report: with 16 lanes, 16 wake-ups per record.) */
static pthread_mutex_t dr_mu = PTHREAD_MUTEX_INITIALIZER;
static _Atomic(rd_kafka_t *) served;

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    (void)opaque;
    struct wa_delivery *d = m->_private;
    if (!d) return;
    /* Read before done is set: from then on a waiter may return and d be gone. */
    void (*on_done)(struct wa_delivery *) = d->on_done;
    d->err = m->err; /* published by the atomic store of done */
    if (atomic_load(&served)) {
        /* Under the mutex, so a sleeper cannot miss the wake-up between its check and wait;
         * wake is read before done is set, as a waiter that polls returns without the mutex. */
        pthread_mutex_lock(&dr_mu);
        pthread_cond_t *wake = d->wake;
        atomic_store(&d->done, 1);
        if (wake) pthread_cond_signal(wake);
        pthread_mutex_unlock(&dr_mu);
    } else {
        atomic_store(&d->done, 1); /* whoever waits polls, and sees it itself (ingress: 10k/s) */
    }
    if (on_done) on_done(d);
}

static int set(rd_kafka_conf_t *conf, const char *k, const char *v, char *err, size_t errsz)
{
    if (rd_kafka_conf_set(conf, k, v, err, errsz) != RD_KAFKA_CONF_OK) return -1;
    return 0;
}

static rd_kafka_conf_t *base_conf(const char *brokers, const char *client_id, char *err,
                                  size_t errsz)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (set(conf, "bootstrap.servers", brokers, err, errsz) ||
        set(conf, "client.id", client_id, err, errsz) ||
        /* Loopback and docker networks resolve quickly; keep reconnects brisk. */
        set(conf, "reconnect.backoff.max.ms", "1000", err, errsz) ||
        /* A request queued on a broker connection that died with the broker
         * waits this long (default 60 s). After a broker restart a consumer
         * leaving its group waits for its final offset commit, so the default
         * kept the router off its partitions for a minute (seen in the
         * Kafka-restart e2e test). Fetches add fetch.wait.max.ms on top. */
        set(conf, "socket.timeout.ms", "10000", err, errsz)) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_conf_set_error_cb(conf, on_error);
    rd_kafka_conf_set_log_cb(conf, on_log);
    return conf;
}

rd_kafka_t *wa_kafka_producer_new(const char *brokers, const char *client_id, int timeout_ms,
                                  char *err, size_t errsz)
{
    rd_kafka_conf_t *conf = base_conf(brokers, client_id, err, errsz);
    if (!conf) return NULL;
    char tmo[32];
    snprintf(tmo, sizeof tmo, "%d", timeout_ms);
    const char *linger = getenv("KAFKA_LINGER_MS");
    const char *codec = getenv("KAFKA_COMPRESSION");
    if (set(conf, "enable.idempotence", "true", err, errsz) ||
        set(conf, "acks", "all", err, errsz) ||
        set(conf, "linger.ms", linger && *linger ? linger : "1", err, errsz) ||
        set(conf, "message.timeout.ms", tmo, err, errsz) ||
        set(conf, "compression.codec", codec && *codec ? codec : "lz4", err, errsz)) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, errsz);
    if (!rk) rd_kafka_conf_destroy(conf);
    /* On success the configuration object is owned by rk. */
    return rk;
}

rd_kafka_resp_err_t wa_kafka_produce(rd_kafka_t *rk, const char *topic, const char *key,
                                     const char *value, size_t len, struct wa_delivery *d)
{
    if (d) {
        d->done = 0;
        d->err = RD_KAFKA_RESP_ERR_NO_ERROR;
        d->wake = NULL;
    }
    return rd_kafka_producev(
        rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key, key ? strlen(key) : 0),
        RD_KAFKA_V_VALUE((void *)value, len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_OPAQUE(d), RD_KAFKA_V_END);
}

static int all_done(struct wa_delivery *ds, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!atomic_load(&ds[i].done)) return 0;
    return 1;
}

/* The calling thread's own condition, made once. */
static pthread_cond_t *own_cond(void)
{
    static _Thread_local pthread_cond_t cv;
    static _Thread_local int made;
    if (!made) {
        pthread_cond_init(&cv, NULL);
        made = 1;
    }
    return &cv;
}

rd_kafka_resp_err_t wa_kafka_wait(rd_kafka_t *rk, struct wa_delivery *ds, size_t n)
{
    while (!all_done(ds, n)) {
        if (atomic_load(&served) != rk) {
            rd_kafka_poll(rk, 50);
            continue;
        }
        pthread_cond_t *cv = own_cond();
        pthread_mutex_lock(&dr_mu);
        for (size_t i = 0; i < n; i++)
            ds[i].wake = cv;
        if (!all_done(ds, n)) {
            /* Bounded, so a server that stops (at shutdown) hands polling back to us. */
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_nsec += 100 * 1000000L;
            if (until.tv_nsec >= 1000000000L) {
                until.tv_sec += 1;
                until.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(cv, &dr_mu, &until);
        }
        /* Reports from now on wake nobody: ds may go out of scope once we return. */
        for (size_t i = 0; i < n; i++)
            ds[i].wake = NULL;
        pthread_mutex_unlock(&dr_mu);
    }
    /* err was written before done was stored; done was loaded above. */
    for (size_t i = 0; i < n; i++)
        if (ds[i].err) return ds[i].err;
    return RD_KAFKA_RESP_ERR_NO_ERROR;
}

void wa_kafka_serve(rd_kafka_t *rk)
{
    atomic_store(&served, rk);
    while (wa_running())
        rd_kafka_poll(rk, 100);
    /* The sleepers wake within 100 ms and take up polling themselves for what is left. */
    atomic_store(&served, NULL);
}

rd_kafka_resp_err_t wa_kafka_produce_sync(rd_kafka_t *rk, const char *topic, const char *key,
                                          const char *value, size_t len)
{
    struct wa_delivery d = {0};
    rd_kafka_resp_err_t e = wa_kafka_produce(rk, topic, key, value, len, &d);
    if (e) return e;
    return wa_kafka_wait(rk, &d, 1);
}

void wa_kafka_warm(rd_kafka_t *rk, const char *const *topics, size_t n, int timeout_ms)
{
    for (size_t i = 0; i < n; i++) {
        rd_kafka_topic_t *t = rd_kafka_topic_new(rk, topics[i], NULL);
        const struct rd_kafka_metadata *md = NULL;
        if (t && rd_kafka_metadata(rk, 0, t, &md, timeout_ms) == RD_KAFKA_RESP_ERR_NO_ERROR)
            rd_kafka_metadata_destroy(md);
        if (t) rd_kafka_topic_destroy(t);
    }
}

int wa_kafka_reachable(rd_kafka_t *rk, int timeout_ms)
{
    const struct rd_kafka_metadata *md = NULL;
    /* all_topics=0 with no topic still makes a broker round trip. */
    if (rd_kafka_metadata(rk, 0, NULL, &md, timeout_ms) != RD_KAFKA_RESP_ERR_NO_ERROR) return 0;
    int ok = md->broker_cnt > 0;
    rd_kafka_metadata_destroy(md);
    return ok;
}

/* Revoked partitions (or, with parts NULL, all of them: the assignment was lost to an error)
 * go to the consumer's hook first, so its work on them ends and what finished is stored. */
static void revoke_hook(const struct wa_kafka_revoke *h, rd_kafka_t *rk,
                        const rd_kafka_topic_partition_list_t *parts)
{
    if (!h || !h->fn) return;
    rd_kafka_topic_partition_list_t *all = NULL;
    if (!parts && rd_kafka_assignment(rk, &all) == RD_KAFKA_RESP_ERR_NO_ERROR) parts = all;
    if (parts) h->fn(h->ctx, parts);
    if (all) rd_kafka_topic_partition_list_destroy(all);
}

static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    const struct wa_kafka_revoke *hook = opaque;
    int cooperative = strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
    switch (err) {
    case RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS:
        wa_info("kafka assigned partitions=%d", parts->cnt);
        if (cooperative)
            rd_kafka_incremental_assign(rk, parts);
        else
            rd_kafka_assign(rk, parts);
        break;
    case RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS:
        wa_info("kafka revoked partitions=%d", parts->cnt);
        revoke_hook(hook, rk, parts);
        /* Hand over what we finished: commit stored offsets before letting go. */
        if (!rd_kafka_assignment_lost(rk)) rd_kafka_commit(rk, NULL, 0);
        if (cooperative)
            rd_kafka_incremental_unassign(rk, parts);
        else
            rd_kafka_assign(rk, NULL);
        break;
    default:
        wa_warn("kafka rebalance error=%s", rd_kafka_err2name(err));
        revoke_hook(hook, rk, NULL);
        rd_kafka_assign(rk, NULL);
        break;
    }
}

rd_kafka_t *wa_kafka_consumer_new(const char *brokers, const char *group, const char *const *topics,
                                  size_t ntopics, long max_poll_ms, int prefetch_kb,
                                  const struct wa_kafka_revoke *revoke, char *err, size_t errsz)
{
    rd_kafka_conf_t *conf = base_conf(brokers, group, err, errsz);
    if (!conf) return NULL;
    if (max_poll_ms > 0) {
        char v[24];
        /* Kafka takes at most a day. */
        snprintf(v, sizeof v, "%ld", max_poll_ms < 86400000L ? max_poll_ms : 86400000L);
        if (set(conf, "max.poll.interval.ms", v, err, errsz)) {
            rd_kafka_conf_destroy(conf);
            return NULL;
        }
    }
    /* Records fetched ahead of the poll: librdkafka's defaults keep up to 64 MB of a backlog
     * queued (100,000 records a partition), plus fetches of up to 1 MB a partition and 50 MB a
     * response on their way in. The caller's prefetch_kb queued is thousands of records, more
     * than a batch or the senders' lanes take at once; fetches of a sixteenth of it a partition
     * keep the overshoot small (a response takes at least message.max.bytes, 1 MB). The queue is
     * not smaller than a second's work: a partition whose queue reaches these limits is not
     * fetched again for a second (librdkafka 2.0's fixed backoff; fetch.queue.backoff.ms came in
     * 2.2), so the queue is also what a consumer can take in a second. With 1 MB a router
     * drained a backlog at 1,950 messages/s against 3,100 with 4 MB, for 10 MB less memory
     * (bench/README.md, "Router capacity"); a sender's 1,000 sends/s fit in 1 MB ("Sender
     * capacity"). Half as many records as kilobytes: records of a few hundred bytes, as ours
     * are, fill either bound at about the same time. A record larger than a fetch still comes:
     * librdkafka grows the fetch for it. */
    if (prefetch_kb < 1024) prefetch_kb = 1024;
    char queued_kb[24], queued_min[24], fetch_part[24], fetch_max[24];
    snprintf(queued_kb, sizeof queued_kb, "%d", prefetch_kb);
    snprintf(queued_min, sizeof queued_min, "%d", prefetch_kb / 2);
    snprintf(fetch_part, sizeof fetch_part, "%d", prefetch_kb * 1024 / 16);
    snprintf(fetch_max, sizeof fetch_max, "%d",
             prefetch_kb * 1024 / 2 > 1048576 ? prefetch_kb * 1024 / 2 : 1048576);
    if (set(conf, "group.id", group, err, errsz) ||
        set(conf, "enable.auto.offset.store", "false", err, errsz) ||
        set(conf, "enable.auto.commit", "true", err, errsz) ||
        set(conf, "auto.commit.interval.ms", "1000", err, errsz) ||
        set(conf, "auto.offset.reset", "earliest", err, errsz) ||
        set(conf, "enable.partition.eof", "false", err, errsz) ||
        /* A crashed member is noticed in seconds, so its partitions move on quickly. */
        set(conf, "session.timeout.ms", "10000", err, errsz) ||
        set(conf, "heartbeat.interval.ms", "2000", err, errsz) ||
        set(conf, "queued.max.messages.kbytes", queued_kb, err, errsz) ||
        set(conf, "queued.min.messages", queued_min, err, errsz) ||
        set(conf, "fetch.message.max.bytes", fetch_part, err, errsz) ||
        set(conf, "fetch.max.bytes", fetch_max, err, errsz)) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_conf_set_rebalance_cb(conf, on_rebalance);
    rd_kafka_conf_set_opaque(conf, (void *)revoke);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, errsz);
    if (!rk) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_poll_set_consumer(rk);
    rd_kafka_topic_partition_list_t *subs = rd_kafka_topic_partition_list_new((int)ntopics);
    for (size_t i = 0; i < ntopics; i++)
        rd_kafka_topic_partition_list_add(subs, topics[i], RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t e = rd_kafka_subscribe(rk, subs);
    rd_kafka_topic_partition_list_destroy(subs);
    if (e) {
        snprintf(err, errsz, "subscribe: %s", rd_kafka_err2str(e));
        rd_kafka_destroy(rk);
        return NULL;
    }
    return rk;
}

void wa_kafka_store(rd_kafka_t *rk, const char *topic, int32_t partition, int64_t next_offset)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, topic, partition)->offset = next_offset;
    rd_kafka_resp_err_t e = rd_kafka_offsets_store(rk, l);
    if (!e && l->elems[0].err) e = l->elems[0].err;
    rd_kafka_topic_partition_list_destroy(l);
    /* A revoked partition refuses the store; the next owner sees those records again. */
    if (e) wa_warn("kafka offset store error=%s", rd_kafka_err2name(e));
}

void wa_kafka_store_offset(rd_kafka_t *rk, const rd_kafka_message_t *m)
{
    /* The stored offset is the next one to read. */
    wa_kafka_store(rk, rd_kafka_topic_name(m->rkt), m->partition, m->offset + 1);
}

/* The entry of m's partition in l, added with `offset` when l has none yet. */
static rd_kafka_topic_partition_t *partition_entry(rd_kafka_topic_partition_list_t *l,
                                                   const rd_kafka_message_t *m, int64_t offset)
{
    const char *topic = rd_kafka_topic_name(m->rkt);
    rd_kafka_topic_partition_t *p = rd_kafka_topic_partition_list_find(l, topic, m->partition);
    if (!p) {
        p = rd_kafka_topic_partition_list_add(l, topic, m->partition);
        p->offset = offset;
    }
    return p;
}

void wa_kafka_rewind(rd_kafka_t *rk, rd_kafka_message_t *const *ms, size_t n)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new((int)n);
    for (size_t i = 0; i < n; i++) {
        const rd_kafka_message_t *m = ms[i];
        if (m->err) continue;
        rd_kafka_topic_partition_t *p = partition_entry(l, m, m->offset);
        if (m->offset < p->offset) p->offset = m->offset;
    }
    rd_kafka_error_t *e = l->cnt ? rd_kafka_seek_partitions(rk, l, 2000) : NULL;
    if (e) {
        wa_warn("kafka seek error=%s", rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
    }
    rd_kafka_topic_partition_list_destroy(l);
}

void wa_kafka_consumer_close(rd_kafka_t *rk)
{
    rd_kafka_consumer_close(rk); /* commits stored offsets (auto commit is on) */
    rd_kafka_destroy(rk);
}

void wa_kafka_producer_close(rd_kafka_t *rk, int timeout_ms)
{
    rd_kafka_flush(rk, timeout_ms);
    int left = rd_kafka_outq_len(rk);
    if (left) wa_warn("kafka producer closing with %d records not acknowledged", left);
    rd_kafka_destroy(rk);
}
