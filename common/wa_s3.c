/* wa_s3.c - a file into S3-compatible storage with libcurl's SigV4, the payload's real SHA-256 in
 * x-amz-content-sha256 (libcurl 7.88 does not add that header itself). media-worker stores inbound
 * media with it, the dashboard the operator's uploads. */
#include "wa_s3.h"
#include "wa_media.h"
#include "wa_sigv4.h"

#include <stdlib.h>
#include <string.h>

static size_t discard(char *p, size_t size, size_t n, void *ud)
{
    (void)p;
    (void)ud;
    return size * n;
}

enum wa_result wa_s3_put(CURL *h, const struct wa_s3_target *t, const char *key, FILE *body,
                         uint64_t size, const char *sha256, const char *mime, char *err,
                         size_t errsz)
{
    char *ekey = wa_sigv4_uri_encode(key, strlen(key), 1);
    char url[2048], sigv4[128], userpwd[512], sha[100], ctype[200];
    snprintf(url, sizeof url, "%s/%s/%s", t->endpoint, t->bucket, ekey);
    free(ekey);
    snprintf(sigv4, sizeof sigv4, "aws:amz:%s:s3", t->region);
    snprintf(userpwd, sizeof userpwd, "%s:%s", t->access_key, t->secret_key);
    snprintf(sha, sizeof sha, "x-amz-content-sha256: %s", sha256);
    /* Served from the storage origin as stored: only what a browser shows without running it
     * keeps its type; the rest downloads (providers get the real type: wa_send_media_url). */
    int show = wa_media_inline(mime);
    snprintf(ctype, sizeof ctype, "Content-Type: %s", show ? mime : "application/octet-stream");
    struct curl_slist *hl = curl_slist_append(NULL, sha);
    hl = curl_slist_append(hl, ctype);
    if (!show) hl = curl_slist_append(hl, "Content-Disposition: attachment");
    hl = curl_slist_append(hl, "Expect:");
    rewind(body);
    curl_easy_reset(h);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(h, CURLOPT_UPLOAD_BUFFERSIZE, 256L * 1024);
    curl_easy_setopt(h, CURLOPT_READDATA, body);
    curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)size);
    curl_easy_setopt(h, CURLOPT_AWS_SIGV4, sigv4);
    curl_easy_setopt(h, CURLOPT_USERPWD, userpwd);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, t->connect_timeout_ms);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, t->timeout_ms);
    CURLcode rc = curl_easy_perform(h);
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(hl);
    if (rc != CURLE_OK) {
        snprintf(err, errsz, "storage PUT: %s", curl_easy_strerror(rc));
        return WA_RETRY;
    }
    if (status < 200 || status > 299) {
        snprintf(err, errsz, "storage PUT answered HTTP %ld", status);
        return status == 429 || status >= 500 ? WA_RETRY : WA_FAIL;
    }
    return WA_OK;
}
