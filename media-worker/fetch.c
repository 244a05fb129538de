/* fetch.c - a media source into an unlinked spool file: redirects followed by hand, so every
 * hop is checked against the allowlist and credentials go to the first host only. */
#include "media.h"
#include "wa_log.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

struct sink {
    FILE *f;
    EVP_MD_CTX *md;
    uint64_t size;
    int too_large;
    struct mw_file *out;
};

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    struct sink *s = ud;
    size_t len = size * n;
    if (!mw_size_ok(-1, s->size, len, (uint64_t)mw_cfg.max_bytes)) {
        s->too_large = 1;
        return 0; /* aborts the transfer: nothing more is read */
    }
    if (s->out->head_len < sizeof s->out->head) {
        size_t k = sizeof s->out->head - s->out->head_len;
        if (k > len) k = len;
        memcpy(s->out->head + s->out->head_len, p, k);
        s->out->head_len += k;
    }
    EVP_DigestUpdate(s->md, p, len);
    if (fwrite(p, 1, len, s->f) != len) return 0;
    s->size += len;
    return len;
}

/* A Content-Length above the limit is refused before any byte of the body. */
static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    struct sink *s = ud;
    size_t len = size * n;
    if (len > 15 && strncasecmp(p, "content-length:", 15) == 0) {
        long long cl = strtoll(p + 15, NULL, 10);
        if (!mw_size_ok(cl, 0, 0, (uint64_t)mw_cfg.max_bytes)) {
            s->too_large = 1;
            return 0;
        }
    }
    return len;
}

/* Runs once connected, before the request is sent: the address itself must be
 * public (a name on the allowlist could still resolve to an internal one). */
static int on_connected(void *ud, char *ip, char *local_ip, int remote_port, int local_port)
{
    (void)local_ip;
    (void)local_port;
    (void)remote_port;
    int *state = ud; /* [0] private allowed for this host, [1] refused */
    if (!state[0] && mw_ip_private(ip)) {
        state[1] = 1;
        return CURL_PREREQFUNC_ABORT;
    }
    return CURL_PREREQFUNC_OK;
}

static int reset(struct sink *s, struct mw_file *out)
{
    EVP_DigestInit_ex(s->md, EVP_sha256(), NULL);
    s->size = 0;
    out->head_len = 0;
    if (fflush(s->f) != 0 || ftruncate(fileno(s->f), 0) != 0) return -1;
    rewind(s->f);
    return 0;
}

enum mw_verdict mw_fetch(CURL *h, const struct mw_job *job, struct mw_file *out, char *err,
                         size_t errsz)
{
    memset(out, 0, sizeof *out);
    char tmpl[1024];
    snprintf(tmpl, sizeof tmpl, "%s/wa-media-XXXXXX", mw_cfg.spool_dir);
    int fd = mkstemp(tmpl);
    if (fd < 0) {
        snprintf(err, errsz, "spool file in %s: %s", mw_cfg.spool_dir, strerror(errno));
        return MW_RETRY;
    }
    unlink(tmpl); /* gone with the process, whatever happens */
    struct sink s = {.f = fdopen(fd, "w+"), .md = EVP_MD_CTX_new(), .out = out};
    char *url = wa_xstrdup(job->url);
    enum mw_verdict v = MW_RETRY;
    int twilio = strcmp(job->provider, "twilio") == 0;
    for (int hop = 0;; hop++) {
        if (hop > mw_cfg.max_redirects) {
            snprintf(err, errsz, "more than %ld redirects", mw_cfg.max_redirects);
            v = MW_REFUSED;
            break;
        }
        CURLU *u = curl_url();
        char *scheme = NULL, *host = NULL, *port = NULL;
        int bad = curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
                  curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
                  curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
                  curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK;
        int allowed = !bad && (strcmp(scheme, "https") == 0 || strcmp(scheme, "http") == 0) &&
                      mw_host_allowed(mw_cfg.allowed_hosts, host, strtol(port, NULL, 10));
        int state[2] = {mw_cfg.allow_private || (!bad && mw_host_allowed(mw_cfg.private_hosts, host,
                                                                         strtol(port, NULL, 10))),
                        0};
        if (!allowed)
            snprintf(err, errsz, "%s %s is not an allowed media host", hop ? "redirect to" : "url",
                     bad ? "(unparsable)" : host);
        curl_free(scheme);
        curl_free(host);
        curl_free(port);
        curl_url_cleanup(u);
        if (!allowed) {
            v = MW_REFUSED;
            break;
        }
        if (reset(&s, out) < 0) {
            snprintf(err, errsz, "spool file: %s", strerror(errno));
            break;
        }
        struct curl_slist *hl = NULL;
        char secret[300];
        curl_easy_reset(h);
        curl_easy_setopt(h, CURLOPT_URL, url);
        curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
        curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, mw_cfg.connect_timeout_ms);
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, mw_cfg.timeout_ms);
        curl_easy_setopt(h, CURLOPT_BUFFERSIZE, 256L * 1024); /* fewer, larger writes */
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(h, CURLOPT_WRITEDATA, &s);
        curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(h, CURLOPT_HEADERDATA, &s);
        curl_easy_setopt(h, CURLOPT_PREREQFUNCTION, on_connected);
        curl_easy_setopt(h, CURLOPT_PREREQDATA, state);
        if (hop == 0 && twilio && mw_cfg.twilio_sid && mw_cfg.twilio_token) {
            /* Twilio's own URL only: the CDN it redirects to never sees them. */
            curl_easy_setopt(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
            curl_easy_setopt(h, CURLOPT_USERNAME, mw_cfg.twilio_sid);
            curl_easy_setopt(h, CURLOPT_PASSWORD, mw_cfg.twilio_token);
        }
        if (hop == 0 && !twilio && mw_cfg.bridge_secret) {
            snprintf(secret, sizeof secret, "X-BAILEYS-SECRET: %s", mw_cfg.bridge_secret);
            hl = curl_slist_append(hl, secret);
            curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
        }
        CURLcode rc = curl_easy_perform(h);
        curl_slist_free_all(hl);
        long status = 0;
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
        if (state[1]) {
            snprintf(err, errsz, "%s resolves to a private address", url);
            v = MW_REFUSED;
            break;
        }
        if (s.too_large) {
            snprintf(err, errsz, "larger than the limit of %ld bytes", mw_cfg.max_bytes);
            v = MW_REFUSED;
            break;
        }
        if (rc != CURLE_OK) {
            snprintf(err, errsz, "%s: %s", url, curl_easy_strerror(rc));
            v = MW_RETRY;
            break;
        }
        if (status == 301 || status == 302 || status == 303 || status == 307 || status == 308) {
            char *loc = NULL;
            curl_easy_getinfo(h, CURLINFO_REDIRECT_URL, &loc);
            if (!loc) {
                snprintf(err, errsz, "HTTP %ld without a Location", status);
                v = MW_REFUSED;
                break;
            }
            free(url);
            url = wa_xstrdup(loc);
            continue;
        }
        if (status < 200 || status > 299) {
            snprintf(err, errsz, "%s answered HTTP %ld", url, status);
            v = status == 429 || status >= 500 ? MW_RETRY : MW_REFUSED;
            break;
        }
        char *ct = NULL;
        curl_easy_getinfo(h, CURLINFO_CONTENT_TYPE, &ct);
        if (ct) snprintf(out->mime, sizeof out->mime, "%.*s", (int)strcspn(ct, "; "), ct);
        if (fflush(s.f) != 0) {
            snprintf(err, errsz, "spool file: %s", strerror(errno));
            break;
        }
        unsigned char md[32];
        unsigned len = 0;
        EVP_DigestFinal_ex(s.md, md, &len);
        for (unsigned i = 0; i < 32; i++)
            snprintf(out->sha256 + 2 * i, 3, "%02x", md[i]);
        out->size = s.size;
        rewind(s.f);
        out->spool = s.f;
        s.f = NULL;
        v = MW_OK;
        break;
    }
    free(url);
    EVP_MD_CTX_free(s.md);
    if (s.f) fclose(s.f);
    return v;
}
