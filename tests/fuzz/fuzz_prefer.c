/* fuzz_prefer.c - libFuzzer harness: any bytes as a send request's Prefer header. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ingress.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int w = ing_prefer_wait((const char *)data, size);
    if (w < 0 || w > ING_WAIT_MAX_S) abort();
    /* Only the first wait counts: one in front decides, whatever follows it. */
    static const char first[] = "wait=2, ";
    char *joined = malloc(sizeof first - 1 + size);
    if (!joined) return 0;
    memcpy(joined, first, sizeof first - 1);
    if (size) memcpy(joined + sizeof first - 1, data, size);
    if (ing_prefer_wait(joined, sizeof first - 1 + size) != 2) abort();
    free(joined);
    return 0;
}
