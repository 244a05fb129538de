/* fuzz_provider.c - libFuzzer harness: any bytes as a provider's answer (Twilio's Messages API,
 * the bridge's /send) with each kind of HTTP status; the verdict must always be one we handle. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sender_baileys.h"
#include "sender_twilio.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const long statuses[] = {0, 200, 201, 202, 400, 401, 404, 429, 500, 502, 503};
    for (size_t i = 0; i < sizeof statuses / sizeof statuses[0]; i++) {
        struct wa_client_result r;
        memset(&r, 0, sizeof r);
        r.status = statuses[i];
        r.sent = (int)(size & 1);
        r.refused = (int)((size >> 1) & 1);
        wa_buf_append(&r.body, data, size);
        wa_buf_append(&r.body, "", 1);
        r.body.len--;
        /* Twilio has no "down": it is the last resort, and nothing is moved from it. */
        struct wa_outcome t;
        stw_classify(&r, &t);
        if (t.verdict == WA_VERDICT_NONE || t.verdict > WA_VERDICT_FAILED ||
            t.verdict == WA_VERDICT_DOWN || t.earlier_unknown || !memchr(t.id, 0, sizeof t.id))
            abort();
        struct wa_outcome b;
        sbl_classify(&r, &b);
        if (b.verdict == WA_VERDICT_NONE || b.verdict > WA_VERDICT_FAILED ||
            !memchr(b.id, 0, sizeof b.id))
            abort();
        /* A refused connection never sent anything. */
        if (r.refused && r.status == 0 && b.verdict != WA_VERDICT_DOWN) abort();
        /* Only a down answer may say an earlier attempt is in doubt. */
        if (b.earlier_unknown && b.verdict != WA_VERDICT_DOWN) abort();
        wa_buf_free(&r.body);
    }
    return 0;
}
