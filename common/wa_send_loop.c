/* wa_send_loop.c - the workers' loop: commands polled in batches, each batch run as one chain per
 * contact on a pool of lanes, offsets stored once a batch has ended. */
#include "wa_backoff.h"
#include "wa_chains.h"
#include "wa_http.h"
#include "wa_kafka.h"
#include "wa_log.h"
#include "wa_send.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Why batches and chains (docs/architecture.md §4, "The loop"): a command waits on its claim's
 * commit, the provider, its result's commit and its status's acknowledgement, each a round trip
 * that costs little CPU. One command at a time per partition left a sender idle most of the time.
 * Here different contacts' commands are in flight together, so those waits overlap (and the
 * commits and acknowledgements of the lanes share fsyncs and produce requests), while one
 * contact's commands still go out one after the other, in their order on the topic.
 *
 * The next batch is polled only once every chain of this one has ended: a partition is never
 * revoked while one of its commands is in flight, and offsets are stored for what has ended. */
#define BATCH_MAX WA_CHAINS_MAX
/* A contact's commands in one batch. A chain runs its commands one after the other, so this
 * bounds how long a batch can take: max.poll.interval.ms allows that many of the longest
 * command. The command over the limit ends the batch and starts the next one (it is kept, not
 * read again: a seek waits for the fetcher, and one that times out may let older records
 * through). */
#define CHAIN_MAX 8
/* The lanes are split among up to this many pools, each with its own consumer (its own
 * partitions), its own batches and its own lanes. A batch waits for its longest chain, and a
 * chain can be long: a command backing off after 429s or 5xx pauses up to SENDER_BACKOFF_CAP_MS
 * between its attempts. That stalls its pool's partitions only: the other pools' contacts go on.
 * (With one pool, one contact's storm held every other contact of the instance for minutes.) */
#define POOLS_MAX 4

struct batch {
    rd_kafka_message_t *ms[BATCH_MAX];
    enum wa_result rs[BATCH_MAX];
    struct wa_chains c;
};

struct pool {
    const struct wa_sender_setup *u;
    rd_kafka_t *consumer;
    struct batch b;
    rd_kafka_message_t *carry; /* polled, over its chain's limit: the next batch's first */
    pthread_mutex_t mu;
    pthread_cond_t more, ended; /* a chain to take; the batch's last chain ended */
    int nchains, taken, finished, closing;
    pthread_t thread; /* its consumer's */
};

struct lane {
    struct wa_sender s; /* its own Postgres connection; the producer is shared */
    struct pool *p;
    void *ctx;
    int ok;
    pthread_t thread;
};

static atomic_int lanes_ready;
static int lanes_total;

static int ready(void)
{
    return atomic_load(&lanes_ready) == lanes_total;
}

/* A contact's commands in order. One to be tried again later (the CRM or Kafka away, or a stop)
 * ends its chain: the commands behind it may not overtake it, and are not started. */
static void run_chain(struct lane *l, struct batch *b, int head)
{
    int stopped = 0;
    for (int i = head; i >= 0; i = b->c.next[i]) {
        if (stopped || !wa_running()) {
            b->rs[i] = WA_RETRY;
            continue;
        }
        b->rs[i] = l->p->u->handle(&l->s, b->ms[i], l->ctx);
        stopped = b->rs[i] == WA_RETRY;
        int ok = !stopped || wa_pg_ok(&l->s.pg);
        if (ok != l->ok) atomic_fetch_add(&lanes_ready, ok ? 1 : -1);
        l->ok = ok;
    }
}

static void *lane_main(void *arg)
{
    struct lane *l = arg;
    struct pool *p = l->p;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (p->taken == p->nchains && !p->closing)
            pthread_cond_wait(&p->more, &p->mu);
        if (p->taken == p->nchains) break; /* closing, and nothing left */
        int head = p->b.c.heads[p->taken++];
        pthread_mutex_unlock(&p->mu);
        run_chain(l, &p->b, head);
        pthread_mutex_lock(&p->mu);
        if (++p->finished == p->nchains) pthread_cond_signal(&p->ended);
    }
    pthread_mutex_unlock(&p->mu);
    wa_pg_close(&l->s.pg);
    return NULL;
}

/* The batch again from b->ms[0..n) (the chains too), keeping only the records of partitions
 * still assigned: a revoke served inside a poll hands the others to another member. */
static void keep_assigned(struct pool *p, int n)
{
    struct batch *b = &p->b;
    n = (int)wa_kafka_keep_assigned(p->consumer, b->ms, (size_t)n);
    wa_chains_reset(&b->c);
    for (int i = 0; i < n; i++)
        wa_chains_add(&b->c, b->ms[i]->partition, b->ms[i]->key, b->ms[i]->key_len, CHAIN_MAX);
}

/* Fills the batch: the command carried over from the last one, then waits up to 100 ms for a
 * first command, then takes what has arrived. */
static void poll_batch(struct pool *p)
{
    struct batch *b = &p->b;
    wa_chains_reset(&b->c);
    unsigned revokes = wa_kafka_revokes();
    rd_kafka_message_t *m = p->carry;
    p->carry = NULL;
    while (b->c.n < BATCH_MAX && wa_running()) {
        if (!m) m = rd_kafka_consumer_poll(p->consumer, b->c.n ? 0 : 100);
        if (revokes != wa_kafka_revokes()) {
            revokes = wa_kafka_revokes();
            keep_assigned(p, b->c.n);
        }
        if (!m) break;
        if (m->err) {
            wa_warn("kafka consumer: %s", rd_kafka_message_errstr(m));
            rd_kafka_message_destroy(m);
            m = NULL;
            continue;
        }
        int i = b->c.n;
        if (!wa_chains_add(&b->c, m->partition, m->key, m->key_len, CHAIN_MAX)) {
            p->carry = m;
            m = NULL;
            break;
        }
        b->ms[i] = m;
        b->rs[i] = WA_RETRY;
        m = NULL;
    }
    if (m) rd_kafka_message_destroy(m); /* stopping */
    wa_chains_order(&b->c);
}

/* Runs the batch on the lanes and waits for its last chain. */
static void run_batch(struct pool *p)
{
    pthread_mutex_lock(&p->mu);
    p->taken = p->finished = 0;
    p->nchains = p->b.c.nchains;
    pthread_cond_broadcast(&p->more);
    while (p->finished < p->nchains)
        pthread_cond_wait(&p->ended, &p->mu);
    pthread_mutex_unlock(&p->mu);
}

static void *consume(void *arg)
{
    struct pool *p = arg;
    struct batch *b = &p->b;
    int retry = 0;
    while (wa_running()) {
        poll_batch(p);
        int n = b->c.n;
        if (!n) continue;
        int64_t t0 = wa_now_ms();
        run_batch(p);
        wa_debug("batch commands=%d chains=%d longest=%d ms=%lld", n, b->c.nchains, b->c.lens[0],
                 (long long)(wa_now_ms() - t0));
        int done[BATCH_MAX], again = 0;
        rd_kafka_message_t *later[BATCH_MAX];
        for (int i = 0; i < n; i++) {
            done[i] = b->rs[i] != WA_RETRY;
            if (!done[i]) later[again++] = b->ms[i];
        }
        wa_kafka_store_done(p->consumer, b->ms, done, (size_t)n);
        if (again && wa_running()) {
            /* Those commands again, from the first of each partition; ones after it that did
             * end are read again too, and their claims find them handled. */
            wa_kafka_rewind(p->consumer, later, (size_t)again);
            for (int i = 0; p->carry && i < again; i++)
                if (later[i]->partition == p->carry->partition) {
                    rd_kafka_message_destroy(p->carry); /* read again after those */
                    p->carry = NULL;
                }
            wa_sleep_ms(wa_backoff_ms(++retry, 100, 5000, 0.2, wa_jitter_random()));
        } else if (!again) {
            retry = 0;
        }
        for (int i = 0; i < n; i++)
            rd_kafka_message_destroy(b->ms[i]);
        wa_chains_reset(&b->c);
    }
    if (p->carry) rd_kafka_message_destroy(p->carry);
    wa_kafka_consumer_close(p->consumer);
    return NULL;
}

/* Stops a pool's consumer thread (when it was started) and then its lanes. */
static void pool_stop(struct pool *p, int consuming)
{
    if (consuming)
        pthread_join(p->thread, NULL);
    else
        wa_kafka_consumer_close(p->consumer);
    pthread_mutex_lock(&p->mu);
    p->closing = 1;
    pthread_cond_broadcast(&p->more);
    pthread_mutex_unlock(&p->mu);
}

int wa_sender_run(struct wa_sender *s, const struct wa_sender_setup *u)
{
    char err[512];
    s->producer = wa_kafka_producer_new(u->brokers, u->service, 10000, err, sizeof err);
    if (!s->producer) {
        fprintf(stderr, "config: kafka: %s\n", err);
        return WA_EX_CONFIG;
    }
    int n = u->workers > 0 ? u->workers : 1;
    lanes_total = n;
    struct MHD_Daemon *admin = wa_http_admin_start(u->listen, ready, err, sizeof err);
    if (!admin) {
        wa_error("%s", err);
        return WA_EX_TEMPFAIL;
    }
    int npools = n < POOLS_MAX ? n : POOLS_MAX;
    struct pool *pools = wa_xcalloc((size_t)npools, sizeof *pools);
    const char *topics[] = {u->topic};
    long max_poll = u->max_handle_ms > 0 ? u->max_handle_ms * CHAIN_MAX + 60000 : 0;
    for (int k = 0; k < npools; k++) {
        struct pool *p = &pools[k];
        p->u = u;
        pthread_mutex_init(&p->mu, NULL);
        pthread_cond_init(&p->more, NULL);
        pthread_cond_init(&p->ended, NULL);
        p->consumer =
            wa_kafka_consumer_new(u->brokers, u->group, topics, 1, max_poll, err, sizeof err);
        if (!p->consumer) {
            fprintf(stderr, "config: kafka: %s\n", err);
            return WA_EX_CONFIG;
        }
    }
    /* Health first (sender-baileys probes its bridges): the routers learn it is up while the
     * lanes connect to Postgres, not a second later. */
    size_t nwarm = 0;
    while (u->produces && u->produces[nwarm])
        nwarm++;
    wa_kafka_warm(s->producer, u->produces, nwarm, 5000);
    if (u->started) u->started(s, u->ctx);
    static struct wa_pg_group claims = WA_PG_GROUP_INIT, results = WA_PG_GROUP_INIT;
    struct lane *ls = wa_xcalloc((size_t)n, sizeof *ls);
    const struct wa_pg_stmt *stmts = u->stmts ? u->stmts : wa_send_statements;
    size_t nstmts = u->stmts ? u->nstmts : wa_send_nstatements;
    for (int i = 0; i < n && wa_running(); i++) {
        struct lane *l = &ls[i];
        l->s = *s;
        if (!u->stmts) { /* the claim protocol's statements */
            l->s.claims = &claims;
            l->s.results = &results;
        }
        l->p = &pools[i % npools];
        l->ctx = u->worker_ctx ? u->worker_ctx(i, u->ctx) : u->ctx;
        /* Postgres may still be starting: wait for it rather than crash-loop. */
        while (wa_running() &&
               wa_pg_connect(&l->s.pg, u->database_url, stmts, nstmts, err, sizeof err) < 0) {
            wa_warn("postgres: %s; retrying", err);
            wa_sleep_ms(1000);
        }
        l->ok = 1;
        atomic_fetch_add(&lanes_ready, 1);
    }
    int started = 0, consuming = 0;
    for (; started < n && wa_running(); started++)
        pthread_create(&ls[started].thread, NULL, lane_main, &ls[started]);
    for (; consuming < npools && wa_running(); consuming++)
        if (pthread_create(&pools[consuming].thread, NULL, consume, &pools[consuming]) != 0) break;
    wa_info("consuming %s as group %s with %d lanes in %d pools, batches of up to %d commands "
            "max_poll_interval_ms=%ld",
            u->topic, u->group, n, npools, BATCH_MAX, max_poll > 0 ? max_poll : 300000L);

    /* Every delivery report is served here: the lanes sleep until theirs is in. */
    wa_kafka_serve(s->producer);

    wa_info("stopping");
    if (u->stopping) u->stopping(u->ctx);
    for (int k = 0; k < npools; k++)
        pool_stop(&pools[k], k < consuming);
    for (int i = 0; i < started; i++)
        pthread_join(ls[i].thread, NULL);
    for (int i = started; i < n; i++)
        wa_pg_close(&ls[i].s.pg);
    free(ls);
    free(pools);
    wa_kafka_producer_close(s->producer, 5000);
    MHD_stop_daemon(admin);
    return wa_kafka_fatal() ? 1 : 0;
}
