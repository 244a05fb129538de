/* wa_send.c - the senders' claim protocol and result reporting. */
#include "wa_send.h"
#include "wa_event.h"
#include "wa_sigv4.h"
#include "wa_backoff.h"
#include "wa_http.h"
#include "wa_kafka.h"
#include "wa_log.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const struct wa_pg_stmt wa_send_statements[] = {
    /* $1 id, $2 provider. Returns the attempts when claimed (else NULL), and
     * the row as it was: status, provider. */
    {"send_claim",
     "WITH u AS ("
     "  UPDATE messages SET status = 'sending', attempts = attempts + 1, updated_at = now() "
     "  WHERE id = $1::uuid AND provider = $2 AND status = 'queued' RETURNING attempts"
     ") "
     "SELECT (SELECT attempts FROM u), m.status, m.provider, m.attempts "
     "FROM messages m WHERE m.id = $1::uuid",
     2},
    {"send_reclaim",
     "UPDATE messages SET attempts = attempts + 1, updated_at = now() "
     "WHERE id = $1::uuid AND status = 'sending' RETURNING attempts",
     1},
    {"send_release",
     "UPDATE messages SET status = 'queued', updated_at = now() "
     "WHERE id = $1::uuid AND status = 'sending'",
     1},
    /* A provider callback may already have moved the status on: keep the later
     * one, but always keep the provider's id. */
    {"send_finish",
     "UPDATE messages SET "
     "  status = CASE WHEN wa_status_rank($2) > wa_status_rank(status) THEN $2 ELSE status END, "
     "  provider_message_id = COALESCE(provider_message_id, $3), "
     "  error_code = COALESCE($4, error_code), error_text = COALESCE($5, error_text), "
     "  latency_ms = COALESCE($6::integer, latency_ms), "
     "  sent_at = CASE WHEN $2 = 'sent' THEN COALESCE(sent_at, now()) ELSE sent_at END, "
     "  updated_at = now() "
     "WHERE id = $1::uuid",
     6},
    {"media_locate",
     "SELECT bucket, object_key, mime FROM media WHERE id = $1::bigint AND stored_at IS NOT NULL",
     1},
    {"send_failover",
     "UPDATE messages SET provider = 'twilio', failover = true, status = 'queued', reason = $2, "
     "  updated_at = now() "
     "WHERE id = $1::uuid AND provider = 'baileys' AND status = 'sending'",
     2},
};
const size_t wa_send_nstatements = sizeof wa_send_statements / sizeof wa_send_statements[0];

static PGresult *run(struct wa_sender *s, const char *stmt, int n, const char *const *p,
                     enum wa_result *res)
{
    char err[512];
    PGresult *q = wa_pg_exec(&s->pg, stmt, n, p, res, err, sizeof err);
    if (!q) wa_warn("postgres %s: %s", stmt, err);
    return q;
}

enum wa_claim wa_send_claim(struct wa_sender *s, const char *id, int *attempts)
{
    enum wa_result res;
    const char *p[] = {id, s->provider};
    PGresult *q = run(s, "send_claim", 2, p, &res);
    if (!q) return res == WA_RETRY ? WA_CLAIM_RETRY : WA_CLAIM_MISSING;
    enum wa_claim c;
    if (PQntuples(q) == 0) {
        c = WA_CLAIM_MISSING;
    } else if (!PQgetisnull(q, 0, 0)) {
        *attempts = atoi(PQgetvalue(q, 0, 0));
        c = WA_CLAIM_OK;
    } else {
        const char *status = PQgetvalue(q, 0, 1);
        const char *provider = PQgetvalue(q, 0, 2);
        *attempts = atoi(PQgetvalue(q, 0, 3));
        if (strcmp(provider, s->provider) != 0)
            c = strcmp(status, "queued") == 0 ? WA_CLAIM_MOVED : WA_CLAIM_DONE;
        else if (strcmp(status, "sending") == 0)
            c = WA_CLAIM_INFLIGHT;
        else
            c = WA_CLAIM_DONE;
    }
    PQclear(q);
    return c;
}

enum wa_result wa_send_reclaim(struct wa_sender *s, const char *id, int *attempts)
{
    enum wa_result res;
    const char *p[] = {id};
    PGresult *q = run(s, "send_reclaim", 1, p, &res);
    if (!q) return res;
    if (PQntuples(q) == 1) *attempts = atoi(PQgetvalue(q, 0, 0));
    PQclear(q);
    return WA_OK;
}

enum wa_result wa_send_release(struct wa_sender *s, const char *id)
{
    enum wa_result res;
    const char *p[] = {id};
    PGresult *q = run(s, "send_release", 1, p, &res);
    if (!q) return res;
    PQclear(q);
    return WA_OK;
}

enum wa_result wa_send_finish(struct wa_sender *s, const char *id, const char *status,
                              const char *provider_message_id, const char *error_code,
                              const char *error_text, int64_t latency_ms)
{
    enum wa_result res;
    char lat[24];
    snprintf(lat, sizeof lat, "%lld", (long long)latency_ms);
    const char *p[] = {id,         status,     provider_message_id,
                       error_code, error_text, latency_ms >= 0 ? lat : NULL};
    PGresult *q = run(s, "send_finish", 6, p, &res);
    if (!q) return res;
    PQclear(q);
    return WA_OK;
}

enum wa_result wa_send_failover(struct wa_sender *s, const char *id, const char *reason)
{
    enum wa_result res;
    const char *p[] = {id, reason};
    PGresult *q = run(s, "send_failover", 2, p, &res);
    if (!q) return res;
    PQclear(q);
    return WA_OK;
}

enum wa_result wa_send_report(struct wa_sender *s, const struct wa_outbound *o,
                              const char *provider, const char *status,
                              const char *provider_message_id, const char *error_code,
                              const char *error_text, int attempt, int64_t latency_ms, int failover,
                              const char *reason)
{
    int64_t now = wa_wall_ms();
    struct wa_status st = {
        .provider = provider,
        .provider_message_id = provider_message_id,
        .message_id = o->id,
        .status = status,
        .phone = o->to,
        .error_code = error_code,
        .error_text = error_text,
        .source = "sender",
        .reason = reason,
        .timestamp_ms = now,
        .received_ms = now,
        .latency_ms = latency_ms,
        .attempt = attempt,
        .failover = failover,
    };
    char *json = wa_status_encode(&st);
    if (!json) return WA_FAIL;
    rd_kafka_resp_err_t e = wa_kafka_produce_sync(s->producer, s->topic_status, wa_event_key(o->to),
                                                  json, strlen(json));
    free(json);
    if (e) {
        wa_warn("cannot report status on %s: %s", s->topic_status, rd_kafka_err2name(e));
        return WA_RETRY;
    }
    return WA_OK;
}

enum wa_result wa_send_error(struct wa_sender *s, const rd_kafka_message_t *m, const char *code,
                             const char *text, int retryable)
{
    char stage[64];
    snprintf(stage, sizeof stage, s->stage ? "%s" : "sender-%s", s->stage ? s->stage : s->provider);
    char *ev =
        wa_error_encode(stage, code, text, retryable, s->provider, rd_kafka_topic_name(m->rkt),
                        m->partition, m->offset, m->payload, m->len);
    char key[64] = "";
    if (m->key && m->key_len < sizeof key) memcpy(key, m->key, m->key_len);
    rd_kafka_resp_err_t e =
        wa_kafka_produce_sync(s->producer, s->topic_error, key[0] ? key : NULL, ev, strlen(ev));
    free(ev);
    if (e) {
        wa_warn("cannot raise wa.error: %s", rd_kafka_err2name(e));
        return WA_RETRY;
    }
    return WA_OK;
}

char *wa_send_media_url(struct wa_sender *s, const struct wa_media_store *store,
                        const char *media_id, char *mime, size_t mimesz, enum wa_result *res,
                        char *errbuf, size_t errsz)
{
    if (!store->endpoint || !store->endpoint[0] || !store->access_key || !store->secret_key) {
        *res = WA_FAIL;
        snprintf(errbuf, errsz, "stored media cannot be sent: S3_ENDPOINT and keys are not set");
        return NULL;
    }
    for (const char *p = media_id; *p; p++)
        if (*p < '0' || *p > '9' || p - media_id > 18) {
            *res = WA_FAIL;
            snprintf(errbuf, errsz, "media.mediaId %s: not a stored media id", media_id);
            return NULL;
        }
    const char *params[] = {media_id};
    PGresult *q = run(s, "media_locate", 1, params, res);
    if (!q) {
        snprintf(errbuf, errsz, "the CRM is not reachable");
        return NULL;
    }
    if (PQntuples(q) == 0) {
        PQclear(q);
        *res = WA_FAIL;
        snprintf(errbuf, errsz, "media.mediaId %s: no stored media with this id", media_id);
        return NULL;
    }
    snprintf(mime, mimesz, "%s", PQgetisnull(q, 0, 2) ? "" : PQgetvalue(q, 0, 2));
    char *url = wa_media_presign(store, PQgetvalue(q, 0, 0), PQgetvalue(q, 0, 1), errbuf, errsz);
    PQclear(q);
    *res = url ? WA_OK : WA_FAIL;
    return url;
}

char *wa_media_presign(const struct wa_media_store *store, const char *bucket, const char *key,
                       char *errbuf, size_t errsz)
{
    char path[1200];
    snprintf(path, sizeof path, "/%s/%s", bucket, key);
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL, *port = NULL;
    char *url = NULL;
    if (store->endpoint && curl_url_set(u, CURLUPART_URL, store->endpoint, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK) {
        curl_url_get(u, CURLUPART_PORT, &port, 0); /* only when the URL names one */
        char hostport[300];
        snprintf(hostport, sizeof hostport, "%s%s%s", host, port ? ":" : "", port ? port : "");
        struct wa_sigv4_presign ps = {
            .method = "GET",
            .scheme = scheme,
            .host = hostport,
            .path = path,
            .region = store->region,
            .service = "s3",
            .access_key = store->access_key,
            .secret_key = store->secret_key,
            .now_s = wa_wall_ms() / 1000,
            .expires_s = (int)store->ttl_s,
        };
        url = wa_sigv4_presign_url(&ps, errbuf, errsz);
    } else {
        snprintf(errbuf, errsz, "S3_PUBLIC_ENDPOINT is not a URL");
    }
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_url_cleanup(u);
    return url;
}

static atomic_int workers_ready;
static int workers_total;

static int ready(void)
{
    return atomic_load(&workers_ready) == workers_total;
}

struct worker {
    struct wa_sender s; /* its own Postgres connection; the producer is shared */
    const struct wa_sender_setup *u;
    rd_kafka_t *consumer;
    void *ctx;
    pthread_t thread;
};

static void *work(void *arg)
{
    struct worker *w = arg;
    int retry = 0, ok = 1;
    while (wa_running()) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(w->consumer, 100);
        if (!m) continue;
        if (m->err) {
            wa_warn("kafka consumer: %s", rd_kafka_message_errstr(m));
            rd_kafka_message_destroy(m);
            continue;
        }
        enum wa_result r = w->u->handle(&w->s, m, w->ctx);
        if (r == WA_RETRY) {
            /* The CRM or Kafka is away: the same command again, later. */
            wa_kafka_rewind(w->consumer, &m, 1);
            int now_ok = wa_pg_ok(&w->s.pg);
            if (now_ok != ok) atomic_fetch_add(&workers_ready, now_ok ? 1 : -1);
            ok = now_ok;
            wa_sleep_ms(wa_backoff_ms(++retry, 100, 5000, 0.2, wa_jitter_random()));
        } else {
            if (!ok) atomic_fetch_add(&workers_ready, 1);
            ok = 1;
            retry = 0;
            wa_kafka_store_offset(w->consumer, m);
        }
        rd_kafka_message_destroy(m);
    }
    wa_kafka_consumer_close(w->consumer);
    wa_pg_close(&w->s.pg);
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
    workers_total = n;
    struct MHD_Daemon *admin = wa_http_admin_start(u->listen, ready, err, sizeof err);
    if (!admin) {
        wa_error("%s", err);
        return WA_EX_TEMPFAIL;
    }
    struct worker *ws = wa_xcalloc((size_t)n, sizeof *ws);
    const char *topics[] = {u->topic};
    for (int i = 0; i < n && wa_running(); i++) {
        struct worker *w = &ws[i];
        w->s = *s;
        w->u = u;
        w->ctx = u->worker_ctx ? u->worker_ctx(i, u->ctx) : u->ctx;
        long max_poll = u->max_handle_ms > 0 ? u->max_handle_ms + 60000 : 0;
        w->consumer =
            wa_kafka_consumer_new(u->brokers, u->group, topics, 1, max_poll, err, sizeof err);
        if (!w->consumer) {
            fprintf(stderr, "config: kafka: %s\n", err);
            return WA_EX_CONFIG;
        }
        /* Postgres may still be starting: wait for it rather than crash-loop. */
        const struct wa_pg_stmt *stmts = u->stmts ? u->stmts : wa_send_statements;
        size_t nstmts = u->stmts ? u->nstmts : wa_send_nstatements;
        while (wa_running() &&
               wa_pg_connect(&w->s.pg, u->database_url, stmts, nstmts, err, sizeof err) < 0) {
            wa_warn("postgres: %s; retrying", err);
            wa_sleep_ms(1000);
        }
        atomic_fetch_add(&workers_ready, 1);
    }
    size_t nwarm = 0;
    while (u->produces && u->produces[nwarm])
        nwarm++;
    wa_kafka_warm(s->producer, u->produces, nwarm, 5000);
    if (u->started) u->started(s, u->ctx);
    int started = 0;
    for (; started < n && wa_running(); started++)
        pthread_create(&ws[started].thread, NULL, work, &ws[started]);
    wa_info("consuming %s as group %s with %d workers max_poll_interval_ms=%ld", u->topic, u->group,
            n, u->max_handle_ms > 0 ? u->max_handle_ms + 60000 : 300000L);

    /* Every delivery report is served here: the workers sleep until theirs is in. */
    wa_kafka_serve(s->producer);

    wa_info("stopping");
    if (u->stopping) u->stopping(u->ctx);
    for (int i = 0; i < started; i++)
        pthread_join(ws[i].thread, NULL);
    free(ws);
    wa_kafka_producer_close(s->producer, 5000);
    MHD_stop_daemon(admin);
    return wa_kafka_fatal() ? 1 : 0;
}
