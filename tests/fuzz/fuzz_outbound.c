/* fuzz_outbound.c - libFuzzer harness: any bytes as a send request (the API body, a wa.outbound
 * record, a routed command), and a valid one must survive encoding unchanged. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wa_outbound.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const enum wa_outbound_form forms[] = {WA_OUT_API, WA_OUT_RECORD, WA_OUT_COMMAND};
    for (size_t f = 0; f < 3; f++) {
        struct wa_outbound o;
        char err[256];
        json_t *root = wa_outbound_decode((const char *)data, size, forms[f], &o, err, sizeof err);
        if (!root) continue;
        if (!o.route) o.route = "twilio";
        char *enc = wa_outbound_encode(&o, WA_OUT_COMMAND);
        struct wa_outbound again;
        json_t *r2 = wa_outbound_decode(enc, strlen(enc), WA_OUT_COMMAND, &again, err, sizeof err);
        if (!r2) abort();
        if (strcmp(again.id, o.id) != 0 || strcmp(again.to, o.to) != 0 ||
            strcmp(again.type, o.type) != 0)
            abort();
        json_decref(r2);
        free(enc);
        json_decref(root);
    }
    return 0;
}
