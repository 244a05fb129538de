/* wa_client.h - outgoing HTTP (libcurl) with the one distinction retries need: did the request
 * leave, or not? */
#ifndef WA_CLIENT_H
#define WA_CLIENT_H

#include <curl/curl.h>
#include <stddef.h>
#include <stdint.h>

#include "wa_util.h"

#define WA_CLIENT_MAX_BODY (256 * 1024) /* a provider's answer; more is cut */

struct wa_client_result {
    long status;            /* the HTTP status, 0 when none arrived */
    CURLcode code;          /* CURLE_OK when an answer arrived */
    int refused;            /* nothing listens there (connection refused or unreachable) */
    int sent;               /* bytes of the request left: its outcome may be unknown */
    int64_t retry_after_ms; /* from Retry-After, 0 when absent */
    double elapsed_ms;
    char error[CURL_ERROR_SIZE];
    struct wa_buf body; /* NUL-terminated; the caller frees with wa_buf_free() */
};

/* One request on a reused handle (keep-alive). body may be NULL (GET).
 * headers is a NULL-terminated list, userpwd "user:password" or NULL. */
void wa_client_call(CURL *h, const char *method, const char *url, const char *const *headers,
                    const char *body, size_t len, const char *userpwd, long connect_timeout_ms,
                    long timeout_ms, struct wa_client_result *out);

/* The process's CA file for https calls (PEM), in place of the system's list; NULL or "": the
 * system's. The dashboard sets it (DASHBOARD_SEND_CA_FILE) for a send API behind a private CA. */
extern const char *wa_client_ca_file;

/* Appends "k=v" to a form body, both percent-encoded, '&' between pairs. */
void wa_client_form_add(CURL *h, struct wa_buf *form, const char *k, const char *v);

#endif
