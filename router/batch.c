/* batch.c - records of one kind stored in one pipelined transaction, one statement each: the
 * scaffolding inbound.c and status.c share. */
#include "router.h"
#include "wa_log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum wa_result rtr_pipelined_batch(struct rtr *r, rd_kafka_message_t **ms, size_t n,
                                   struct rtr_outcome *out, enum wa_result *res,
                                   const struct rtr_batch_ops *ops)
{
    char *p = wa_xcalloc(n, ops->size); /* the kind's prepared records */
    struct wa_pg_call *calls = wa_xcalloc(n, sizeof *calls);
    size_t *which = wa_xcalloc(n, sizeof *which); /* call index -> record index */
    size_t ncalls = 0;
    int64_t now = wa_wall_ms();
    for (size_t i = 0; i < n; i++) {
        memset(&out[i], 0, sizeof out[i]);
        calls[ncalls] = (struct wa_pg_call){ops->stmt, ops->nparams, NULL, NULL, WA_OK};
        res[i] = ops->prepare(ms[i], now, p + i * ops->size, &out[i], &calls[ncalls]);
        if (res[i] != WA_OK) continue; /* parked by the caller; no database work */
        which[ncalls++] = i;
    }
    enum wa_result tx = WA_OK;
    if (ncalls) {
        char err[512];
        tx = wa_pg_pipeline_tx(&r->pg, calls, ncalls, err, sizeof err);
        if (tx != WA_OK) wa_warn("postgres %s", err);
        for (size_t k = 0; k < ncalls; k++) {
            size_t i = which[k];
            if (tx == WA_OK) {
                ops->result(p + i * ops->size, calls[k].result, &out[i]);
            } else if (calls[k].res == WA_FAIL) {
                /* The database refuses this input for good (a constraint). */
                res[i] = WA_FAIL;
                out[i].code = "rejected_by_crm";
                snprintf(out[i].reason, sizeof out[i].reason, "the CRM refused the %s: %s",
                         ops->what, err);
            }
            PQclear(calls[k].result);
        }
    }
    for (size_t i = 0; i < n; i++)
        ops->release(p + i * ops->size);
    free(p);
    free(calls);
    free(which);
    return tx;
}
