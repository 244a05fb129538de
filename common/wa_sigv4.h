/* wa_sigv4.h - AWS SigV4 for S3: presigned GET URLs, and each stage that builds one. */
#ifndef WA_SIGV4_H
#define WA_SIGV4_H

#include <stddef.h>
#include <stdint.h>

/* A SHA-256 or a signature in lowercase hex is 64 characters; with NUL, 65. */
#define WA_SIGV4_HEX_LEN 65
/* The longest presign AWS accepts: seven days. */
#define WA_SIGV4_MAX_EXPIRES 604800

/* One query parameter or one header, as the client will send it: not yet encoded. */
struct wa_sigv4_pair {
    const char *name;
    const char *value;
};

/* Percent-encodes s per SigV4 (RFC 3986 unreserved kept: A-Z a-z 0-9 - _ . ~ ; everything else
 * %XX uppercase, a space is %20, never '+'). keep_slash: '/' kept as is (object key paths).
 * Works on bytes, so UTF-8 keys come out as one %XX per byte. Returns a new string; NULL only
 * when len is too large to encode in memory. */
char *wa_sigv4_uri_encode(const char *s, size_t len, int keep_slash);

/* "20130524T000000Z" and "20130524" from a Unix time: the caller owns the clock, so tests can
 * sign at AWS's example instants. Times outside 1970..9999 are clamped to its ends. */
void wa_sigv4_amz_date(int64_t unix_s, char amz_date[17], char date[9]);

/* The canonical query string: each name and value encoded ('/' too, so X-Amz-Credential's
 * slashes become %2F), sorted by encoded name then value in byte order, joined as n=v&n=v.
 * A parameter without a value is "name=". The encoded form is what gets sorted, not the raw one:
 * ':' (%3A) sorts before '-' although raw ':' sorts after. Returns a new string. */
char *wa_sigv4_canonical_query(const struct wa_sigv4_pair *params, size_t n);

/* The canonical request AWS hashes: method, path, query, headers, signed header names, payload
 * hash, one per line. The path is encoded once with '/' kept: S3's rule (every other service
 * encodes it twice, so this module signs for S3 only); an empty path is "/". canonical_query
 * comes from wa_sigv4_canonical_query. Header names are lower-cased and sorted, values trimmed
 * with inner runs of blanks collapsed to one space; every header given is signed, and names must
 * be distinct. payload_hash is hex SHA-256 of the body, or "UNSIGNED-PAYLOAD". New string. */
char *wa_sigv4_canonical_request(const char *method, const char *path, const char *canonical_query,
                                 const struct wa_sigv4_pair *headers, size_t nheaders,
                                 const char *payload_hash);

/* The string to sign: algorithm, amz_date, credential scope, hex SHA-256 of the canonical
 * request. The scope's date is amz_date's first eight characters, so the two cannot disagree
 * (a mismatch is a classic cause of SignatureDoesNotMatch). Returns a new string. */
char *wa_sigv4_string_to_sign(const char *amz_date, const char *region, const char *service,
                              const char *canonical_request);

/* kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request").
 * Signing with this derived key instead of the secret scopes a leaked key to one day, region and
 * service. date is "YYYYMMDD". */
void wa_sigv4_signing_key(const char *secret, const char *date, const char *region,
                          const char *service, unsigned char out[32]);

/* The signature: lowercase hex HMAC-SHA256(signing key, string to sign). */
void wa_sigv4_signature(const unsigned char key[32], const char *string_to_sign,
                        char out[WA_SIGV4_HEX_LEN]);

/* What to presign. Every string is required. */
struct wa_sigv4_presign {
    const char *method; /* "GET" */
    const char *scheme; /* "https" or "http" */
    const char *host;   /* host[:port] exactly as the client will send it in Host */
    /* "/bucket/key" (path-style) or "/key" (virtual-host style); NOT yet encoded */
    const char *path;
    const char *region;  /* "us-east-1" */
    const char *service; /* "s3" */
    const char *access_key, *secret_key;
    int64_t now_s; /* signing time, Unix seconds */
    int expires_s; /* 1..604800 */
    /* Optional: the Content-Type the GET is answered with (response-content-type, signed), in
     * place of the one the object was stored with. NULL: the stored one. */
    const char *content_type;
};

/* The presigned URL (new string), or NULL with errbuf filled (bad expires, missing field). The
 * URL carries the encoded path and the X-Amz-* parameters; only Host is signed and the payload is
 * UNSIGNED-PAYLOAD, so any client that sends the URL's own Host can use it. */
char *wa_sigv4_presign_url(const struct wa_sigv4_presign *p, char *errbuf, size_t errsz);

#endif
