/* wa_kafka.h - the idempotent producer and the at-least-once consumer every service uses. */
#ifndef WA_KAFKA_H
#define WA_KAFKA_H

#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>

/* One outstanding produce. The delivery-report callback (on the thread that polls the
 * producer) fills err, then sets done, then calls on_done. A waiter may return, and its
 * delivery go out of scope, the moment done is set: the callback reads nothing of it after
 * that except through on_done, so a delivery with an on_done must outlive that call. */
struct wa_delivery {
    atomic_int done;
    rd_kafka_resp_err_t err;
    void (*on_done)(struct wa_delivery *d);
    void *ctx;
    pthread_cond_t *wake; /* the waiter to wake (wa_kafka_wait on a served producer), or NULL */
};

/* Idempotent (acks=all), linger.ms=1; a record that is not acknowledged
 * within timeout_ms fails with a delivery error. Fatal idempotence errors stop
 * the process through wa_stop(); see wa_kafka_fatal(). */
rd_kafka_t *wa_kafka_producer_new(const char *brokers, const char *client_id, int timeout_ms,
                                  char *err, size_t errsz);

/* Enqueues one record; d is reported exactly once unless this returns an error. */
rd_kafka_resp_err_t wa_kafka_produce(rd_kafka_t *rk, const char *topic, const char *key,
                                     const char *value, size_t len, struct wa_delivery *d);

/* Produces and polls until the broker acknowledged (or the record timed out).
 * For single-threaded callers that own the producer's poll loop. */
rd_kafka_resp_err_t wa_kafka_produce_sync(rd_kafka_t *rk, const char *topic, const char *key,
                                          const char *value, size_t len);

/* Waits until every record in ds[0..n) is reported; returns the first error. While a thread
 * runs wa_kafka_serve() on rk, this sleeps until the reports arrive, woken by its own reports
 * only; otherwise it polls rk itself. */
rd_kafka_resp_err_t wa_kafka_wait(rd_kafka_t *rk, struct wa_delivery *ds, size_t n);

/* Serves rk's delivery reports on the calling thread until wa_running() turns false, so that
 * several threads sharing rk each wake as soon as their own report is in. (When they polled
 * rk themselves, a report taken by another thread left its waiter asleep for the rest of its
 * poll.) One producer per process may be served this way. */
void wa_kafka_serve(rd_kafka_t *rk);

/* Non-zero once the producer hit a fatal error: it must be recreated (we exit). */
int wa_kafka_fatal(void);

/* Fetches the metadata of the topics a producer will write, so the first
 * record to each is not delayed by a lookup (it cost ~200 ms on a failover). */
void wa_kafka_warm(rd_kafka_t *rk, const char *const *topics, size_t n, int timeout_ms);

/* 1 when a broker answered a metadata request within timeout_ms. */
int wa_kafka_reachable(rd_kafka_t *rk, int timeout_ms);

/* What a consumer does with partitions taken from it, on its polling thread, before the offsets
 * it stored are committed: its work on them ends, and what finished is stored. */
struct wa_kafka_revoke {
    void (*fn)(void *ctx, const rd_kafka_topic_partition_list_t *parts);
    void *ctx;
};

/* Consumer in group, subscribed to topics: offsets are stored by the caller
 * after the side effect is durable, and committed in the background and on
 * revoke and close. max_poll_ms (0: Kafka's 5 minutes) must exceed the longest
 * time between two polls, i.e. the longest one record can take, or the member is
 * dropped from its group mid-record and its partitions move to another. prefetch_kb (at least
 * 1024): the records fetched ahead of the poll that librdkafka queues, which is also about what
 * the consumer can take in a second (wa_kafka.c says why). revoke (may be NULL; it must outlive
 * the consumer) is called for partitions revoked or lost. */
rd_kafka_t *wa_kafka_consumer_new(const char *brokers, const char *group, const char *const *topics,
                                  size_t ntopics, long max_poll_ms, int prefetch_kb,
                                  const struct wa_kafka_revoke *revoke, char *err, size_t errsz);
/* Stores m's offset + 1: the next one to read. */
void wa_kafka_store_offset(rd_kafka_t *rk, const rd_kafka_message_t *m);
/* Stores the next offset to read of topic's partition. */
void wa_kafka_store(rd_kafka_t *rk, const char *topic, int32_t partition, int64_t next_offset);
/* Seeks every partition in ms[0..n) back to its first record there, so the
 * same records are polled again. */
void wa_kafka_rewind(rd_kafka_t *rk, rd_kafka_message_t *const *ms, size_t n);
/* Commits what was stored, leaves the group, destroys the handle. */
void wa_kafka_consumer_close(rd_kafka_t *rk);

/* Flushes (up to timeout_ms) and destroys. */
void wa_kafka_producer_close(rd_kafka_t *rk, int timeout_ms);

#endif
