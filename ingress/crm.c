/* crm.c - the send API's reads of the CRM, off the HTTP threads. A request that needs the CRM
 * is suspended while one worker thread asks Postgres, within a deadline, and is then resumed:
 * a slow or stalled database delays those requests only, never a webhook, whose answer depends
 * on Kafka alone. The same worker holds the sends that wait for the router's decision
 * (Prefer: wait): it looks for all their rows in one query per round, so many waiting requests
 * cost neither a thread each nor a query each. */
#include "ingress.h"
#include "wa_log.h"
#include "wa_pg.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Longer than a healthy lookup ever takes; short enough for an API client. */
#define CRM_DEADLINE_MS 1500
/* Lookups waiting at most; past that the CRM counts as unavailable at once. */
#define CRM_QUEUE_MAX 256
/* Sends waiting for their row at most (each round asks for all of them in one query). */
#define CRM_WAITERS_MAX 256
/* How often waiting sends are looked for: the router stores a row within milliseconds, and one
 * small query per round is cheap whatever the number of waiters. */
#define CRM_POLL_MS 10

/* A message as the API shows it; the rows are found by the WHERE that follows. */
#define MESSAGE_SELECT                                                                             \
    "SELECT m.id, c.phone, m.status, m.provider, m.attempts, m.failover, m.provider_message_id, "  \
    "  m.error_code, m.error_text, m.reason, m.type, m.idempotency_key, "                          \
    "  (extract(epoch FROM m.created_at) * 1000)::bigint, "                                        \
    "  (extract(epoch FROM m.updated_at) * 1000)::bigint, "                                        \
    "  (extract(epoch FROM m.sent_at) * 1000)::bigint, m.latency_ms, "                             \
    "  (SELECT json_agg(json_build_object('status', s.status, 'provider', s.provider, "            \
    "     'error_code', s.error_code, 'at_ms', (extract(epoch FROM s.occurred_at) * "              \
    "1000)::bigint)"                                                                               \
    "     ORDER BY s.id) FROM message_statuses s WHERE s.message_id = m.id), m.channel "           \
    "FROM messages m JOIN contacts c ON c.id = m.contact_id "

static const struct wa_pg_stmt statements[] = {
    {"message_by_id", MESSAGE_SELECT "WHERE m.id = $1::uuid AND m.direction = 'outbound'", 1},
    {"messages_by_ids", MESSAGE_SELECT "WHERE m.id = ANY($1::uuid[]) AND m.direction = 'outbound'",
     1},
};

/* The worker's connection, opened on first use. After a failure the CRM is not asked again for
 * a few seconds, so an outage never makes every request wait for a connect timeout. */
static struct wa_pg pg;
static int64_t pg_retry_at;

static struct wa_pg *crm(void)
{
    if (!ing_cfg.database_url || !ing_cfg.database_url[0]) return NULL;
    if (pg.conn && wa_pg_ok(&pg)) return &pg;
    if (wa_now_ms() < pg_retry_at) return NULL;
    char err[256];
    if (wa_pg_connect(&pg, ing_cfg.database_url, statements, sizeof statements / sizeof *statements,
                      err, sizeof err) < 0) {
        wa_warn("postgres: %s", err);
        pg_retry_at = wa_now_ms() + 5000;
        return NULL;
    }
    return &pg;
}

/* Runs one statement within the deadline, or NULL: no CRM, or it failed (logged). */
static PGresult *ask(const char *stmt, const char *param)
{
    struct wa_pg *db = crm();
    if (!db) return NULL;
    enum wa_result res;
    char err[256];
    const char *p[] = {param};
    PGresult *q = wa_pg_exec_within(db, stmt, 1, p, CRM_DEADLINE_MS, &res, err, sizeof err);
    if (!q) {
        wa_warn("postgres: %s", err);
        if (!pg.conn) pg_retry_at = wa_now_ms() + 5000; /* it stalled: give it a moment */
    }
    return q;
}

/* Row i of a MESSAGE_SELECT as the API shows it. */
static json_t *message_json(const PGresult *q, int i)
{
#define S(c) (PQgetisnull(q, i, c) ? json_null() : json_string(PQgetvalue(q, i, c)))
#define I(c)                                                                                       \
    (PQgetisnull(q, i, c) ? json_null() : json_integer(strtoll(PQgetvalue(q, i, c), NULL, 10)))
    json_t *o = json_object();
    json_object_set_new(o, "id", S(0));
    json_object_set_new(o, "to", S(1));
    json_object_set_new(o, "status", S(2));
    json_object_set_new(o, "provider", S(3));
    json_object_set_new(o, "attempts", I(4));
    json_object_set_new(o, "failover", json_boolean(PQgetvalue(q, i, 5)[0] == 't'));
    json_object_set_new(o, "providerMessageId", S(6));
    json_object_set_new(o, "errorCode", S(7));
    json_object_set_new(o, "errorText", S(8));
    json_object_set_new(o, "reason", S(9));
    json_object_set_new(o, "type", S(10));
    json_object_set_new(o, "idempotencyKey", S(11));
    json_object_set_new(o, "createdAtMs", I(12));
    json_object_set_new(o, "updatedAtMs", I(13));
    json_object_set_new(o, "sentAtMs", I(14));
    json_object_set_new(o, "latencyMs", I(15));
    json_t *h = PQgetisnull(q, i, 16) ? json_array() : json_loads(PQgetvalue(q, i, 16), 0, NULL);
    json_object_set_new(o, "statuses", h ? h : json_array());
    json_object_set_new(o, "channel", S(17));
#undef S
#undef I
    return o;
}

/* The message as the API shows it, or NULL (not found, or no CRM: *unavailable). */
static json_t *lookup(const char *id, int *unavailable)
{
    PGresult *q = ask("message_by_id", id);
    *unavailable = !q;
    if (!q) return NULL;
    json_t *o = PQntuples(q) == 1 ? message_json(q, 0) : NULL;
    PQclear(q);
    return o;
}

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv; /* on CLOCK_MONOTONIC, like wa_now_ms(): set up by ing_crm_start */
static struct ing_request *head, *tail; /* lookups, linked through crm_next */
static struct ing_request *waiters;     /* sends waiting for their row, linked through crm_next */
static int queued, nwaiting, stopping, started;
static int64_t next_poll_ms;
static pthread_t worker;

/* Hands a request back to its HTTP thread, which runs r->resume. */
static void resume(struct ing_request *r)
{
    MHD_resume_connection(r->conn);
}

/* Answers every waiter of list without its row: the CRM cannot be asked (down, or ingress
 * stops). Adds how many to *answered. */
static void give_up(struct ing_request *list, int *answered)
{
    while (list) {
        ++*answered;
        struct ing_request *r = list;
        list = r->crm_next;
        r->crm_unavailable = 1;
        resume(r);
    }
}

/* The waiters' ids as a Postgres array literal: "{id,id,...}" (UUIDs need no quoting). */
static char *id_array(const struct ing_request *list)
{
    struct wa_buf b = {0};
    wa_buf_append(&b, "{", 1);
    for (const struct ing_request *r = list; r; r = r->crm_next)
        wa_buf_appendf(&b, "%s%s", r == list ? "" : ",", r->crm_id);
    wa_buf_append(&b, "}", 1); /* wa_buf keeps it NUL-terminated */
    return b.data;
}

/* One round for every waiting send: one query for all their rows. A send whose row is stored,
 * or whose deadline passed, is resumed; the others are returned, to wait for the next round. */
static struct ing_request *poll_waiters(struct ing_request *list, int *answered)
{
    char *ids = id_array(list);
    PGresult *q = ask("messages_by_ids", ids);
    free(ids);
    if (!q) {
        give_up(list, answered);
        return NULL;
    }
    int64_t now = wa_now_ms();
    struct ing_request *left = NULL;
    while (list) {
        struct ing_request *r = list;
        list = r->crm_next;
        /* Two sends of the same key may wait together: each gets its own copy of the row. */
        for (int i = 0; i < PQntuples(q) && !r->crm_result; i++)
            if (strcmp(PQgetvalue(q, i, 0), r->crm_id) == 0) r->crm_result = message_json(q, i);
        if (r->crm_result || now >= r->crm_deadline_ms) {
            ++*answered;
            resume(r);
        } else {
            r->crm_next = left;
            left = r;
        }
    }
    PQclear(q);
    return left;
}

/* Sleeps until a lookup comes, a round of the waiters is due, or ingress stops. Called locked. */
static void idle(void)
{
    for (;;) {
        if (head || stopping) return;
        if (!waiters) {
            pthread_cond_wait(&cv, &mu);
            continue;
        }
        int64_t now = wa_now_ms();
        if (now >= next_poll_ms) return;
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        int64_t ns = ts.tv_nsec + (next_poll_ms - now) * 1000000;
        ts.tv_sec += ns / 1000000000;
        ts.tv_nsec = ns % 1000000000;
        if (pthread_cond_timedwait(&cv, &mu, &ts) == ETIMEDOUT) return;
    }
}

static void *work(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&mu);
    for (;;) {
        idle();
        if (head) { /* lookups first: a waiting send is looked for at the next round anyway */
            struct ing_request *r = head;
            head = r->crm_next;
            if (!head) tail = NULL;
            queued--;
            pthread_mutex_unlock(&mu);
            r->crm_result = lookup(r->crm_id, &r->crm_unavailable);
            resume(r);
            pthread_mutex_lock(&mu);
            continue;
        }
        if (stopping) break; /* and no lookup left */
        /* nwaiting still counts this round's waiters, so the cap holds while it runs. */
        struct ing_request *round = waiters;
        waiters = NULL;
        pthread_mutex_unlock(&mu);
        int answered = 0;
        struct ing_request *left = poll_waiters(round, &answered);
        pthread_mutex_lock(&mu);
        nwaiting -= answered;
        next_poll_ms = wa_now_ms() + CRM_POLL_MS;
        while (left) { /* back with those that came meanwhile */
            struct ing_request *r = left;
            left = r->crm_next;
            r->crm_next = waiters;
            waiters = r;
        }
    }
    /* Stopping: the waiting sends are answered at once (they were accepted; Kafka has them). */
    struct ing_request *rest = waiters;
    waiters = NULL;
    pthread_mutex_unlock(&mu);
    int gone = 0;
    give_up(rest, &gone);
    wa_pg_close(&pg);
    return NULL;
}

void ing_crm_start(void)
{
    pthread_condattr_t a;
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    pthread_cond_init(&cv, &a);
    pthread_condattr_destroy(&a);
    started = pthread_create(&worker, NULL, work, NULL) == 0;
}

void ing_crm_stop(void)
{
    if (!started) return;
    pthread_mutex_lock(&mu);
    stopping = 1;
    pthread_cond_signal(&cv);
    pthread_mutex_unlock(&mu);
    pthread_join(worker, NULL); /* what is queued is answered first, each within its deadline */
}

/* Suspends r and queues it for the worker, or returns 0 (not started, stopping, or full). */
static int enqueue(struct ing_request *r, enum MHD_Result (*then)(struct ing_request *r), int wait)
{
    pthread_mutex_lock(&mu);
    if (!started || stopping || (wait ? nwaiting >= CRM_WAITERS_MAX : queued >= CRM_QUEUE_MAX)) {
        pthread_mutex_unlock(&mu);
        return 0;
    }
    /* Suspended before it is queued: the worker may resume it at once. */
    r->resume = then;
    r->suspended = 1;
    MHD_suspend_connection(r->conn);
    r->crm_next = NULL;
    if (wait) {
        r->crm_next = waiters;
        waiters = r;
        nwaiting++;
    } else {
        if (tail)
            tail->crm_next = r;
        else
            head = r;
        tail = r;
        queued++;
    }
    pthread_cond_signal(&cv);
    pthread_mutex_unlock(&mu);
    return 1;
}

enum MHD_Result ing_crm_lookup(struct ing_request *r, const char *id,
                               enum MHD_Result (*then)(struct ing_request *r))
{
    snprintf(r->crm_id, sizeof r->crm_id, "%s", id);
    r->crm_result = NULL;
    r->crm_unavailable = 0;
    if (enqueue(r, then, 0)) return MHD_YES;
    r->crm_unavailable = 1;
    return then(r);
}

enum MHD_Result ing_crm_wait(struct ing_request *r, const char *id, int64_t deadline_ms,
                             enum MHD_Result (*then)(struct ing_request *r))
{
    snprintf(r->crm_id, sizeof r->crm_id, "%s", id);
    r->crm_result = NULL;
    r->crm_unavailable = 0;
    r->crm_deadline_ms = deadline_ms;
    if (enqueue(r, then, 1)) return MHD_YES;
    r->crm_unavailable = 1;
    return then(r);
}
