/* fuzz_event.c - libFuzzer harness: any bytes as a wa.inbound record through the router's decoder.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wa_event.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct wa_inbound in;
    char err[256];
    json_t *root = wa_inbound_decode((const char *)data, size, &in, err, sizeof err);
    if (!root) return 0;
    /* A decoded event re-encodes, and decodes again to the same identity. */
    size_t len;
    char *json = wa_inbound_encode(&in, &len);
    if (json) {
        struct wa_inbound again;
        json_t *r2 = wa_inbound_decode(json, len, &again, err, sizeof err);
        if (!r2) abort();
        if (strcmp(again.provider_message_id, in.provider_message_id) != 0) abort();
        json_decref(r2);
        free(json);
    }
    json_decref(root);
    return 0;
}
