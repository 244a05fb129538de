/* wa_sigv4.c - SigV4 presigning for S3 on OpenSSL HMAC/SHA-256; pure: the caller passes time. */
/* Why: libcurl CURLOPT_AWS_SIGV4 signs requests but cannot presign the GET URL Twilio fetches. */
#include "wa_sigv4.h"
#include "wa_util.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ALGORITHM "AWS4-HMAC-SHA256"
/* 9999-12-31T23:59:59Z: the last second a four-digit year can write. */
#define LAST_SECOND INT64_C(253402300799)

static const char hex_upper[] = "0123456789ABCDEF";
static const char hex_lower[] = "0123456789abcdef";

static int unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.' || c == '~';
}

char *wa_sigv4_uri_encode(const char *s, size_t len, int keep_slash)
{
    if (len > (SIZE_MAX - 1) / 3) return NULL;
    char *out = wa_xmalloc(len * 3 + 1);
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (unreserved(c) || (keep_slash && c == '/')) {
            out[o++] = (char)c;
        } else {
            out[o++] = '%';
            out[o++] = hex_upper[c >> 4];
            out[o++] = hex_upper[c & 15];
        }
    }
    out[o] = '\0';
    return out;
}

/* Writes v as exactly width decimal digits. */
static void put_digits(char *dst, unsigned v, int width)
{
    for (int i = width - 1; i >= 0; i--) {
        dst[i] = (char)('0' + v % 10);
        v /= 10;
    }
}

static int leap_year(unsigned y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

void wa_sigv4_amz_date(int64_t unix_s, char amz_date[17], char date[9])
{
    if (unix_s < 0) unix_s = 0;
    if (unix_s > LAST_SECOND) unix_s = LAST_SECOND;
    int64_t days = unix_s / 86400;
    unsigned secs = (unsigned)(unix_s % 86400);
    /* A walk over years and months: at most 8030 steps, and plainly right. */
    unsigned year = 1970;
    for (;;) {
        int64_t in_year = leap_year(year) ? 366 : 365;
        if (days < in_year) break;
        days -= in_year;
        year++;
    }
    static const unsigned month_days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    unsigned month = 0;
    for (;;) {
        int64_t in_month = month_days[month] + (month == 1 && leap_year(year));
        if (days < in_month) break;
        days -= in_month;
        month++;
    }
    put_digits(date, year, 4);
    put_digits(date + 4, month + 1, 2);
    put_digits(date + 6, (unsigned)days + 1, 2);
    date[8] = '\0';
    memcpy(amz_date, date, 8);
    amz_date[8] = 'T';
    put_digits(amz_date + 9, secs / 3600, 2);
    put_digits(amz_date + 11, secs / 60 % 60, 2);
    put_digits(amz_date + 13, secs % 60, 2);
    amz_date[15] = 'Z';
    amz_date[16] = '\0';
}

/* The buffer's text, or "" when nothing was appended (wa_buf leaves data NULL then). */
static char *buf_take(struct wa_buf *b)
{
    return b->data ? b->data : wa_xstrdup("");
}

struct encoded_pair {
    char *name, *value;
};

static int encoded_pair_cmp(const void *x, const void *y)
{
    const struct encoded_pair *a = x, *b = y;
    int c = strcmp(a->name, b->name);
    return c ? c : strcmp(a->value, b->value);
}

static char *encode_str(const char *s, int keep_slash)
{
    if (!s) s = "";
    char *e = wa_sigv4_uri_encode(s, strlen(s), keep_slash);
    if (!e) abort(); /* a C string this long cannot exist; keep callers free of a NULL case */
    return e;
}

char *wa_sigv4_canonical_query(const struct wa_sigv4_pair *params, size_t n)
{
    struct encoded_pair *enc = wa_xcalloc(n + 1, sizeof *enc);
    for (size_t i = 0; i < n; i++) {
        enc[i].name = encode_str(params[i].name, 0);
        enc[i].value = encode_str(params[i].value, 0);
    }
    qsort(enc, n, sizeof *enc, encoded_pair_cmp);
    struct wa_buf b = {0};
    for (size_t i = 0; i < n; i++) {
        if (i) wa_buf_append(&b, "&", 1);
        wa_buf_append(&b, enc[i].name, strlen(enc[i].name));
        wa_buf_append(&b, "=", 1);
        wa_buf_append(&b, enc[i].value, strlen(enc[i].value));
        free(enc[i].name);
        free(enc[i].value);
    }
    free(enc);
    return buf_take(&b);
}

static int blank(char c)
{
    return c == ' ' || c == '\t';
}

/* Lower-case ASCII only: header names are tokens, and a locale must not change a signature. */
static char *lower_name(const char *s)
{
    char *out = wa_xstrdup(s ? s : "");
    for (char *p = out; *p; p++)
        if (*p >= 'A' && *p <= 'Z') *p = (char)(*p - 'A' + 'a');
    return out;
}

/* Trimmed, each inner run of blanks one space: AWS's Trimall. */
static char *trim_value(const char *s)
{
    if (!s) s = "";
    char *out = wa_xmalloc(strlen(s) + 1);
    size_t o = 0;
    int pending_space = 0;
    for (; *s; s++) {
        if (blank(*s)) {
            pending_space = o > 0;
            continue;
        }
        if (pending_space) out[o++] = ' ';
        pending_space = 0;
        out[o++] = *s;
    }
    out[o] = '\0';
    return out;
}

static int header_cmp(const void *x, const void *y)
{
    const struct encoded_pair *a = x, *b = y;
    return strcmp(a->name, b->name);
}

char *wa_sigv4_canonical_request(const char *method, const char *path, const char *canonical_query,
                                 const struct wa_sigv4_pair *headers, size_t nheaders,
                                 const char *payload_hash)
{
    struct encoded_pair *h = wa_xcalloc(nheaders + 1, sizeof *h);
    for (size_t i = 0; i < nheaders; i++) {
        h[i].name = lower_name(headers[i].name);
        h[i].value = trim_value(headers[i].value);
    }
    qsort(h, nheaders, sizeof *h, header_cmp);

    struct wa_buf b = {0};
    const char *m = method ? method : "";
    wa_buf_append(&b, m, strlen(m));
    wa_buf_append(&b, "\n", 1);
    if (!path || !*path) {
        wa_buf_append(&b, "/", 1);
    } else {
        char *p = encode_str(path, 1);
        wa_buf_append(&b, p, strlen(p));
        free(p);
    }
    wa_buf_append(&b, "\n", 1);
    const char *q = canonical_query ? canonical_query : "";
    wa_buf_append(&b, q, strlen(q));
    wa_buf_append(&b, "\n", 1);
    for (size_t i = 0; i < nheaders; i++) {
        wa_buf_append(&b, h[i].name, strlen(h[i].name));
        wa_buf_append(&b, ":", 1);
        wa_buf_append(&b, h[i].value, strlen(h[i].value));
        wa_buf_append(&b, "\n", 1);
    }
    /* The header block ends with its own newline, then the line separator: one blank line. */
    wa_buf_append(&b, "\n", 1);
    for (size_t i = 0; i < nheaders; i++) {
        if (i) wa_buf_append(&b, ";", 1);
        wa_buf_append(&b, h[i].name, strlen(h[i].name));
        free(h[i].name);
        free(h[i].value);
    }
    free(h);
    wa_buf_append(&b, "\n", 1);
    const char *ph = payload_hash ? payload_hash : "";
    wa_buf_append(&b, ph, strlen(ph));
    return buf_take(&b);
}

static void to_hex(const unsigned char *bytes, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex_lower[bytes[i] >> 4];
        out[2 * i + 1] = hex_lower[bytes[i] & 15];
    }
    out[2 * n] = '\0';
}

/* OpenSSL fails here only when SHA-256 itself is unavailable; a wrong signature would be a
 * silent 403 far away, so stop instead. */
static void sha256(const void *data, size_t len, unsigned char out[32])
{
    unsigned int n = 0;
    if (!EVP_Digest(data, len, out, &n, EVP_sha256(), NULL) || n != 32) abort();
}

static void hmac_sha256(const void *key, size_t key_len, const void *msg, size_t msg_len,
                        unsigned char out[32])
{
    unsigned int n = 0;
    if (key_len > INT32_MAX) abort();
    if (!HMAC(EVP_sha256(), key, (int)key_len, msg, msg_len, out, &n) || n != 32) abort();
}

char *wa_sigv4_string_to_sign(const char *amz_date, const char *region, const char *service,
                              const char *canonical_request)
{
    const char *cr = canonical_request ? canonical_request : "";
    unsigned char digest[32];
    char hex[WA_SIGV4_HEX_LEN];
    sha256(cr, strlen(cr), digest);
    to_hex(digest, sizeof digest, hex);
    struct wa_buf b = {0};
    wa_buf_appendf(&b, ALGORITHM "\n%s\n%.8s/%s/%s/aws4_request\n%s", amz_date ? amz_date : "",
                   amz_date ? amz_date : "", region ? region : "", service ? service : "", hex);
    return buf_take(&b);
}

void wa_sigv4_signing_key(const char *secret, const char *date, const char *region,
                          const char *service, unsigned char out[32])
{
    size_t secret_len = strlen(secret);
    char *k_secret = wa_xmalloc(secret_len + 4);
    memcpy(k_secret, "AWS4", 4);
    memcpy(k_secret + 4, secret, secret_len);
    unsigned char k[32];
    hmac_sha256(k_secret, secret_len + 4, date, strlen(date), k);
    hmac_sha256(k, sizeof k, region, strlen(region), k);
    hmac_sha256(k, sizeof k, service, strlen(service), k);
    hmac_sha256(k, sizeof k, "aws4_request", strlen("aws4_request"), out);
    /* The secret and the day-wide keys must not linger in freed memory. */
    OPENSSL_cleanse(k_secret, secret_len + 4);
    OPENSSL_cleanse(k, sizeof k);
    free(k_secret);
}

void wa_sigv4_signature(const unsigned char key[32], const char *string_to_sign,
                        char out[WA_SIGV4_HEX_LEN])
{
    unsigned char mac[32];
    hmac_sha256(key, 32, string_to_sign, strlen(string_to_sign), mac);
    to_hex(mac, sizeof mac, out);
}

static char *fail(char *errbuf, size_t errsz, const char *what)
{
    if (errbuf && errsz) snprintf(errbuf, errsz, "sigv4: %s", what);
    return NULL;
}

static int empty(const char *s)
{
    return !s || !*s;
}

/* Host goes verbatim into the URL's authority; anything that would end the authority early or
 * make it ambiguous is refused rather than signed. */
static int host_ok(const char *host)
{
    for (const unsigned char *p = (const unsigned char *)host; *p; p++)
        if (*p <= ' ' || *p >= 0x7f || strchr("/?#@\\", *p)) return 0;
    return 1;
}

char *wa_sigv4_presign_url(const struct wa_sigv4_presign *p, char *errbuf, size_t errsz)
{
    if (!p) return fail(errbuf, errsz, "no request");
    if (empty(p->method)) return fail(errbuf, errsz, "missing method");
    if (empty(p->scheme)) return fail(errbuf, errsz, "missing scheme");
    if (strcmp(p->scheme, "https") != 0 && strcmp(p->scheme, "http") != 0)
        return fail(errbuf, errsz, "scheme must be http or https");
    if (empty(p->host)) return fail(errbuf, errsz, "missing host");
    if (!host_ok(p->host)) return fail(errbuf, errsz, "host has a character a Host cannot carry");
    if (empty(p->path)) return fail(errbuf, errsz, "missing path");
    if (p->path[0] != '/') return fail(errbuf, errsz, "path must start with '/'");
    if (empty(p->region)) return fail(errbuf, errsz, "missing region");
    if (empty(p->service)) return fail(errbuf, errsz, "missing service");
    if (empty(p->access_key)) return fail(errbuf, errsz, "missing access key");
    if (empty(p->secret_key)) return fail(errbuf, errsz, "missing secret key");
    if (p->expires_s < 1 || p->expires_s > WA_SIGV4_MAX_EXPIRES)
        return fail(errbuf, errsz, "expires_s must be 1..604800 (AWS's seven-day limit)");
    if (p->now_s < 0 || p->now_s > LAST_SECOND)
        return fail(errbuf, errsz, "now_s outside the years 1970..9999");

    char amz_date[17], date[9], expires[16];
    wa_sigv4_amz_date(p->now_s, amz_date, date);
    snprintf(expires, sizeof expires, "%d", p->expires_s);
    struct wa_buf credential = {0};
    wa_buf_appendf(&credential, "%s/%s/%s/%s/aws4_request", p->access_key, date, p->region,
                   p->service);
    const struct wa_sigv4_pair params[] = {
        {"X-Amz-Algorithm", ALGORITHM},  {"X-Amz-Credential", credential.data},
        {"X-Amz-Date", amz_date},        {"X-Amz-Expires", expires},
        {"X-Amz-SignedHeaders", "host"}, {"response-content-type", p->content_type},
    };
    const struct wa_sigv4_pair host = {"host", p->host};

    size_t nparams = sizeof params / sizeof params[0] - (empty(p->content_type) ? 1 : 0);
    char *query = wa_sigv4_canonical_query(params, nparams);
    char *creq =
        wa_sigv4_canonical_request(p->method, p->path, query, &host, 1, "UNSIGNED-PAYLOAD");
    char *sts = wa_sigv4_string_to_sign(amz_date, p->region, p->service, creq);
    unsigned char key[32];
    char sig[WA_SIGV4_HEX_LEN];
    wa_sigv4_signing_key(p->secret_key, date, p->region, p->service, key);
    wa_sigv4_signature(key, sts, sig);
    OPENSSL_cleanse(key, sizeof key);

    /* The URL's path is the very encoding that was signed, so S3 recomputes the same one. */
    char *path = encode_str(p->path, 1);
    struct wa_buf url = {0};
    wa_buf_appendf(&url, "%s://%s%s?%s&X-Amz-Signature=%s", p->scheme, p->host, path, query, sig);
    free(path);
    free(sts);
    free(creq);
    free(query);
    wa_buf_free(&credential);
    return buf_take(&url);
}
