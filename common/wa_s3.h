/* wa_s3.h - a file into S3-compatible storage (path-style), signed by libcurl's SigV4. */
#ifndef WA_S3_H
#define WA_S3_H

#include <curl/curl.h>
#include <stdint.h>
#include <stdio.h>

#include "wa_util.h"

struct wa_s3_target {
    const char *endpoint; /* e.g. http://127.0.0.1:9000, no trailing slash */
    const char *bucket, *access_key, *secret_key, *region;
    long connect_timeout_ms, timeout_ms;
};

/* PUTs size bytes of body (read from its start) as bucket/key with Content-Type mime (NULL:
 * application/octet-stream); sha256 is the payload's hex digest, sent as x-amz-content-sha256
 * (libcurl 7.88 does not add it). WA_OK stored; WA_RETRY the storage could not be reached or
 * answered 429/5xx; WA_FAIL it refused. err says why. */
enum wa_result wa_s3_put(CURL *h, const struct wa_s3_target *t, const char *key, FILE *body,
                         uint64_t size, const char *sha256, const char *mime, char *err,
                         size_t errsz);

#endif
