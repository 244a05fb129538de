/* fuzz_forwarded.c - libFuzzer harness: any bytes as an X-Forwarded-For header from a trusted
 * proxy. The answer is always an address (the peer's, or one the header names) that fits. */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wa_edge.h"

static int is_address(const char *s)
{
    unsigned char b[16];
    return inet_pton(AF_INET, s, b) == 1 || inet_pton(AF_INET6, s, b) == 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *header = malloc(size + 1);
    memcpy(header, data, size);
    header[size] = '\0'; /* a header value ends at its first NUL for us as for libmicrohttpd */
    char out[46];
    wa_edge_resolve("127.0.0.1, 10.0.0.0/8, ::1", "127.0.0.1", header, out, sizeof out);
    if (!is_address(out)) abort();
    /* An untrusted peer is never talked over. */
    wa_edge_resolve("127.0.0.1", "203.0.113.9", header, out, sizeof out);
    if (strcmp(out, "203.0.113.9") != 0) abort();
    free(header);
    return 0;
}
