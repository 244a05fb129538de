/* fuzz_status.c - libFuzzer harness: any bytes as a Twilio status callback form, and as a
 * wa.status record through the router's decoder. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ingress.h"
#include "wa_event.h"
#include "wa_form.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[256], phone[17], id[37];
    struct wa_form form;
    if (wa_form_parse((const char *)data, size, &form, err, sizeof err) == 0) {
        struct wa_status st;
        json_t *raw = NULL;
        if (ing_twilio_status_normalize(&form, "/api/whatsapp/twilio/status?id=x", 1, &st, phone,
                                        id, &raw, err, sizeof err) == 0) {
            /* What ingress produces, the router must read. */
            char *enc = wa_status_encode(&st);
            if (!enc) abort();
            struct wa_status back;
            json_t *r = wa_status_decode(enc, strlen(enc), &back, err, sizeof err);
            if (!r || strcmp(back.status, st.status) != 0) abort();
            json_decref(r);
            free(enc);
            json_decref(raw);
        }
        wa_form_free(&form);
    }
    struct wa_status st;
    json_t *root = wa_status_decode((const char *)data, size, &st, err, sizeof err);
    json_decref(root);
    return 0;
}
