/* media.h - what the files of media-worker/ share. */
#ifndef MEDIA_WORKER_H
#define MEDIA_WORKER_H

#include <curl/curl.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>

#include "wa_metrics.h"
#include "wa_send.h"

struct mw_config {
    const char *kafka_brokers, *database_url, *listen, *group, *topic_media, *topic_events,
        *topic_error;
    const char *allowed_hosts, *private_hosts, *twilio_sid, *twilio_token, *bridge_secret,
        *spool_dir;
    const char *s3_endpoint, *s3_bucket, *s3_access_key, *s3_secret_key, *s3_region;
    long max_bytes, allow_private, connect_timeout_ms, timeout_ms, max_attempts, base_ms, cap_ms,
        workers, max_redirects;
};
extern struct mw_config mw_cfg;

/* A job from wa.media. Strings borrow from the decoded JSON. */
struct mw_job {
    const char *message_id, *provider, *url, *mime, *phone;
    int idx;
};

/* policy.c (pure): which hosts, which addresses, how much (types and keys: common/wa_media.h). */
/* 1 when host (and port) is in the comma-separated allowlist: "host" (any
 * port), "host:port", or ".example.com" (that domain's subdomains). */
int mw_host_allowed(const char *allowlist, const char *host, long port);
/* 1 for loopback, private, link-local, CGNAT, unspecified and multicast addresses. */
int mw_ip_private(const char *ip);
/* 1 when a transfer may go on: the announced length (-1 when unknown) and the
 * bytes so far plus the next chunk both fit in max. */
int mw_size_ok(int64_t announced, uint64_t so_far, uint64_t chunk, uint64_t max);

/* fetch.c: the source into a spool file, hashed on the way. */
struct mw_file {
    FILE *spool; /* unlinked temporary file, rewound */
    uint64_t size;
    char sha256[65]; /* hex */
    char mime[128];  /* Content-Type of the final answer, parameters dropped */
    unsigned char head[64];
    size_t head_len;
};
enum mw_verdict { MW_OK, MW_RETRY, MW_REFUSED };
enum mw_verdict mw_fetch(CURL *h, const struct mw_job *job, struct mw_file *out, char *err,
                         size_t errsz);

struct mw_metrics {
    struct wa_metric *stored, *duplicate, *refused, *failed, *retried, *bytes, *mismatch;
    struct wa_metric *seconds;
};
extern struct mw_metrics mw_m;

#endif
