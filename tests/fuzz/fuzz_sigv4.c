/* fuzz_sigv4.c - libFuzzer harness: any bytes as an S3 object key, SigV4-encoded and presigned. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wa_sigv4.h"

static int unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.' || c == '~';
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1; /* lowercase hex is not SigV4's form, so it counts as wrong */
}

/* The encoding holds only unreserved characters, %XX (uppercase) and, in key paths, '/'; it
 * decodes back to the input; and it is canonical: no byte that could stay literal was escaped,
 * or S3 would compute a different canonical URI than the one signed. */
static void check_encoding(const uint8_t *data, size_t size, int keep_slash)
{
    char *enc = wa_sigv4_uri_encode((const char *)data, size, keep_slash);
    if (!enc) abort();
    size_t n = strlen(enc), o = 0;
    for (size_t i = 0; i < n; o++) {
        unsigned char c = (unsigned char)enc[i];
        int byte;
        if (c == '%') {
            if (i + 2 >= n) abort(); /* a '%' needs two digits after it */
            int hi = hex_value(enc[i + 1]), lo = hex_value(enc[i + 2]);
            if (hi < 0 || lo < 0) abort();
            byte = hi * 16 + lo;
            if (unreserved((unsigned char)byte) || (keep_slash && byte == '/')) abort();
            i += 3;
        } else if (unreserved(c) || (keep_slash && c == '/')) {
            byte = c;
            i++;
        } else {
            abort();
        }
        if (o >= size || data[o] != (uint8_t)byte) abort();
    }
    if (o != size) abort();
    free(enc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_encoding(data, size, 1);
    check_encoding(data, size, 0);

    /* The same bytes as a key (up to any NUL) presign without a fault, into a URL that starts
     * with the encoded path. */
    char *path = malloc(size + 2);
    if (!path) return 0;
    path[0] = '/';
    memcpy(path + 1, data, size);
    path[size + 1] = '\0';
    struct wa_sigv4_presign p = {
        .method = "GET",
        .scheme = "http",
        .host = "localhost:9000",
        .path = path,
        .region = "us-east-1",
        .service = "s3",
        .access_key = "AKIAIOSFODNN7EXAMPLE",
        .secret_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        .now_s = 1369353600,
        .expires_s = 300,
    };
    char err[128];
    char *url = wa_sigv4_presign_url(&p, err, sizeof err);
    if (!url) abort();
    char *enc = wa_sigv4_uri_encode(path, strlen(path), 1);
    const char *origin = "http://localhost:9000";
    if (strncmp(url, origin, strlen(origin)) != 0) abort();
    if (strncmp(url + strlen(origin), enc, strlen(enc)) != 0) abort();
    if (url[strlen(origin) + strlen(enc)] != '?') abort();
    free(enc);
    free(url);
    free(path);
    return 0;
}
