/* crm.c - the send API's reads of the CRM, off the HTTP threads. A request that needs the CRM
 * is suspended while one worker thread asks Postgres, within a deadline, and is then resumed:
 * a slow or stalled database delays those requests only, never a webhook, whose answer depends
 * on Kafka alone. */
#include "ingress.h"
#include "wa_log.h"
#include "wa_pg.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Longer than a healthy lookup ever takes; short enough for an API client. */
#define CRM_DEADLINE_MS 1500
/* Lookups waiting at most; past that the CRM counts as unavailable at once. */
#define CRM_QUEUE_MAX 256

static const struct wa_pg_stmt statements[] = {
    {"message_by_id",
     "SELECT m.id, c.phone, m.status, m.provider, m.attempts, m.failover, m.provider_message_id, "
     "  m.error_code, m.error_text, m.reason, m.type, m.idempotency_key, "
     "  (extract(epoch FROM m.created_at) * 1000)::bigint, "
     "  (extract(epoch FROM m.updated_at) * 1000)::bigint, "
     "  (extract(epoch FROM m.sent_at) * 1000)::bigint, m.latency_ms, "
     "  (SELECT json_agg(json_build_object('status', s.status, 'provider', s.provider, "
     "     'error_code', s.error_code, 'at_ms', (extract(epoch FROM s.occurred_at) * 1000)::bigint)"
     "     ORDER BY s.id) FROM message_statuses s WHERE s.message_id = m.id), m.channel "
     "FROM messages m JOIN contacts c ON c.id = m.contact_id "
     "WHERE m.id = $1::uuid AND m.direction = 'outbound'",
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
    if (wa_pg_connect(&pg, ing_cfg.database_url, statements, 1, err, sizeof err) < 0) {
        wa_warn("postgres: %s", err);
        pg_retry_at = wa_now_ms() + 5000;
        return NULL;
    }
    return &pg;
}

/* The message as the API shows it, or NULL (not found, or no CRM: *unavailable). */
static json_t *lookup(const char *id, int *unavailable)
{
    *unavailable = 0;
    struct wa_pg *db = crm();
    if (!db) {
        *unavailable = 1;
        return NULL;
    }
    enum wa_result res;
    char err[256];
    const char *p[] = {id};
    PGresult *q =
        wa_pg_exec_within(db, "message_by_id", 1, p, CRM_DEADLINE_MS, &res, err, sizeof err);
    if (!q) {
        wa_warn("postgres: %s", err);
        if (!pg.conn) pg_retry_at = wa_now_ms() + 5000; /* it stalled: give it a moment */
        *unavailable = 1;
        return NULL;
    }
    json_t *o = NULL;
    if (PQntuples(q) == 1) {
#define S(i) (PQgetisnull(q, 0, i) ? json_null() : json_string(PQgetvalue(q, 0, i)))
#define I(i)                                                                                       \
    (PQgetisnull(q, 0, i) ? json_null() : json_integer(strtoll(PQgetvalue(q, 0, i), NULL, 10)))
        o = json_object();
        json_object_set_new(o, "id", S(0));
        json_object_set_new(o, "to", S(1));
        json_object_set_new(o, "status", S(2));
        json_object_set_new(o, "provider", S(3));
        json_object_set_new(o, "attempts", I(4));
        json_object_set_new(o, "failover", json_boolean(PQgetvalue(q, 0, 5)[0] == 't'));
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
        json_t *h =
            PQgetisnull(q, 0, 16) ? json_array() : json_loads(PQgetvalue(q, 0, 16), 0, NULL);
        json_object_set_new(o, "statuses", h ? h : json_array());
        json_object_set_new(o, "channel", S(17));
#undef S
#undef I
    }
    PQclear(q);
    return o;
}

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static struct ing_request *head, *tail; /* linked through crm_next */
static int queued, stopping, started;
static pthread_t worker;

static void *work(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&mu);
    for (;;) {
        while (!head && !stopping)
            pthread_cond_wait(&cv, &mu);
        if (!head) break; /* stopping, and nothing left */
        struct ing_request *r = head;
        head = r->crm_next;
        if (!head) tail = NULL;
        queued--;
        pthread_mutex_unlock(&mu);
        r->crm_result = lookup(r->crm_id, &r->crm_unavailable);
        MHD_resume_connection(r->conn); /* the HTTP thread runs r->resume */
        pthread_mutex_lock(&mu);
    }
    pthread_mutex_unlock(&mu);
    wa_pg_close(&pg);
    return NULL;
}

void ing_crm_start(void)
{
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

enum MHD_Result ing_crm_lookup(struct ing_request *r, const char *id,
                               enum MHD_Result (*then)(struct ing_request *r))
{
    snprintf(r->crm_id, sizeof r->crm_id, "%s", id);
    r->crm_result = NULL;
    r->crm_unavailable = 0;
    pthread_mutex_lock(&mu);
    if (!started || stopping || queued >= CRM_QUEUE_MAX) {
        pthread_mutex_unlock(&mu);
        r->crm_unavailable = 1;
        return then(r);
    }
    /* Suspended before it is queued: the worker may resume it at once. */
    r->resume = then;
    r->suspended = 1;
    MHD_suspend_connection(r->conn);
    r->crm_next = NULL;
    if (tail)
        tail->crm_next = r;
    else
        head = r;
    tail = r;
    queued++;
    pthread_cond_signal(&cv);
    pthread_mutex_unlock(&mu);
    return MHD_YES;
}
