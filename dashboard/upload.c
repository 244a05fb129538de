/* upload.c - the operator's file, from the reply box into object storage: spooled to disk while
 * hashed, its type sniffed from its bytes, PUT with common/wa_s3.c (media-worker's code), and
 * recorded in `media` under the reply's key (sql/0015), so the reply names it as media.mediaId
 * and the senders hand it to the provider as a presigned URL, like inbound media. */
#include "dash.h"
#include "wa_http.h"
#include "wa_log.h"
#include "wa_media.h"
#include "wa_outbound.h"
#include "wa_s3.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct dash_upload {
    char lead[24];
    struct dash_upload_req req;
    FILE *spool; /* unlinked: gone with the process, whatever happens */
    EVP_MD_CTX *md;
    uint64_t size;
    int too_large, write_failed;
    char refusal[256]; /* announced over the limit: read to its end, then refused with this */
    unsigned char head[64];
    size_t head_len;
};

int dash_upload_path(const char *url, char lead[24])
{
    static const char tail[] = "/media";
    size_t n = strlen(url), t = sizeof tail - 1;
    if (strncmp(url, "/api/leads/", 11) != 0 || n <= 11 + t || strcmp(url + n - t, tail) != 0)
        return 0;
    size_t idn = n - 11 - t;
    if (idn >= 24 || memchr(url + 11, '/', idn)) return 0;
    memcpy(lead, url + 11, idn);
    lead[idn] = '\0';
    return 1;
}

struct dash_upload *dash_upload_begin(struct MHD_Connection *c, const char *lead, unsigned *status,
                                      char *err, size_t errsz)
{
    if (!dash_cfg.s3_endpoint || !dash_cfg.s3_endpoint[0] || !dash_store.access_key ||
        !dash_store.access_key[0]) {
        *status = 503;
        snprintf(err, errsz, "uploads are off: S3_ENDPOINT and its keys are not set");
        return NULL;
    }
    if (!dash_cfg.send_token || !dash_cfg.send_token[0]) {
        *status = 503;
        snprintf(err, errsz,
                 "replies are off: DASHBOARD_SEND_TOKEN (the send API's token) is not "
                 "set");
        return NULL;
    }
    struct dash_upload_req req;
    if (dash_upload_request(
            MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Idempotency-Key"),
            MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE),
            MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH),
            MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-File-Name"),
            (uint64_t)dash_cfg.media_max, &req, status, err, errsz) < 0) {
        /* Announced too large: refused when the body has been read (and dropped), not at once.
         * A client that sends its whole body before it reads the answer, as browsers and most
         * HTTP libraries do, would get a broken connection instead of the 413 and its words.
         * Past four times the limit the answer comes at once and the connection is closed. */
        if (*status != 413 || req.length > 4 * (int64_t)dash_cfg.media_max) return NULL;
        struct dash_upload *u = wa_xcalloc(1, sizeof *u);
        snprintf(u->lead, sizeof u->lead, "%s", lead);
        snprintf(u->refusal, sizeof u->refusal, "%s", err);
        u->req = req;
        u->too_large = 1;
        return u;
    }
    char path[1024];
    snprintf(path, sizeof path, "%s/wa-upload-XXXXXX", dash_cfg.spool_dir);
    int fd = mkstemp(path);
    if (fd < 0) {
        *status = 503;
        wa_error("upload: no spool file in %s: %s", dash_cfg.spool_dir, strerror(errno));
        snprintf(err, errsz, "the dashboard cannot take files now (no room to spool); retry");
        return NULL;
    }
    unlink(path);
    FILE *spool = fdopen(fd, "w+");
    if (!spool) {
        close(fd);
        *status = 503;
        snprintf(err, errsz, "the dashboard cannot take files now; retry");
        return NULL;
    }
    struct dash_upload *u = wa_xcalloc(1, sizeof *u);
    snprintf(u->lead, sizeof u->lead, "%s", lead);
    u->req = req;
    u->spool = spool;
    u->md = EVP_MD_CTX_new();
    EVP_DigestInit_ex(u->md, EVP_sha256(), NULL);
    return u;
}

void dash_upload_data(struct dash_upload *u, const char *p, size_t n)
{
    /* Past the limit (a body sent without its length) the rest is read and dropped: the answer,
     * 413, comes when it ends, so the browser reads it rather than a reset connection. */
    if (u->too_large || n > (uint64_t)dash_cfg.media_max - u->size) {
        u->too_large = 1;
        return;
    }
    if (u->head_len < sizeof u->head) {
        size_t k = sizeof u->head - u->head_len;
        if (k > n) k = n;
        memcpy(u->head + u->head_len, p, k);
        u->head_len += k;
    }
    EVP_DigestUpdate(u->md, p, n);
    if (!u->write_failed && fwrite(p, 1, n, u->spool) != n) u->write_failed = errno ? errno : EIO;
    u->size += n;
}

void dash_upload_free(struct dash_upload *u)
{
    if (!u) return;
    if (u->spool) fclose(u->spool);
    if (u->md) EVP_MD_CTX_free(u->md);
    free(u);
}

static enum MHD_Result stored(struct MHD_Connection *c, const char *id, const char *sha,
                              const char *mime, const char *size, int duplicate)
{
    json_t *o =
        json_pack("{s:s, s:s, s:I, s:s, s:b}", "mediaId", id, "mime", mime, "size",
                  (json_int_t)strtoll(size, NULL, 10), "sha256", sha, "duplicate", duplicate);
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    enum MHD_Result ret = wa_http_reply(c, 200, "application/json", s, strlen(s));
    free(s);
    return ret;
}

/* The same reply uploaded again with another file: the first is what the key names. */
static enum MHD_Result other_file(struct MHD_Connection *c, const struct dash_upload *u)
{
    wa_warn("upload lead=%s key=%s: another file under a key already used", u->lead, u->req.key);
    return wa_http_error(c, 409, "key_reused",
                         "this reply already has another file: write the reply again to send "
                         "this one");
}

enum MHD_Result dash_upload_finish(struct MHD_Connection *c, struct dash_upload *u)
{
    wa_metric_add(dash_m.requests, 1);
    char err[512] = "";
    unsigned status = 500;
    if (u->refusal[0]) {
        wa_metric_add(dash_m.bad, 1);
        return wa_http_error(c, 413, "too_large", u->refusal);
    }
    if (u->too_large) {
        wa_metric_add(dash_m.bad, 1);
        char most[32];
        dash_size_words((uint64_t)dash_cfg.media_max, most, sizeof most);
        snprintf(err, sizeof err, "the file is too large to send: over %s, the most", most);
        return wa_http_error(c, 413, "too_large", err);
    }
    if (u->size == 0) {
        wa_metric_add(dash_m.bad, 1);
        return wa_http_error(c, 400, "bad_request", "the file is empty");
    }
    const char *mime = wa_media_sendable(u->req.mime, u->head, u->head_len, err, sizeof err);
    if (!mime) {
        wa_metric_add(dash_m.bad, 1);
        wa_info("upload lead=%s refused: %s", u->lead, err);
        return wa_http_error(c, 415, "unsupported_media_type", err);
    }
    if (u->write_failed || fflush(u->spool) != 0) {
        wa_error("upload lead=%s: spool file: %s", u->lead,
                 strerror(u->write_failed ? u->write_failed : errno));
        return wa_http_error(c, 503, "unavailable",
                             "the dashboard could not keep the file (disk full?); retry");
    }
    unsigned char md[32];
    unsigned mdlen = 0;
    char sha[65], size[24];
    EVP_DigestFinal_ex(u->md, md, &mdlen);
    for (unsigned i = 0; i < 32; i++)
        snprintf(sha + 2 * i, 3, "%02x", md[i]);
    snprintf(size, sizeof size, "%llu", (unsigned long long)u->size);

    char phone[64], id[24], had_sha[65], had_mime[128], had_size[24];
    if (dash_lead_phone(u->lead, phone, sizeof phone, &status, err, sizeof err) < 0)
        return dash_fail(c, status, err);
    /* A repeat of the reply's upload (a double click, a retry after no answer): the file is
     * stored already, nothing is stored twice. */
    const char *fp[] = {u->req.key};
    int found = dash_upload_row("upload_find", 1, fp, id, had_sha, had_mime, had_size, &status, err,
                                sizeof err);
    if (found < 0) return dash_fail(c, status, err);
    if (found) {
        if (strcmp(had_sha, sha) != 0) return other_file(c, u);
        return stored(c, id, had_sha, had_mime, had_size, 1);
    }

    /* Stored as the reply's message will be: its id is the key's (wa_outbound_id), item 0. */
    char msg_id[37], key[256];
    wa_outbound_id(u->req.key, msg_id);
    wa_media_object_key(key, sizeof key, msg_id, 0, mime);
    const struct wa_s3_target t = {
        .endpoint = dash_cfg.s3_endpoint,
        .bucket = dash_cfg.s3_bucket,
        .access_key = dash_store.access_key,
        .secret_key = dash_store.secret_key,
        .region = dash_store.region,
        .connect_timeout_ms = 5000,
        .timeout_ms = 120000,
    };
    CURL *h = curl_easy_init();
    int64_t t0 = wa_now_ms();
    enum wa_result r = wa_s3_put(h, &t, key, u->spool, u->size, sha, mime, err, sizeof err);
    curl_easy_cleanup(h);
    if (r != WA_OK) {
        wa_warn("upload lead=%s key=%s not stored: %s", u->lead, key, err);
        return wa_http_error(c, 503, "storage_unavailable",
                             "the file could not be stored now; send again (it is sent once)");
    }
    const char *sp[] = {u->req.mime, mime,    size,           sha, dash_cfg.s3_bucket, key,
                        u->req.key,  u->lead, u->req.filename};
    found = dash_upload_row("upload_store", 9, sp, id, had_sha, had_mime, had_size, &status, err,
                            sizeof err);
    if (found <= 0) return dash_fail(c, found < 0 ? status : 503, found < 0 ? err : "not recorded");
    /* Two uploads of one key at once: the first row recorded is the one. */
    if (strcmp(had_sha, sha) != 0) return other_file(c, u);
    wa_metric_add(dash_m.uploads, 1);
    wa_info("upload lead=%s media_id=%s key=%s mime=%s size=%s sha256=%s put_ms=%lld", u->lead, id,
            key, mime, size, sha, (long long)(wa_now_ms() - t0));
    return stored(c, id, sha, had_mime, had_size, 0);
}
