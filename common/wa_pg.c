/* wa_pg.c - libpq connection, statement preparation and error classes. */
#include "wa_pg.h"
#include "wa_log.h"

#include <stdio.h>
#include <string.h>

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
        /* libpq messages end in a newline; one log line per event. */
        size_t l = strlen(errbuf);
        while (l && (errbuf[l - 1] == '\n' || errbuf[l - 1] == ' '))
            errbuf[--l] = '\0';
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

int wa_pg_ok(struct wa_pg *pg)
{
    if (pg->conn && PQstatus(pg->conn) == CONNECTION_OK) return 1;
    char err[512];
    if (open_conn(pg, err, sizeof err) < 0) {
        wa_warn("postgres unavailable: %s", err);
        return 0;
    }
    wa_info("postgres reconnected");
    return 1;
}

static enum wa_result classify(struct wa_pg *pg, PGresult *r)
{
    if (PQstatus(pg->conn) != CONNECTION_OK) return WA_RETRY;
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    if (!state) return WA_RETRY; /* no answer from the server at all */
    /* 40001 serialization, 40P01 deadlock, 08xxx connection, 57P0x shutdown, 53xxx resources */
    if (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0 ||
        strncmp(state, "08", 2) == 0 || strncmp(state, "57P", 3) == 0 ||
        strncmp(state, "53", 2) == 0)
        return WA_RETRY;
    return WA_FAIL;
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
    *res = classify(pg, r);
    snprintf(errbuf, errsz, "%s: %s", name, PQerrorMessage(pg->conn));
    size_t l = strlen(errbuf);
    while (l && errbuf[l - 1] == '\n')
        errbuf[--l] = '\0';
    PQclear(r);
    return NULL;
}

static enum wa_result simple(struct wa_pg *pg, const char *sql, char *errbuf, size_t errsz)
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
    return simple(pg, "BEGIN", errbuf, errsz);
}

enum wa_result wa_pg_commit(struct wa_pg *pg, char *errbuf, size_t errsz)
{
    return simple(pg, "COMMIT", errbuf, errsz);
}

void wa_pg_rollback(struct wa_pg *pg)
{
    if (pg->conn && PQstatus(pg->conn) == CONNECTION_OK) PQclear(PQexec(pg->conn, "ROLLBACK"));
}

void wa_pg_close(struct wa_pg *pg)
{
    if (pg->conn) PQfinish(pg->conn);
    pg->conn = NULL;
}
