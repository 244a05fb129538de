/* wa_send_loop.c - the workers' loop: one consumer feeds the commands it polls to a pool of lanes
 * as they come, one contact's commands one after the other; each partition's offset is stored as
 * far as its commands have ended. */
#include "wa_backoff.h"
#include "wa_http.h"
#include "wa_kafka.h"
#include "wa_lineup.h"
#include "wa_log.h"
#include "wa_send.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Why (docs/architecture.md §4, "The loop"): a command waits on its claim's commit, the
 * provider, its result's commit and its status's acknowledgement, each a round trip that costs
 * little CPU. Lanes overlap those waits for different contacts (and their commits and
 * acknowledgements share fsyncs and produce requests), while one contact's commands still go
 * out one after the other, in their order on the topic.
 *
 * There is no batch to wait for: a lane that ends a command takes the oldest one ready. A
 * contact backing off after 429s holds its own later commands and its partition's stored
 * offset, nothing else; the commands after it that ended are held (WA_LINEUP_MAX at most) until
 * the offset can pass them, and read again (their claims find them handled) if the process dies
 * first. A revoked partition's commands not started are dropped, and the revoke waits for the
 * ones in flight: a partition never moves to another member while one of its commands runs. */

/* Commands ready to start that the poll keeps ahead of the lanes. More would only hold memory:
 * each is a polled Kafka message (and the fetch buffer it came in) until a lane takes it, where
 * the records not polled yet wait in librdkafka's queue, which has its own bound. A backlog
 * drained with no such bound held all WA_LINEUP_MAX (bench/README.md, "Sender capacity").
 * Commands waiting behind their contact's earlier one do not count: a busy contact never stops
 * the others being polled. */
#define READY_AHEAD 256

struct loop {
    const struct wa_sender_setup *u;
    rd_kafka_t *consumer, *producer;
    struct wa_lineup q;
    rd_kafka_message_t *ms[WA_LINEUP_MAX]; /* by slot, until the record ends */
    pthread_mutex_t mu;
    pthread_cond_t more; /* a record is ready, or closing */
    pthread_cond_t room; /* a record ended, or the ready ones fell below READY_AHEAD */
    int closing;
    struct wa_kafka_revoke revoke;
    struct wa_metric *held; /* q.held, for the operator: a number that stays high is a partition
                             * whose offset a backing-off command holds */
};

/* A command whose success's wa.status is on its way: it ends when Kafka acknowledges it. */
struct pending {
    struct wa_delivery d;
    struct loop *lp;
    int slot;
};

struct lane {
    struct wa_sender s; /* the Postgres pool and the producer are shared */
    struct loop *lp;
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

/* Whether a command to be tried again is given up here: the process stops, or its partition is
 * being revoked (its next owner reads it again). */
static int giving_up(struct loop *lp, int32_t partition)
{
    if (!wa_running()) return 1;
    pthread_mutex_lock(&lp->mu);
    int g = wa_lineup_dropping(&lp->q, partition);
    pthread_mutex_unlock(&lp->mu);
    return g;
}

/* One command, tried again after a pause while it says WA_RETRY (the CRM or Kafka away): the
 * same as reading it again, without holding anyone else. Returns whether it is done. */
static int run_one(struct lane *l, const rd_kafka_message_t *m)
{
    for (int retry = 0;;) {
        enum wa_result r = l->lp->u->handle(&l->s, m, l->ctx);
        int ok = r != WA_RETRY || wa_pg_pool_ok(l->s.pg);
        if (ok != l->ok) atomic_fetch_add(&lanes_ready, ok ? 1 : -1);
        l->ok = ok;
        if (r != WA_RETRY) return 1;
        if (giving_up(l->lp, m->partition)) return 0;
        wa_sleep_ms(wa_backoff_ms(++retry, 100, 5000, 0.2, wa_jitter_random()));
        if (giving_up(l->lp, m->partition)) return 0;
    }
}

/* Ends the command in slot (under lp->mu): its offset stored as far as it may move. */
static void end_command(struct loop *lp, int slot, int done)
{
    rd_kafka_message_t *m = lp->ms[slot];
    lp->ms[slot] = NULL;
    int32_t partition;
    int64_t next;
    /* Stored under the lock, so two lanes never store one partition's offsets out of order. */
    if (wa_lineup_end(&lp->q, slot, done, &partition, &next))
        wa_kafka_store(lp->consumer, lp->u->topic, partition, next);
    wa_metric_set(lp->held, lp->q.held);
    rd_kafka_message_destroy(m);
    if (lp->q.ready_head >= 0) pthread_cond_signal(&lp->more);
    pthread_cond_broadcast(&lp->room);
}

/* A success's wa.status acknowledged (on the thread serving the producer's reports): the
 * command ends. Not acknowledged: it runs again, first (its claim finds it sent). */
static void report_done(struct wa_delivery *d)
{
    struct pending *pd = d->ctx;
    struct loop *lp = pd->lp;
    pthread_mutex_lock(&lp->mu);
    if (d->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        end_command(lp, pd->slot, 1);
    } else {
        wa_warn("status report not acknowledged: %s; the command runs again",
                rd_kafka_err2name(d->err));
        wa_lineup_again(&lp->q, pd->slot);
        pthread_cond_signal(&lp->more);
        pthread_cond_broadcast(&lp->room);
    }
    pthread_mutex_unlock(&lp->mu);
    free(pd);
}

static void *lane_main(void *arg)
{
    struct lane *l = arg;
    struct loop *lp = l->lp;
    pthread_mutex_lock(&lp->mu);
    for (;;) {
        int slot = -1;
        while (!lp->closing && (slot = wa_lineup_take(&lp->q)) < 0)
            pthread_cond_wait(&lp->more, &lp->mu);
        if (slot < 0) break; /* closing: what is not started is read again after a restart */
        if (lp->q.ready == READY_AHEAD - 1) pthread_cond_broadcast(&lp->room);
        rd_kafka_message_t *m = lp->ms[slot];
        pthread_mutex_unlock(&lp->mu);
        struct pending *pd = wa_xcalloc(1, sizeof *pd);
        pd->lp = lp;
        pd->slot = slot;
        pd->d.on_done = report_done;
        pd->d.ctx = pd;
        l->s.report_async = &pd->d;
        l->s.report_pending = 0;
        int done = run_one(l, m);
        l->s.report_async = NULL;
        /* Once produced, pd belongs to its report: it may be freed, and the command ended,
         * before this line. */
        if (done && l->s.report_pending) {
            pthread_mutex_lock(&lp->mu);
            continue;
        }
        free(pd);
        pthread_mutex_lock(&lp->mu);
        end_command(lp, slot, done);
    }
    pthread_mutex_unlock(&lp->mu);
    return NULL;
}

/* Waits (under lp->mu) for a command to end, or a second, whichever comes first. */
static void wait_room(struct loop *lp)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 1;
    pthread_cond_timedwait(&lp->room, &lp->mu, &until);
}

/* The messages of freed slots (dropped records; ended ones were destroyed by their lane). */
static void destroy_freed(struct loop *lp, const int *slots, int n)
{
    for (int i = 0; i < n; i++) {
        if (lp->ms[slots[i]]) rd_kafka_message_destroy(lp->ms[slots[i]]);
        lp->ms[slots[i]] = NULL;
    }
}

/* Partitions taken from this consumer (inside its poll): their commands not started are
 * dropped, and the ones in flight end first, their offsets stored, before the commit. */
static void on_revoke(void *ctx, const rd_kafka_topic_partition_list_t *parts)
{
    struct loop *lp = ctx;
    static int slots[WA_LINEUP_MAX];
    int64_t t0 = wa_now_ms();
    pthread_mutex_lock(&lp->mu);
    for (;;) {
        int running = 0;
        for (int i = 0; i < parts->cnt; i++)
            running += wa_lineup_drop(&lp->q, parts->elems[i].partition);
        if (!running) break;
        if (!wa_running()) {
            /* A revoke while the process stops: nobody serves the producer any more, and a
             * success's report must still be acknowledged to end its command. */
            pthread_mutex_unlock(&lp->mu);
            rd_kafka_poll(lp->producer, 100);
            pthread_mutex_lock(&lp->mu);
            continue;
        }
        wait_room(lp);
    }
    for (int i = 0; i < parts->cnt; i++)
        destroy_freed(lp, slots, wa_lineup_forget(&lp->q, parts->elems[i].partition, slots));
    wa_metric_set(lp->held, lp->q.held);
    pthread_mutex_unlock(&lp->mu);
    wa_info("commands of the revoked partitions ended ms=%lld", (long long)(wa_now_ms() - t0));
}

/* Polls commands into the lineup until the process stops. */
static void consume(struct loop *lp)
{
    while (wa_running()) {
        pthread_mutex_lock(&lp->mu);
        /* Full: a contact's command at the head of its partition has held the offset while
         * WA_LINEUP_MAX commands behind it ended; wait for room (it ends within
         * max_handle_ms, under the group's max.poll.interval.ms). Or enough are ready: a lane
         * takes one when its command ends, within the same bound. */
        while ((lp->q.free_head < 0 || lp->q.ready >= READY_AHEAD) && wa_running())
            wait_room(lp);
        int full = lp->q.free_head < 0;
        pthread_mutex_unlock(&lp->mu);
        if (full) break; /* stopping: a record polled now could not be held */
        rd_kafka_message_t *m = rd_kafka_consumer_poll(lp->consumer, 100);
        if (!m) continue;
        if (m->err) {
            wa_warn("kafka consumer: %s", rd_kafka_message_errstr(m));
            rd_kafka_message_destroy(m);
            continue;
        }
        pthread_mutex_lock(&lp->mu);
        int slot = wa_lineup_add(&lp->q, m->partition, m->offset, m->key, m->key_len);
        if (slot >= 0) {
            lp->ms[slot] = m;
            if (lp->q.r[slot].state == WA_LINEUP_READY) pthread_cond_signal(&lp->more);
            wa_metric_set(lp->held, lp->q.held);
        }
        pthread_mutex_unlock(&lp->mu);
        if (slot < 0) {
            /* Not held, so its offset is never stored: a partition this large is read again
             * by a member that can hold it. */
            wa_error("kafka partition=%d is beyond the %d this sender can hold", m->partition,
                     WA_LINEUP_PARTS);
            rd_kafka_message_destroy(m);
        }
    }
}

/* Stops the lanes taking commands, waits for the ones in flight (their offsets are stored),
 * then commits and leaves the group. */
static void close_loop(struct loop *lp)
{
    pthread_mutex_lock(&lp->mu);
    lp->closing = 1;
    pthread_cond_broadcast(&lp->more);
    while (lp->q.taken > 0) {
        /* The reports of the last successes: nobody serves the producer any more. */
        pthread_mutex_unlock(&lp->mu);
        rd_kafka_poll(lp->producer, 100);
        pthread_mutex_lock(&lp->mu);
    }
    pthread_mutex_unlock(&lp->mu);
    wa_kafka_consumer_close(lp->consumer);
    for (int i = 0; i < WA_LINEUP_MAX; i++)
        if (lp->ms[i]) rd_kafka_message_destroy(lp->ms[i]);
}

static void *consume_main(void *arg)
{
    struct loop *lp = arg;
    consume(lp);
    close_loop(lp);
    return NULL;
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
    struct loop *lp = wa_xcalloc(1, sizeof *lp);
    lp->u = u;
    lp->producer = s->producer;
    wa_lineup_init(&lp->q);
    pthread_mutex_init(&lp->mu, NULL);
    pthread_cond_init(&lp->more, NULL);
    pthread_cond_init(&lp->room, NULL);
    lp->revoke.fn = on_revoke;
    lp->revoke.ctx = lp;
    static char label[160], help[256];
    snprintf(label, sizeof label, "topic=\"%s\"", u->topic);
    snprintf(help, sizeof help,
             "Commands polled and not yet passed by the stored offset (at most %d): ready, "
             "waiting behind their contact's earlier one, in flight, or ended behind one in "
             "flight.",
             WA_LINEUP_MAX);
    lp->held = wa_metric_new(WA_GAUGE, "wa_sender_held_commands", label, help);
    const char *topics[] = {u->topic};
    /* The poll waits at most for one command in flight to end (a revoke), or for room. */
    long max_poll = u->max_handle_ms > 0 ? u->max_handle_ms + 60000 : 0;
    /* 1 MB of commands fetched ahead: a second's work at 1,000 sends/s, and 3 MB less resident
     * than the router's 4 MB (bench/README.md, "Sender capacity"). */
    lp->consumer = wa_kafka_consumer_new(u->brokers, u->group, topics, 1, max_poll, 1024,
                                         &lp->revoke, err, sizeof err);
    if (!lp->consumer) {
        fprintf(stderr, "config: kafka: %s\n", err);
        return WA_EX_CONFIG;
    }
    /* Health first (sender-baileys probes its bridges): the routers learn it is up while the
     * lanes connect to Postgres, not a second later. */
    size_t nwarm = 0;
    while (u->produces && u->produces[nwarm])
        nwarm++;
    wa_kafka_warm(s->producer, u->produces, nwarm, 5000);
    if (u->started) u->started(s, u->ctx);
    static struct wa_pg_group claims = WA_PG_GROUP_INIT, results = WA_PG_GROUP_INIT,
                              paces = WA_PG_GROUP_INIT;
    static struct wa_pg_pool pool;
    struct lane *ls = wa_xcalloc((size_t)n, sizeof *ls);
    const struct wa_pg_stmt *stmts = u->stmts ? u->stmts : wa_send_statements;
    size_t nstmts = u->stmts ? u->nstmts : wa_send_nstatements;
    int nconn = u->connections > 0 ? u->connections : n < 4 ? n : 4;
    /* Postgres may still be starting: wait for it rather than crash-loop. */
    while (wa_running() &&
           wa_pg_pool_open(&pool, nconn, u->database_url, stmts, nstmts, err, sizeof err) < 0) {
        wa_warn("postgres: %s; retrying", err);
        wa_sleep_ms(1000);
    }
    s->pg = &pool;
    for (int i = 0; i < n && wa_running(); i++) {
        struct lane *l = &ls[i];
        l->s = *s;
        if (!u->stmts) { /* the claim protocol's statements */
            l->s.claims = &claims;
            l->s.results = &results;
            l->s.paces = &paces;
        }
        l->lp = lp;
        l->ctx = u->worker_ctx ? u->worker_ctx(i, u->ctx) : u->ctx;
        l->ok = 1;
        atomic_fetch_add(&lanes_ready, 1);
    }
    int started = 0;
    for (; started < n && wa_running(); started++)
        pthread_create(&ls[started].thread, NULL, lane_main, &ls[started]);
    pthread_t consumer;
    int consuming = wa_running() && pthread_create(&consumer, NULL, consume_main, lp) == 0;
    wa_info("consuming %s as group %s with %d lanes sharing %d postgres connections, holding up "
            "to %d commands max_poll_interval_ms=%ld",
            u->topic, u->group, n, nconn, WA_LINEUP_MAX, max_poll > 0 ? max_poll : 300000L);

    /* Every delivery report is served here: the lanes sleep until theirs is in. */
    wa_kafka_serve(s->producer);

    wa_info("stopping");
    if (u->stopping) u->stopping(u->ctx);
    if (consuming)
        pthread_join(consumer, NULL);
    else
        close_loop(lp);
    for (int i = 0; i < started; i++)
        pthread_join(ls[i].thread, NULL);
    wa_pg_pool_close(&pool);
    free(ls);
    free(lp);
    wa_kafka_producer_close(s->producer, 5000);
    MHD_stop_daemon(admin);
    return wa_kafka_fatal() ? 1 : 0;
}
