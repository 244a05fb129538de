/* fuzz_form.c - libFuzzer harness: any bytes as a Twilio webhook body through parse, sign,
 * normalize. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ingress.h"
#include "wa_twilio_sig.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct wa_form form;
    char err[256];
    if (wa_form_parse((const char *)data, size, &form, err, sizeof err) < 0) return 0;
    char sig[WA_TWILIO_SIG_LEN];
    wa_twilio_sign("token", "https://example.com/api/whatsapp/twilio", &form, sig);
    (void)wa_twilio_valid("token", "https://example.com/api/whatsapp/twilio", &form, sig);

    struct wa_inbound ev;
    char phone[17], to[17];
    json_t *raw = NULL;
    int fixed;
    if (ing_twilio_normalize(&form, 1, &ev, phone, to, &raw, &fixed, err, sizeof err) == 0) {
        size_t len;
        char *json = wa_inbound_encode(&ev, &len);
        /* Whatever ingress accepts, the router must be able to read back. */
        if (!json) abort();
        struct wa_inbound back;
        json_t *root = wa_inbound_decode(json, len, &back, err, sizeof err);
        if (!root) abort();
        if (strcmp(back.phone, ev.phone) != 0) abort();
        json_decref(root);
        free(json);
    }
    json_decref(raw);
    wa_form_free(&form);
    return 0;
}
