/* fuzz_reply.c - libFuzzer harness: any bytes as the operator's reply (the body of POST
 * /api/leads/{id}/reply). What passes must be a request the send API takes as it is: the same
 * validator as ingress's (common/wa_outbound.c) accepts it. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dash.h"
#include "wa_outbound.h"

struct dash_config dash_cfg;
struct wa_media_store dash_store;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[256];
    json_t *req = dash_reply_request((const char *)data, size, "+972501234567", err, sizeof err);
    if (!req) {
        if (!err[0]) abort(); /* a refusal always says why */
        return 0;
    }
    char *s = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    if (!s) abort();
    struct wa_outbound o;
    json_t *root = wa_outbound_decode(s, strlen(s), WA_OUT_API, &o, err, sizeof err);
    if (!root) abort();
    if (strncmp(o.idempotency_key, "dashboard:", 10) != 0) abort();
    json_decref(root);
    free(s);
    return 0;
}
