/* wa_pg.c - libpq connection, statement preparation and error classes. */
#include "wa_pg.h"
#include "wa_log.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* libpq's messages end in a newline and the server's may add DETAIL and CONTEXT lines: one log
 * line per event. */
static void one_line(char *errbuf)
{
    size_t l = strlen(errbuf);
    while (l && (errbuf[l - 1] == '\n' || errbuf[l - 1] == ' '))
        errbuf[--l] = '\0';
    for (char *nl = strchr(errbuf, '\n'); nl; nl = strchr(nl, '\n'))
        *nl = ' ';
}

static int prepare_all(struct wa_pg *pg, char *errbuf, size_t errsz)
{
    for (size_t i = 0; i < pg->nstmts; i++) {
        const struct wa_pg_stmt *s = &pg->stmts[i];
        PGresult *r = PQprepare(pg->conn, s->name, s->sql, s->nparams, NULL);
        int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
        if (!ok) snprintf(errbuf, errsz, "prepare %s: %s", s->name, PQerrorMessage(pg->conn));
        PQclear(r);
        if (!ok) return -1;
    }
    return 0;
}

static int open_conn(struct wa_pg *pg, char *errbuf, size_t errsz)
{
    if (pg->conn) PQfinish(pg->conn);
    pg->conn = PQconnectdb(pg->url);
    if (PQstatus(pg->conn) != CONNECTION_OK) {
        snprintf(errbuf, errsz, "connect: %s", PQerrorMessage(pg->conn));
        one_line(errbuf);
        return -1;
    }
    return prepare_all(pg, errbuf, errsz);
}

int wa_pg_connect(struct wa_pg *pg, const char *url, const struct wa_pg_stmt *stmts, size_t n,
                  char *errbuf, size_t errsz)
{
    pg->conn = NULL;
    pg->url = url;
    pg->stmts = stmts;
    pg->nstmts = n;
    return open_conn(pg, errbuf, errsz);
}

/* Between statements the server has nothing to say to us (no LISTEN here): an idle connection
 * with something to read is one it has closed (a restart sends "terminating connection due to
 * administrator command", then the end of the stream). */
static int closed_while_idle(PGconn *c)
{
    struct pollfd pfd = {.fd = PQsocket(c), .events = POLLIN};
    return pfd.fd >= 0 && PQtransactionStatus(c) == PQTRANS_IDLE && poll(&pfd, 1, 0) > 0;
}

int wa_pg_ok(struct wa_pg *pg)
{
    /* Replaced before a statement is run on it and fails. */
    if (pg->conn && PQstatus(pg->conn) == CONNECTION_OK && closed_while_idle(pg->conn)) {
        PQfinish(pg->conn);
        pg->conn = NULL;
    }
    if (pg->conn && PQstatus(pg->conn) == CONNECTION_OK) return 1;
    char err[512];
    if (open_conn(pg, err, sizeof err) < 0) {
        wa_warn("postgres unavailable: %s", err);
        return 0;
    }
    wa_info("postgres reconnected");
    return 1;
}

int wa_pg_state_transient(const char *state)
{
    static const char *const exact[] = {
        "40001", /* serialization failure */
        "40P01", /* deadlock */
        "40003", /* statement completion unknown */
        "57014", /* statement timeout, or cancelled by an operator */
        "55P03", /* lock timeout (lock_not_available) */
        "55006", /* object in use */
        "25006", /* read-only transaction: a standby, or a primary just failed over */
        "58030", /* I/O error on the server */
    };
    static const char *const classes[] = {
        "08",  /* connection exceptions */
        "53",  /* insufficient resources: disk full, out of memory, too many connections */
        "57P", /* admin shutdown, crash shutdown, cannot connect now, database dropped */
    };
    if (!state) return 1; /* no answer from the server at all */
    for (size_t i = 0; i < sizeof exact / sizeof exact[0]; i++)
        if (strcmp(state, exact[i]) == 0) return 1;
    for (size_t i = 0; i < sizeof classes / sizeof classes[0]; i++)
        if (strncmp(state, classes[i], strlen(classes[i])) == 0) return 1;
    return 0;
}

static enum wa_result classify(struct wa_pg *pg, PGresult *r)
{
    if (PQstatus(pg->conn) != CONNECTION_OK) return WA_RETRY;
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    return wa_pg_state_transient(state) ? WA_RETRY : WA_FAIL;
}

/* A statement that did not succeed: its class in *res, the server's words in errbuf. */
static PGresult *failed(struct wa_pg *pg, PGresult *r, const char *name, enum wa_result *res,
                        char *errbuf, size_t errsz)
{
    *res = classify(pg, r);
    snprintf(errbuf, errsz, "%s: %s", name, PQerrorMessage(pg->conn));
    one_line(errbuf);
    PQclear(r);
    return NULL;
}

PGresult *wa_pg_exec(struct wa_pg *pg, const char *name, int nparams, const char *const *params,
                     enum wa_result *res, char *errbuf, size_t errsz)
{
    if (!wa_pg_ok(pg)) {
        *res = WA_RETRY;
        snprintf(errbuf, errsz, "postgres unavailable");
        return NULL;
    }
    PGresult *r = PQexecPrepared(pg->conn, name, nparams, params, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(r);
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
        *res = WA_OK;
        return r;
    }
    return failed(pg, r, name, res, errbuf, errsz);
}

PGresult *wa_pg_exec_within(struct wa_pg *pg, const char *name, int nparams,
                            const char *const *params, int timeout_ms, enum wa_result *res,
                            char *errbuf, size_t errsz)
{
    if (!wa_pg_ok(pg)) {
        *res = WA_RETRY;
        snprintf(errbuf, errsz, "postgres unavailable");
        return NULL;
    }
    int64_t deadline = wa_now_ms() + timeout_ms;
    PGresult *last = NULL;
    int sent = PQsendQueryPrepared(pg->conn, name, nparams, params, NULL, NULL, 0);
    while (sent) {
        if (!PQisBusy(pg->conn)) {
            PGresult *r = PQgetResult(pg->conn);
            if (!r) break; /* the last result was the statement's */
            PQclear(last);
            last = r;
            continue;
        }
        int64_t left = deadline - wa_now_ms();
        struct pollfd pfd = {.fd = PQsocket(pg->conn), .events = POLLIN};
        int n = left > 0 ? poll(&pfd, 1, (int)left) : 0;
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            /* No answer in time: the connection's state is unknown, so it goes. */
            PQclear(last);
            PQfinish(pg->conn);
            pg->conn = NULL;
            *res = WA_RETRY;
            snprintf(errbuf, errsz, "%s: no answer from postgres within %d ms", name, timeout_ms);
            return NULL;
        }
        if (!PQconsumeInput(pg->conn)) break;
    }
    if (last &&
        (PQresultStatus(last) == PGRES_COMMAND_OK || PQresultStatus(last) == PGRES_TUPLES_OK)) {
        *res = WA_OK;
        return last;
    }
    return failed(pg, last, name, res, errbuf, errsz);
}

enum wa_result wa_pg_run(struct wa_pg *pg, const char *sql, char *errbuf, size_t errsz)
{
    if (!wa_pg_ok(pg)) {
        snprintf(errbuf, errsz, "postgres unavailable");
        return WA_RETRY;
    }
    PGresult *r = PQexec(pg->conn, sql);
    enum wa_result res = WA_OK;
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        res = classify(pg, r);
        snprintf(errbuf, errsz, "%s: %s", sql, PQerrorMessage(pg->conn));
    }
    PQclear(r);
    return res;
}

enum wa_result wa_pg_begin(struct wa_pg *pg, char *errbuf, size_t errsz)
{
    return wa_pg_run(pg, "BEGIN", errbuf, errsz);
}

enum wa_result wa_pg_commit(struct wa_pg *pg, char *errbuf, size_t errsz)
{
    return wa_pg_run(pg, "COMMIT", errbuf, errsz);
}

void wa_pg_rollback(struct wa_pg *pg)
{
    if (pg->conn && PQstatus(pg->conn) == CONNECTION_OK) PQclear(PQexec(pg->conn, "ROLLBACK"));
}

static int send_plain(PGconn *c, const char *sql)
{
    return PQsendQueryParams(c, sql, 0, NULL, NULL, NULL, NULL, 0);
}

/* Reads one query's results: its PGresult, then the NULL that ends it. */
static PGresult *next_result(PGconn *c)
{
    PGresult *r = PQgetResult(c);
    if (r) {
        PGresult *end;
        while ((end = PQgetResult(c)) != NULL)
            PQclear(end);
    }
    return r;
}

enum wa_result wa_pg_pipeline_tx(struct wa_pg *pg, struct wa_pg_call *calls, size_t n, char *errbuf,
                                 size_t errsz)
{
    for (size_t i = 0; i < n; i++) {
        calls[i].result = NULL;
        calls[i].res = WA_OK;
    }
    if (!wa_pg_ok(pg)) {
        snprintf(errbuf, errsz, "postgres unavailable");
        return WA_RETRY;
    }
    PGconn *c = pg->conn;
    if (!PQenterPipelineMode(c)) {
        snprintf(errbuf, errsz, "pipeline mode: %s", PQerrorMessage(c));
        return WA_RETRY;
    }
    int sent = send_plain(c, "BEGIN");
    for (size_t i = 0; i < n && sent; i++)
        sent =
            PQsendQueryPrepared(c, calls[i].stmt, calls[i].nparams, calls[i].params, NULL, NULL, 0);
    sent = sent && send_plain(c, "COMMIT") && PQpipelineSync(c);

    enum wa_result tx = sent ? WA_OK : WA_RETRY;
    if (!sent) snprintf(errbuf, errsz, "pipeline send: %s", PQerrorMessage(c));
    /* Results come back in order: BEGIN, each call, COMMIT, then the sync. */
    for (size_t k = 0; sent && k < n + 2; k++) {
        PGresult *r = next_result(c);
        ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
        int ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
        if (!ok && st != PGRES_PIPELINE_ABORTED && tx == WA_OK) {
            tx = classify(pg, r);
            snprintf(errbuf, errsz, "%s: %s",
                     k == 0       ? "BEGIN"
                     : k == n + 1 ? "COMMIT"
                                  : calls[k - 1].stmt,
                     r ? PQresultErrorMessage(r) : PQerrorMessage(c));
            if (k >= 1 && k <= n) calls[k - 1].res = tx;
        }
        if (ok && k >= 1 && k <= n) {
            calls[k - 1].result = r;
            r = NULL;
        }
        PQclear(r);
        if (!r && PQstatus(c) != CONNECTION_OK) {
            tx = WA_RETRY;
            break;
        }
    }
    if (sent && PQstatus(c) == CONNECTION_OK) {
        /* Drain up to the sync point, whatever happened before it. */
        PGresult *r;
        while ((r = PQgetResult(c)) != NULL) {
            ExecStatusType st = PQresultStatus(r);
            PQclear(r);
            if (st == PGRES_PIPELINE_SYNC) break;
        }
    }
    PQexitPipelineMode(c);
    if (tx != WA_OK) {
        for (size_t i = 0; i < n; i++) {
            PQclear(calls[i].result);
            calls[i].result = NULL;
        }
        /* An error inside BEGIN leaves the transaction aborted until ROLLBACK. */
        if (PQstatus(c) == CONNECTION_OK && PQtransactionStatus(c) != PQTRANS_IDLE)
            PQclear(PQexec(c, "ROLLBACK"));
        one_line(errbuf);
    }
    return tx;
}

/* At most this many statements in one group transaction. */
#define GROUP_MAX 64

struct wa_pg_group_req {
    const char *name;
    int nparams;
    const char *const *params;
    PGresult *result;
    enum wa_result res;
    char err[256];
    int done;
    struct wa_pg_group_req *next;
};

/* Runs reqs[0..n) in one transaction, again without any statement that fails for good, until
 * the rest commits or the connection fails. reqs stays as it is: the caller marks each done. */
static void group_run(struct wa_pg *pg, struct wa_pg_group_req *const *reqs, size_t n)
{
    struct wa_pg_call calls[GROUP_MAX];
    struct wa_pg_group_req *rs[GROUP_MAX], *left[GROUP_MAX];
    char err[512];
    memcpy(rs, reqs, n * sizeof *rs);
    while (n > 0) {
        for (size_t i = 0; i < n; i++)
            calls[i] = (struct wa_pg_call){
                .stmt = rs[i]->name, .nparams = rs[i]->nparams, .params = rs[i]->params};
        enum wa_result tx = wa_pg_pipeline_tx(pg, calls, n, err, sizeof err);
        int blamed = 0;
        for (size_t i = 0; i < n; i++)
            blamed |= calls[i].res == WA_FAIL;
        size_t k = 0;
        for (size_t i = 0; i < n; i++) {
            struct wa_pg_group_req *r = rs[i];
            if (tx == WA_OK) {
                r->res = WA_OK;
                r->result = calls[i].result;
            } else if (tx == WA_RETRY || !blamed || calls[i].res == WA_FAIL) {
                r->res = tx;
                snprintf(r->err, sizeof r->err, "%.255s", err);
            } else {
                left[k++] = r; /* rolled back with the one that failed: again */
            }
        }
        memcpy(rs, left, k * sizeof *left);
        n = k;
    }
}

PGresult *wa_pg_group_exec(struct wa_pg_group *g, struct wa_pg_pool *pool, const char *name,
                           int nparams, const char *const *params, enum wa_result *res,
                           char *errbuf, size_t errsz)
{
    struct wa_pg_group_req me = {.name = name, .nparams = nparams, .params = params};
    pthread_mutex_lock(&g->mu);
    if (g->tail)
        g->tail->next = &me;
    else
        g->head = &me;
    g->tail = &me;
    while (!me.done) {
        if (g->busy) {
            pthread_cond_wait(&g->cv, &g->mu);
            continue;
        }
        /* No transaction running: this caller runs the next one, for whoever waits. */
        struct wa_pg_group_req *rs[GROUP_MAX];
        size_t n = 0;
        while (g->head && n < GROUP_MAX) {
            rs[n++] = g->head;
            g->head = g->head->next;
        }
        if (!g->head) g->tail = NULL;
        g->busy = 1;
        pthread_mutex_unlock(&g->mu);
        struct wa_pg *pg = wa_pg_pool_take(pool);
        group_run(pg, rs, n);
        wa_pg_pool_give(pool, pg);
        pthread_mutex_lock(&g->mu);
        for (size_t i = 0; i < n; i++)
            rs[i]->done = 1;
        g->busy = 0;
        pthread_cond_broadcast(&g->cv);
    }
    pthread_mutex_unlock(&g->mu);
    *res = me.res;
    if (me.res != WA_OK) snprintf(errbuf, errsz, "%s", me.err);
    return me.result;
}

int wa_pg_pool_open(struct wa_pg_pool *p, int n, const char *url, const struct wa_pg_stmt *stmts,
                    size_t nstmts, char *errbuf, size_t errsz)
{
    if (!p->conns) {
        pthread_mutex_init(&p->mu, NULL);
        pthread_cond_init(&p->cv, NULL);
        p->conns = wa_xcalloc((size_t)n, sizeof *p->conns);
        p->idle = wa_xcalloc((size_t)n, sizeof *p->idle);
        p->n = n;
    }
    for (int i = 0; i < p->n; i++) {
        if (p->conns[i].conn) continue;
        if (wa_pg_connect(&p->conns[i], url, stmts, nstmts, errbuf, errsz) < 0) return -1;
    }
    p->nidle = 0;
    for (int i = 0; i < p->n; i++)
        p->idle[p->nidle++] = &p->conns[i];
    return 0;
}

struct wa_pg *wa_pg_pool_take(struct wa_pg_pool *p)
{
    pthread_mutex_lock(&p->mu);
    while (p->nidle == 0)
        pthread_cond_wait(&p->cv, &p->mu);
    struct wa_pg *pg = p->idle[--p->nidle];
    pthread_mutex_unlock(&p->mu);
    return pg;
}

void wa_pg_pool_give(struct wa_pg_pool *p, struct wa_pg *pg)
{
    pthread_mutex_lock(&p->mu);
    p->idle[p->nidle++] = pg;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

PGresult *wa_pg_pool_exec(struct wa_pg_pool *p, const char *name, int nparams,
                          const char *const *params, enum wa_result *res, char *errbuf,
                          size_t errsz)
{
    struct wa_pg *pg = wa_pg_pool_take(p);
    PGresult *q = wa_pg_exec(pg, name, nparams, params, res, errbuf, errsz);
    wa_pg_pool_give(p, pg);
    return q;
}

int wa_pg_pool_ok(struct wa_pg_pool *p)
{
    struct wa_pg *pg = wa_pg_pool_take(p);
    int ok = wa_pg_ok(pg);
    wa_pg_pool_give(p, pg);
    return ok;
}

void wa_pg_pool_close(struct wa_pg_pool *p)
{
    for (int i = 0; i < p->n; i++)
        wa_pg_close(&p->conns[i]);
    free(p->conns);
    free(p->idle);
    p->conns = NULL;
    p->idle = NULL;
    p->n = p->nidle = 0;
}

void wa_pg_close(struct wa_pg *pg)
{
    if (pg->conn) PQfinish(pg->conn);
    pg->conn = NULL;
}
