/* wa_client.c - libcurl calls for the senders and the media worker. */
#include "wa_client.h"

#include <stdio.h>
#include <string.h>

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    struct wa_buf *b = ud;
    size_t len = size * n;
    if (b->len + len > WA_CLIENT_MAX_BODY)
        len = b->len < WA_CLIENT_MAX_BODY ? WA_CLIENT_MAX_BODY - b->len : 0;
    if (len) wa_buf_append(b, p, len);
    return size * n;
}

/* Notes that bytes of the request went out. libcurl retries a request on a fresh connection
 * when a reused (keep-alive) one dies before any answer, and then reports only how that retry
 * ended: a refused reconnect would hide that the first connection carried the request to a
 * peer that may have acted on it (a bridge that sent the message and was stopped before it
 * answered). The debug callback sees every byte written, on every connection. */
static int on_debug(CURL *h, curl_infotype type, char *data, size_t size, void *ud)
{
    (void)h;
    (void)data;
    if ((type == CURLINFO_HEADER_OUT || type == CURLINFO_DATA_OUT) && size > 0) *(int *)ud = 1;
    return 0;
}

const char *wa_client_ca_file;

void wa_client_call(CURL *h, const char *method, const char *url, const char *const *headers,
                    const char *body, size_t len, const char *userpwd, long connect_timeout_ms,
                    long timeout_ms, struct wa_client_result *out)
{
    memset(out, 0, sizeof *out);
    wa_buf_append(&out->body, "", 0);
    struct curl_slist *hl = NULL;
    for (const char *const *p = headers; p && *p; p++)
        hl = curl_slist_append(hl, *p);
    /* No "Expect: 100-continue": a round trip lost for small bodies. */
    hl = curl_slist_append(hl, "Expect:");
    curl_easy_reset(h);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, connect_timeout_ms);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, out->error);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &out->body);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    if (wa_client_ca_file && wa_client_ca_file[0])
        curl_easy_setopt(h, CURLOPT_CAINFO, wa_client_ca_file);
    int wrote = 0;
    curl_easy_setopt(h, CURLOPT_DEBUGFUNCTION, on_debug);
    curl_easy_setopt(h, CURLOPT_DEBUGDATA, &wrote);
    curl_easy_setopt(h, CURLOPT_VERBOSE, 1L);
    if (userpwd) {
        curl_easy_setopt(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(h, CURLOPT_USERPWD, userpwd);
    }
    if (body) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    }
    out->code = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &out->status);
    long reqsize = 0;
    curl_easy_getinfo(h, CURLINFO_REQUEST_SIZE, &reqsize);
    double total = 0;
    curl_easy_getinfo(h, CURLINFO_TOTAL_TIME, &total);
    out->elapsed_ms = total * 1000.0;
    curl_off_t ra = 0;
    if (curl_easy_getinfo(h, CURLINFO_RETRY_AFTER, &ra) == CURLE_OK && ra > 0)
        out->retry_after_ms = (int64_t)ra * 1000;
    /* A failed connect, DNS lookup or TLS handshake sent nothing: safe to repeat; unless an
     * earlier connection of this call carried the request (on_debug). */
    int before = out->code == CURLE_COULDNT_CONNECT || out->code == CURLE_COULDNT_RESOLVE_HOST ||
                 out->code == CURLE_COULDNT_RESOLVE_PROXY || out->code == CURLE_SSL_CONNECT_ERROR;
    out->sent = wrote || (!before && (reqsize > 0 || out->status > 0));
    out->refused = out->code == CURLE_COULDNT_CONNECT && !out->sent;
    if (out->code != CURLE_OK && !out->error[0])
        snprintf(out->error, sizeof out->error, "%s", curl_easy_strerror(out->code));
    curl_slist_free_all(hl);
}

void wa_client_form_add(CURL *h, struct wa_buf *form, const char *k, const char *v)
{
    char *ek = curl_easy_escape(h, k, 0);
    char *ev = curl_easy_escape(h, v, 0);
    wa_buf_appendf(form, "%s%s=%s", form->len ? "&" : "", ek, ev);
    curl_free(ek);
    curl_free(ev);
}
