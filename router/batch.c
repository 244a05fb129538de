/* batch.c - records of one kind stored in one pipelined transaction: the scaffolding inbound.c
 * and status.c share. A record takes a statement of its own, or joins a set that one statement
 * stores (the kind's set_stmt): Postgres then starts the statement once for many records. */
#include "router.h"
#include "wa_log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One statement of the pipeline and the records it stores: members[at .. at + len), whose
 * results are its rows in that order. */
struct span {
    size_t at, len;
};

/* The set being gathered: its records' JSON array, their keys, and where its members start. */
struct set {
    struct wa_buf json;
    const char **keys;
    size_t at, len;
};

/* Whether key is already in the set: its record must wait for the next one. */
static int set_has(const struct set *s, const char *key)
{
    for (size_t i = 0; i < s->len; i++)
        if (strcmp(s->keys[i], key) == 0) return 1;
    return 0;
}

/* A batch on its way into the pipeline. */
struct batch {
    const struct rtr_batch_ops *ops;
    char *p; /* the kind's prepared records */
    struct wa_pg_call *calls;
    struct span *spans;
    size_t *members;      /* record indexes, in the calls' order */
    struct wa_buf *jsons; /* each set's JSON text, kept until the pipeline has run */
    const char **set_params;
    struct set set;
    size_t ncalls, nmembers, nsets;
};

/* The gathered set becomes one call (a set of one too: one form for these records). */
static void flush(struct batch *b)
{
    struct set *s = &b->set;
    if (!s->len) return;
    wa_buf_append(&s->json, "]", 1);
    const char **sp = b->set_params + b->nsets * b->ops->set_nparams;
    sp[0] = s->json.data;
    b->ops->set_params(b->p + b->members[s->at] * b->ops->size, sp + 1);
    b->jsons[b->nsets++] = s->json;
    b->calls[b->ncalls] =
        (struct wa_pg_call){b->ops->set_stmt, b->ops->set_nparams, sp, NULL, WA_OK};
    b->spans[b->ncalls++] = (struct span){s->at, s->len};
    *s = (struct set){.keys = s->keys};
}

char *rtr_set_object(json_t *o, const char *const raw[][2], size_t nraw)
{
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (!s) return NULL;
    struct wa_buf b = {0};
    wa_buf_append(&b, s, strlen(s) - 1); /* without its closing brace */
    free(s);
    for (size_t i = 0; i < nraw; i++) {
        wa_buf_appendf(&b, ",\"%s\":", raw[i][0]);
        wa_buf_append(&b, raw[i][1], strlen(raw[i][1]));
    }
    return b.data;
}

enum wa_result rtr_pipelined_batch(struct rtr *r, rd_kafka_message_t **ms, size_t n,
                                   struct rtr_outcome *out, enum wa_result *res,
                                   const struct rtr_batch_ops *ops)
{
    struct batch b = {
        .ops = ops,
        .p = wa_xcalloc(n, ops->size),
        .calls = wa_xcalloc(n, sizeof *b.calls),
        .spans = wa_xcalloc(n, sizeof *b.spans),
        .members = wa_xcalloc(n, sizeof *b.members),
        .jsons = wa_xcalloc(n, sizeof *b.jsons),
        .set_params =
            ops->set_stmt ? wa_xcalloc(n * (size_t)ops->set_nparams, sizeof(char *)) : NULL,
        .set = {.keys = wa_xcalloc(n, sizeof(char *))},
    };
    int64_t now = wa_wall_ms();
    for (size_t i = 0; i < n; i++) {
        void *rec = b.p + i * ops->size;
        memset(&out[i], 0, sizeof out[i]);
        struct wa_pg_call call = {ops->stmt, ops->nparams, NULL, NULL, WA_OK};
        struct rtr_set_entry entry = {NULL, NULL};
        res[i] = ops->prepare(ms[i], now, rec, &out[i], &call, &entry);
        if (res[i] != WA_OK) continue; /* parked by the caller; no database work */
        /* A record of a set's contact waits for the next set, and one that cannot join a set
         * ends the set before it: each contact's records are stored in their order. */
        const char *key = ops->set_stmt && entry.json ? entry.key : NULL;
        if (!key || set_has(&b.set, key)) flush(&b);
        if (key) {
            if (!b.set.len) b.set.at = b.nmembers;
            wa_buf_append(&b.set.json, b.set.len ? "," : "[", 1);
            wa_buf_append(&b.set.json, entry.json, strlen(entry.json));
            wa_buf_appendf(&b.set.json, ",\"i\":%zu}", b.set.len);
            b.set.keys[b.set.len++] = key;
        } else {
            b.calls[b.ncalls] = call;
            b.spans[b.ncalls++] = (struct span){b.nmembers, 1};
        }
        b.members[b.nmembers++] = i;
    }
    flush(&b);

    enum wa_result tx = WA_OK;
    if (b.ncalls) {
        char err[512];
        tx = wa_pg_pipeline_tx(&r->pg, b.calls, b.ncalls, err, sizeof err);
        if (tx != WA_OK) wa_warn("postgres %s", err);
        for (size_t k = 0; k < b.ncalls; k++) {
            PGresult *q = b.calls[k].result;
            if (tx == WA_OK && (size_t)PQntuples(q) != b.spans[k].len)
                wa_warn("%s gave %d rows for %zu records", b.calls[k].stmt, PQntuples(q),
                        b.spans[k].len);
            for (size_t j = 0; j < b.spans[k].len; j++) {
                size_t i = b.members[b.spans[k].at + j];
                if (tx == WA_OK) {
                    /* A statement's rows are its records, in their order. */
                    if ((int)j < PQntuples(q)) ops->result(b.p + i * ops->size, q, (int)j, &out[i]);
                } else if (b.calls[k].res == WA_FAIL) {
                    /* The database refuses this input for good (a constraint); in a set, one
                     * of its records: the caller then stores them one by one to find which. */
                    res[i] = WA_FAIL;
                    out[i].code = "rejected_by_crm";
                    snprintf(out[i].reason, sizeof out[i].reason, "the CRM refused the %s: %s",
                             ops->what, err);
                }
            }
            PQclear(q);
        }
    }
    for (size_t i = 0; i < n; i++)
        ops->release(b.p + i * ops->size);
    for (size_t k = 0; k < b.nsets; k++)
        wa_buf_free(&b.jsons[k]);
    free(b.set.keys);
    free(b.set_params);
    free(b.jsons);
    free(b.members);
    free(b.spans);
    free(b.calls);
    free(b.p);
    return tx;
}
