/* fuzz_content.c - libFuzzer harness: any bytes as a page of Twilio's Content API list
 * (GET /v1/ContentAndApprovals), read by sender-twilio's template sync. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sender_twilio.h"
#include "wa_form.h"
#include "wa_util.h"

#define MAX 16

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct stw_template t[MAX];
    char next[512], err[256];
    int n = stw_content_page((const char *)data, size, t, MAX, next, sizeof next, err, sizeof err);
    if (n < -1 || n > MAX) abort();
    if (n < 0 && !err[0]) abort();
    if (!wa_utf8_valid(next, strlen(next))) abort();
    for (int i = 0; i < n; i++) {
        /* What goes into Postgres: an HX sid, a name, valid UTF-8 throughout, JSON objects. */
        if (!wa_twilio_sid(t[i].sid, "HX") || !t[i].name[0] || !t[i].status[0]) abort();
        if (!wa_utf8_valid(t[i].name, strlen(t[i].name)) ||
            !wa_utf8_valid(t[i].rejection_reason, strlen(t[i].rejection_reason)) ||
            !wa_utf8_valid(t[i].category, strlen(t[i].category)))
            abort();
        if (!t[i].variables || t[i].variables[0] != '{' || !t[i].types || t[i].types[0] != '{')
            abort();
        stw_template_free(&t[i]);
    }
    return 0;
}
