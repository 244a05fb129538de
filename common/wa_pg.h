/* wa_pg.h - Postgres with named prepared statements that survive a reconnect. */
#ifndef WA_PG_H
#define WA_PG_H

#include <libpq-fe.h>
#include <pthread.h>
#include <stddef.h>

#include "wa_util.h"

struct wa_pg_stmt {
    const char *name;
    const char *sql;
    int nparams;
};

struct wa_pg {
    PGconn *conn;
    const char *url;
    const struct wa_pg_stmt *stmts;
    size_t nstmts;
};

/* Connects and prepares every statement. Returns 0, or -1 with errbuf filled
 * (the server may be down; callers retry). */
int wa_pg_connect(struct wa_pg *pg, const char *url, const struct wa_pg_stmt *stmts, size_t n,
                  char *errbuf, size_t errsz);

/* 1 when an error with this SQLSTATE (NULL: no answer at all) may pass if the same work is
 * tried again: lost connections, serialization failures and deadlocks, timeouts and lock
 * timeouts, a read-only server after a failover, shutdowns, exhausted resources. 0 when the same
 * input would fail again (a constraint, a type, a syntax error). */
int wa_pg_state_transient(const char *state);

/* Runs a prepared statement. Returns the result on success (caller PQclear()s),
 * or NULL with *res set: WA_RETRY when wa_pg_state_transient() says so (a lost
 * connection is reset on the next call), WA_FAIL for anything the same input would hit
 * again. errbuf gets the reason. */
PGresult *wa_pg_exec(struct wa_pg *pg, const char *name, int nparams, const char *const *params,
                     enum wa_result *res, char *errbuf, size_t errsz);

/* wa_pg_exec with a deadline: a server that does not answer within timeout_ms (stalled, or
 * a network that drops packets) costs the connection, which is closed, and *res is WA_RETRY.
 * For callers that must not wait for the database longer than their own client would. */
PGresult *wa_pg_exec_within(struct wa_pg *pg, const char *name, int nparams,
                            const char *const *params, int timeout_ms, enum wa_result *res,
                            char *errbuf, size_t errsz);

/* Runs a statement without parameters or rows (SAVEPOINT, SET ...). */
enum wa_result wa_pg_run(struct wa_pg *pg, const char *sql, char *errbuf, size_t errsz);

/* BEGIN / COMMIT / ROLLBACK with the same result classes. */
enum wa_result wa_pg_begin(struct wa_pg *pg, char *errbuf, size_t errsz);
enum wa_result wa_pg_commit(struct wa_pg *pg, char *errbuf, size_t errsz);
void wa_pg_rollback(struct wa_pg *pg);

/* One prepared statement of a pipelined transaction. */
struct wa_pg_call {
    const char *stmt;
    int nparams;
    const char *const *params;
    PGresult *result;   /* filled on success; the caller PQclear()s it */
    enum wa_result res; /* WA_OK, or what went wrong with this call */
};

/* Sends BEGIN, every call, and COMMIT in one round trip (libpq pipeline
 * mode). Returns WA_OK when all committed; WA_FAIL when a call failed for good
 * (calls[i].res says which; everything is rolled back); WA_RETRY when the
 * connection or the server failed (rolled back too). */
enum wa_result wa_pg_pipeline_tx(struct wa_pg *pg, struct wa_pg_call *calls, size_t n, char *errbuf,
                                 size_t errsz);

/* A few connections that many threads share: a statement (or a group's transaction) takes one
 * and gives it back. Threads that mostly wait on something else (a provider's answer) then do
 * not each hold a server process: Postgres allows 100 connections by default. */
struct wa_pg_pool {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct wa_pg *conns;
    struct wa_pg **idle; /* the connections no one holds */
    int n, nidle;
};

/* Opens n connections, each preparing stmts. Returns 0, or -1 with errbuf filled (the server
 * may be down; callers retry: the connections already open are kept). */
int wa_pg_pool_open(struct wa_pg_pool *p, int n, const char *url, const struct wa_pg_stmt *stmts,
                    size_t nstmts, char *errbuf, size_t errsz);

/* An idle connection, waiting for one; wa_pg_pool_give hands it back. */
struct wa_pg *wa_pg_pool_take(struct wa_pg_pool *p);
void wa_pg_pool_give(struct wa_pg_pool *p, struct wa_pg *pg);

/* wa_pg_exec on one of the pool's connections. */
PGresult *wa_pg_pool_exec(struct wa_pg_pool *p, const char *name, int nparams,
                          const char *const *params, enum wa_result *res, char *errbuf,
                          size_t errsz);

/* wa_pg_ok on one of the pool's connections: 1 when the server answers. */
int wa_pg_pool_ok(struct wa_pg_pool *p);

/* Closes every connection (none may be held). */
void wa_pg_pool_close(struct wa_pg_pool *p);

/* Group commit for threads that share a pool: statements handed in at about the same time run
 * in one pipelined transaction (wa_pg_pipeline_tx) on one of the pool's connections, run by one
 * of the callers, the others waiting. Each caller still returns only once its own statement has
 * committed, with its own result. One group runs one transaction at a time. */
struct wa_pg_group {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct wa_pg_group_req *head, *tail; /* waiting to run */
    int busy;                            /* a transaction is running */
};
#define WA_PG_GROUP_INIT                                                                           \
    {                                                                                              \
        PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, NULL, NULL, 0                         \
    }

/* wa_pg_exec through g, on a connection of pool. A statement that fails for good fails alone
 * (the others run again without it); a lost connection or server fails the whole group with
 * WA_RETRY. */
PGresult *wa_pg_group_exec(struct wa_pg_group *g, struct wa_pg_pool *pool, const char *name,
                           int nparams, const char *const *params, enum wa_result *res,
                           char *errbuf, size_t errsz);

/* 1 when the connection is open (reconnecting once if it was lost). */
int wa_pg_ok(struct wa_pg *pg);

void wa_pg_close(struct wa_pg *pg);

#endif
