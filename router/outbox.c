/* outbox.c - publishes committed CRM events to wa.events, and parks bad records on wa.error. */
#include "router.h"
#include "wa_kafka.h"
#include "wa_log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One page of the outbox: returns how many rows were published, or -1. */
static int publish_page(struct rtr *r)
{
    char err[512];
    enum wa_result res;
    if (wa_pg_begin(&r->pg, err, sizeof err) != WA_OK) return -1;
    PGresult *lock = wa_pg_exec(&r->pg, "outbox_lock", 0, NULL, &res, err, sizeof err);
    int mine = lock && PQgetvalue(lock, 0, 0)[0] == 't';
    PQclear(lock);
    if (!mine) {
        /* Another router is publishing, in order, and takes these rows too. */
        if (!lock) wa_warn("postgres %s", err);
        wa_pg_rollback(&r->pg);
        return lock ? 0 : -1;
    }
    /* Rows stay locked until they are marked published; a crash before the mark publishes them
     * again (subscribers dedupe on the event id). */
    PGresult *q = wa_pg_exec(&r->pg, "outbox_claim", 0, NULL, &res, err, sizeof err);
    if (!q) {
        wa_warn("postgres %s", err);
        wa_pg_rollback(&r->pg);
        return -1;
    }
    int n = PQntuples(q);
    if (n == 0) {
        PQclear(q);
        wa_pg_rollback(&r->pg);
        return 0;
    }
    struct wa_delivery *ds = wa_xcalloc((size_t)n, sizeof *ds);
    struct wa_buf ids = {0};
    wa_buf_append(&ids, "{", 1);
    int produced = 0;
    for (int i = 0; i < n; i++) {
        json_t *ev = json_loads(PQgetvalue(q, i, 3), 0, NULL);
        if (!ev) {
            ds[i].done = 1; /* jsonb always parses; if it ever does not, it must not block */
            continue;
        }
        /* The outbox id is an event's id: stable across republishing. (Send
         * commands and wa.error records carry their own identities.) */
        if (strcmp(PQgetvalue(q, i, 1), rtr_cfg.topic_events) == 0)
            json_object_set_new(ev, "id", json_integer(strtoll(PQgetvalue(q, i, 0), NULL, 10)));
        char *s = json_dumps(ev, JSON_COMPACT);
        json_decref(ev);
        rd_kafka_resp_err_t e = wa_kafka_produce(r->producer, PQgetvalue(q, i, 1),
                                                 PQgetvalue(q, i, 2), s, strlen(s), &ds[i]);
        free(s);
        if (e) {
            ds[i].done = 1;
            ds[i].err = e;
        }
        produced++;
    }
    wa_kafka_wait(r->producer, ds, (size_t)n);
    /* Only the rows before the first that Kafka refused count as published: the rest go again
     * after it, in order (what was already delivered is delivered twice, never out of order). */
    int ok = 0;
    for (int i = 0; i < n && !ds[i].err; i++) {
        wa_buf_appendf(&ids, "%s%s", ok ? "," : "", PQgetvalue(q, i, 0));
        ok++;
    }
    wa_buf_append(&ids, "}", 1);
    PQclear(q);
    free(ds);
    int result = ok;
    if (ok) {
        const char *p[] = {ids.data};
        PGresult *u = wa_pg_exec(&r->pg, "outbox_done", 1, p, &res, err, sizeof err);
        if (!u) {
            wa_warn("postgres %s", err);
            result = -1;
        }
        PQclear(u);
    }
    wa_buf_free(&ids);
    if (result >= 0 && wa_pg_commit(&r->pg, err, sizeof err) != WA_OK) {
        wa_warn("postgres %s", err);
        result = -1;
    } else if (result < 0) {
        wa_pg_rollback(&r->pg);
    }
    if (result > 0) wa_metric_add(rtr_m.published, result);
    if (ok < produced) {
        wa_metric_add(rtr_m.publish_failed, produced - ok);
        wa_warn("outbox: %d of %d events not acknowledged by kafka; will retry", produced - ok,
                produced);
    }
    return result;
}

int rtr_outbox_publish(struct rtr *r)
{
    int total = 0;
    for (;;) {
        int n = publish_page(r);
        if (n < 0) return -1;
        total += n;
        /* A page that is not full was all there was. (Rows another router commits meanwhile
         * are published by its own call after its commit, or by the drain each second.) */
        if (n < RTR_OUTBOX_PAGE) return total;
    }
}

enum wa_result rtr_park(struct rtr *r, const rd_kafka_message_t *m, const char *stage,
                        const char *code, const char *text)
{
    char *ev = wa_error_encode(stage, code, text, 0, NULL, rd_kafka_topic_name(m->rkt),
                               m->partition, m->offset, m->payload, m->len);
    char key[64] = "";
    if (m->key && m->key_len < sizeof key) memcpy(key, m->key, m->key_len);
    rd_kafka_resp_err_t e = wa_kafka_produce_sync(r->producer, rtr_cfg.topic_error,
                                                  key[0] ? key : NULL, ev, strlen(ev));
    free(ev);
    if (e) {
        wa_warn("cannot park record on %s: %s", rtr_cfg.topic_error, rd_kafka_err2name(e));
        return WA_RETRY;
    }
    wa_metric_add(rtr_m.parked, 1);
    return WA_FAIL;
}
