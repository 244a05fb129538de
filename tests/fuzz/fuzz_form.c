/* fuzz_form.c - libFuzzer harness: any bytes as a Twilio webhook body through parse, sign,
 * normalize. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ingress.h"
#include "wa_twilio_sig.h"

#define URL "https://example.com/api/whatsapp/twilio"

/* A signature made for a form verifies; the same signature with one character changed (which
 * one comes from the input) does not. */
static void check_signature(const struct wa_form *form, const uint8_t *data, size_t size)
{
    char sig[WA_TWILIO_SIG_LEN];
    wa_twilio_sign("token", URL, form, sig);
    if (strlen(sig) != WA_TWILIO_SIG_LEN - 1) abort();
    if (!wa_twilio_valid("token", URL, form, sig)) abort();
    size_t at = size ? data[size - 1] % (WA_TWILIO_SIG_LEN - 1) : 0;
    sig[at] = sig[at] == 'A' ? 'B' : 'A';
    if (wa_twilio_valid("token", URL, form, sig)) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct wa_form form;
    char err[256];
    if (wa_form_parse((const char *)data, size, &form, err, sizeof err) < 0) return 0;
    check_signature(&form, data, size);

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
