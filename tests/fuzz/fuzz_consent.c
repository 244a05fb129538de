/* fuzz_consent.c - libFuzzer harness: any bytes as an inbound text through the keyword matcher,
 * and as a configured keyword list. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "consent.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct rtr_keywords kw;
    static int loaded;
    char err[256];
    if (!loaded) {
        if (rtr_keywords_load(&kw, "STOP,UNSUBSCRIBE,CANCEL,הסר,הסרה,ביטול", "START", err,
                              sizeof err) != 0)
            abort();
        loaded = 1;
    }
    const char *text = (const char *)data, *keyword;
    enum rtr_consent c = rtr_consent_match(&kw, text, size, &keyword);
    if ((c == RTR_CONSENT_NONE) != (keyword == NULL)) abort();
    /* Spaces around a text change nothing. */
    char *padded = malloc(size + 2);
    padded[0] = ' ';
    memcpy(padded + 1, data, size);
    padded[size + 1] = '\n';
    const char *again;
    if (rtr_consent_match(&kw, padded, size + 2, &again) != c || again != keyword) abort();
    free(padded);
    /* The same bytes as a keyword list: loaded or refused with a reason, never more words than
     * fit. */
    char *list = malloc(size + 1);
    memcpy(list, data, size);
    list[size] = '\0';
    struct rtr_keywords mine;
    err[0] = '\0';
    if (rtr_keywords_load(&mine, list, "START", err, sizeof err) == 0) {
        if (mine.n < 1 || mine.n > RTR_KEYWORDS_MAX) abort();
    } else if (!err[0]) {
        abort();
    }
    /* And as an idempotency key. */
    int64_t id = rtr_confirmation_of(list);
    if (id < 0 || (id > 0 && strncmp(list, RTR_CONFIRMATION_KEY, strlen(RTR_CONFIRMATION_KEY))))
        abort();
    free(list);
    return 0;
}
