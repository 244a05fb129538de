/* fuzz_upload.c - libFuzzer harness: any bytes as the headers of an operator's upload (POST
 * /api/leads/{id}/media: Idempotency-Key, Content-Type, Content-Length, X-File-Name) through
 * dash_upload_request, and as the first bytes of the file through wa_media_sendable. What passes
 * is a key the send API takes, a bare type/subtype, a length within the limit; a refusal says why
 * with the status the page shows; a file taken has a type WhatsApp carries. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dash.h"
#include "wa_form.h"
#include "wa_media.h"

struct dash_config dash_cfg;
struct wa_media_store dash_store;

#define MAX 16000000u

/* The next NUL-terminated piece of the input, or NULL (absent header) when it starts with 0x01. */
static const char *piece(const uint8_t **p, const uint8_t *end, char *buf, size_t bufsz)
{
    size_t n = 0;
    while (*p < end && **p != 0 && n + 1 < bufsz)
        buf[n++] = (char)*(*p)++;
    if (*p < end) (*p)++;
    buf[n] = '\0';
    return n == 1 && buf[0] == 1 ? NULL : buf;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *p = data, *end = data + size;
    char kb[256], cb[256], lb[64];
    const char *key = piece(&p, end, kb, sizeof kb);
    const char *ctype = piece(&p, end, cb, sizeof cb);
    const char *length = piece(&p, end, lb, sizeof lb);
    char nb[1100];
    const char *name = piece(&p, end, nb, sizeof nb);
    struct dash_upload_req u;
    unsigned status = 1;
    char err[256] = "";
    int rc = dash_upload_request(key, ctype, length, name, MAX, &u, &status, err, sizeof err);
    /* The name a document keeps: valid UTF-8, no control character, no path, within its room. */
    size_t fl = strlen(u.filename);
    if (fl >= sizeof u.filename || !wa_text_clean(u.filename, fl) || strchr(u.filename, '/') ||
        strchr(u.filename, '\\'))
        abort();
    for (size_t i = 0; i < fl; i++)
        if ((unsigned char)u.filename[i] < 0x20 || u.filename[i] == 0x7f) abort();
    if (rc != 0) {
        if (rc != -1 || !err[0]) abort();
        if (status != 400 && status != 413 && status != 415) abort();
    } else {
        if (status != 0) abort();
        if (strncmp(u.key, "dashboard:", 10) != 0 || strlen(u.key) > 10 + DASH_REPLY_KEY_MAX)
            abort();
        if (u.length < -1 || u.length > (int64_t)MAX) abort();
        if (!length && u.length != -1) abort();
        size_t n = strlen(u.mime);
        if (strspn(u.mime, "abcdefghijklmnopqrstuvwxyz0123456789/.+-_") != n) abort();
        const char *slash = strchr(u.mime, '/');
        if (n && (!slash || strchr(slash + 1, '/'))) abort();
    }
    /* The rest of the input as the file's first bytes, declared as the header says (upload.c
     * asks only with a type the headers' check passed). It is stored as what its bytes are, or,
     * for an Office document (a zip), as the Office type it declared. */
    err[0] = '\0';
    const char *mime =
        wa_media_sendable(rc == 0 ? u.mime : NULL, p, (size_t)(end - p), err, sizeof err);
    if (mime) {
        const char *sniffed = wa_media_sniff(p, (size_t)(end - p));
        if (!sniffed) abort();
        if (strcmp(mime, sniffed) != 0 &&
            !(strcmp(sniffed, "application/zip") == 0 &&
              strncmp(mime, "application/vnd.openxmlformats", 30) == 0))
            abort();
    } else if (!err[0]) {
        abort();
    }
    return 0;
}
