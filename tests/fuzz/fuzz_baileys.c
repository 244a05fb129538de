/* fuzz_baileys.c - libFuzzer harness: any bytes as a bridge webhook body through the normalizer. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ingress.h"
#include "wa_outbound.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *ev = NULL, key[17], err[256];
    enum ing_baileys_kind kind;
    if (ing_baileys_normalize((const char *)data, size, 1, &ev, &kind, key, err, sizeof err) != 0)
        return 0;
    /* An accepted message must be readable by the router. */
    if (kind == ING_BAILEYS_MESSAGE) {
        struct wa_inbound in;
        json_t *root = wa_inbound_decode(ev, strlen(ev), &in, err, sizeof err);
        if (!root) abort();
        if (strcmp(in.phone + 1, key) != 0) abort();
        /* Our number (the bridge's "self"), when given, is normalized E.164 like the contact's. */
        if (in.to && (in.to[0] != '+' || strlen(in.to) < 9 || strlen(in.to) > 16)) abort();
        json_decref(root);
    } else {
        /* An accepted receipt too, and an id of ours in it is a well-formed UUID. */
        struct wa_status st;
        json_t *root = wa_status_decode(ev, strlen(ev), &st, err, sizeof err);
        if (!root) abort();
        if (st.message_id && !wa_uuid_valid(st.message_id)) abort();
        json_decref(root);
    }
    free(ev);
    return 0;
}
