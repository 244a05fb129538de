/* http.c - the ingress HTTP daemon: routing, body limits, and answering only after Kafka's ack. */
#include "ingress.h"
#include "wa_http.h"
#include "wa_log.h"

#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int kafka_ready(void);

/* MHD hands us the raw request target before it parses it: keep it, because
 * the Twilio signature covers the query exactly as sent. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *c)
{
    (void)cls;
    struct ing_request *r = wa_xcalloc(1, sizeof *r);
    r->uri = wa_xstrdup(uri);
    r->conn = c;
    r->start_ms = wa_now_ms();
    return r;
}

static void on_done(void *cls, struct MHD_Connection *c, void **con_cls,
                    enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)toe;
    wa_edge_answered(c);
    struct ing_request *r = *con_cls;
    if (!r) return;
    wa_buf_free(&r->body);
    free(r->ack_body);
    json_decref(r->api_root);
    free(r->api);
    json_decref(r->crm_result);
    free(r->uri);
    free(r);
    *con_cls = NULL;
}

/* Runs on the thread that polls the producer. */
static void on_delivery(struct wa_delivery *d)
{
    struct ing_request *r = d->ctx;
    wa_metric_observe(ing_m_ack_seconds, (double)(wa_now_ms() - r->start_ms) / 1000.0);
    MHD_resume_connection(r->conn);
}

enum MHD_Result ing_produce_and_suspend(struct ing_request *r, const char *topic, const char *key,
                                        const char *value, size_t len)
{
    r->dlv.on_done = on_delivery;
    r->dlv.ctx = r;
    r->resume = ing_finish_produce;
    /* Suspend first: the delivery report may fire on another thread before
     * this function returns, and it must find the connection suspended. */
    MHD_suspend_connection(r->conn);
    r->suspended = 1;
    wa_metric_add(ing_m_inflight, 1);
    rd_kafka_resp_err_t e = wa_kafka_produce(ing_producer, topic, key, value, len, &r->dlv);
    if (e) {
        /* Not even queued (queue full, unknown topic): answer now. */
        r->dlv.err = e;
        r->dlv.done = 1;
        MHD_resume_connection(r->conn);
    }
    return MHD_YES;
}

enum MHD_Result ing_finish_produce(struct ing_request *r)
{
    wa_metric_add(ing_m_inflight, -1);
    if (r->dlv.err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        ing_count(r->provider, ING_ACCEPTED);
        if (r->acked) return r->acked(r);
        if (r->ack_body)
            return wa_http_reply(r->conn, r->ack_status, "application/json", r->ack_body,
                                 strlen(r->ack_body));
        return wa_http_empty(r->conn, MHD_HTTP_NO_CONTENT);
    }
    if (r->dlv.err == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE) {
        /* Retrying cannot help: answered as the permanent refusal it is, so no sender waits
         * on it forever. */
        ing_count(r->provider, ING_TOO_LARGE);
        wa_warn("record too large for kafka uri=%s body_bytes=%zu", r->uri, r->body.len);
        return wa_http_error(r->conn, MHD_HTTP_CONTENT_TOO_LARGE, "too_large",
                             "the event made of this body is larger than Kafka takes");
    }
    ing_count(r->provider, ING_KAFKA_UNAVAILABLE);
    wa_warn("kafka did not take the record uri=%s error=%s", r->uri, rd_kafka_err2name(r->dlv.err));
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        strlen("{\"error\":\"unavailable\",\"message\":\"message log unavailable, retry\"}"),
        (void *)"{\"error\":\"unavailable\",\"message\":\"message log unavailable, retry\"}",
        MHD_RESPMEM_PERSISTENT);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, "1");
    enum MHD_Result ret = MHD_queue_response(r->conn, MHD_HTTP_SERVICE_UNAVAILABLE, resp);
    MHD_destroy_response(resp);
    return ret;
}

static enum MHD_Result too_large(struct ing_request *r)
{
    ing_count(r->provider, ING_TOO_LARGE);
    char msg[96];
    snprintf(msg, sizeof msg, "body larger than %ld bytes", ing_cfg.max_body);
    return wa_http_error(r->conn, MHD_HTTP_CONTENT_TOO_LARGE, "too_large", msg);
}

struct route {
    const char *path; /* ending in '/': a prefix */
    const char *method;
    enum ing_provider provider;
    enum MHD_Result (*handler)(struct ing_request *r);
};

static const struct route routes[] = {
    {"/api/whatsapp/twilio", "POST", ING_TWILIO, ing_twilio_inbound},
    {"/api/whatsapp/baileys", "POST", ING_BAILEYS, ing_baileys_inbound},
    {"/api/whatsapp/baileys/parked", "POST", ING_PARKED, ing_baileys_parked},
    {"/api/whatsapp/twilio/status", "POST", ING_TWILIO, ing_twilio_status},
    {"/api/whatsapp/send", "POST", ING_API, ing_send},
    {"/api/whatsapp/messages/", "GET", ING_API, ing_message_get},
};

static int path_matches(const char *url, const char *path)
{
    size_t n = strlen(path);
    if (path[n - 1] == '/') return strncmp(url, path, n) == 0 && url[n] && !strchr(url + n, '/');
    return strcmp(url, path) == 0;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_size, void **con_cls)
{
    (void)cls;
    (void)version;
    struct ing_request *r = *con_cls;
    if (r->suspended) {
        /* Resumed: by the delivery report, or by the CRM's answer. */
        r->suspended = 0;
        return r->resume(r);
    }
    enum MHD_Result ret;
    if (wa_http_admin(c, method, url, kafka_ready, &ret)) return ret;

    const struct route *rt = NULL;
    int path_known = 0;
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        if (!path_matches(url, routes[i].path)) continue;
        path_known = 1;
        if (strcmp(method, routes[i].method) == 0) rt = &routes[i];
    }
    if (!rt) {
        if (path_known) return wa_http_error(c, 405, "method_not_allowed", "wrong method");
        return wa_http_error(c, 404, "not_found", "no such endpoint");
    }
    r->provider = rt->provider;
    r->url = url;
    if (r->too_large) {
        *upload_size = 0; /* answered already; drop the rest */
        return MHD_YES;
    }
    if (*upload_size) {
        if (r->body.len + *upload_size > (size_t)ing_cfg.max_body) {
            r->too_large = 1;
            *upload_size = 0;
            return too_large(r);
        }
        wa_buf_append(&r->body, upload, *upload_size);
        *upload_size = 0;
        return MHD_YES;
    }
    if (!r->started) {
        /* First call: headers only. An announced length above the limit is
         * refused before any byte of the body is read. */
        r->started = 1;
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
        if (cl && strtoll(cl, NULL, 10) > ing_cfg.max_body) {
            r->too_large = 1;
            return too_large(r);
        }
        return MHD_YES;
    }
    if (!r->body.data) wa_buf_append(&r->body, "", 0); /* an empty body is still a string */
    wa_edge_received(c);
    return rt->handler(r);
}

/* The readiness flag is refreshed off the request path (see main.c). */
extern int ing_kafka_is_ready(void);
static int kafka_ready(void)
{
    return ing_kafka_is_ready();
}

static void log_mhd(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char buf[512];
    vsnprintf(buf, sizeof buf, fmt, ap);
    size_t l = strlen(buf);
    while (l && buf[l - 1] == '\n')
        buf[--l] = '\0';
    wa_warn("http %s", buf);
}

struct MHD_Daemon *ing_http_start(char *err, size_t errsz)
{
    struct sockaddr_in sin;
    if (wa_http_sockaddr(ing_cfg.listen, &sin, err, errsz) < 0) return NULL;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_ALLOW_SUSPEND_RESUME |
                     MHD_USE_ERROR_LOG | wa_tls_flags(&ing_tls);
    struct MHD_Daemon *d = MHD_start_daemon(
        flags, 0, NULL, NULL, handle, NULL,
        /* First, or libmicrohttpd warns at every start that what it says about the options
         * before it may go to stderr instead. */
        MHD_OPTION_EXTERNAL_LOGGER, log_mhd, NULL, MHD_OPTION_SOCK_ADDR, &sin,
        MHD_OPTION_URI_LOG_CALLBACK, on_uri, NULL, MHD_OPTION_NOTIFY_COMPLETED, on_done, NULL,
        /* Slow clients: idle connections are dropped after this many seconds (and, whatever
         * they send, a request must arrive within INGRESS_REQUEST_DEADLINE_S: wa_edge). */
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)ing_cfg.client_timeout_s,
        /* Headers larger than this memory pool get "431"/"413" from MHD itself. */
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)ing_cfg.max_header, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)ing_cfg.max_connections, MHD_OPTION_THREAD_POOL_SIZE, (unsigned)ing_cfg.threads,
        MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned)1024,
        /* The certificate and key when INGRESS_TLS_CERT is set; nothing otherwise. */
        MHD_OPTION_ARRAY, wa_tls_options(&ing_tls),
        /* The cap per address, and the watch on requests that arrive too slowly. */
        MHD_OPTION_ARRAY, wa_edge_options(&ing_edge), MHD_OPTION_END);
    if (!d)
        snprintf(err, errsz, "cannot listen on %s (in use, or not allowed%s)", ing_cfg.listen,
                 wa_tls_on(&ing_tls) ? ", or the TLS setup failed: see the log above" : "");
    return d;
}
