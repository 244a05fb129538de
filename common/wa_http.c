/* wa_http.c - shared HTTP replies and the admin endpoints. */
#include "wa_http.h"
#include "wa_config.h"
#include "wa_edge.h"
#include "wa_log.h"
#include "wa_metrics.h"
#include "wa_util.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum MHD_Result wa_http_reply(struct MHD_Connection *c, unsigned status, const char *ctype,
                              const char *body, size_t len)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (!r) return MHD_NO;
    if (ctype) MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

enum MHD_Result wa_http_error(struct MHD_Connection *c, unsigned status, const char *code,
                              const char *message)
{
    json_t *o = json_pack("{s:s, s:s}", "error", code, "message", message);
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    enum MHD_Result ret =
        s ? wa_http_reply(c, status, "application/json", s, strlen(s)) : wa_http_empty(c, status);
    free(s);
    json_decref(o);
    return ret;
}

enum MHD_Result wa_http_empty(struct MHD_Connection *c, unsigned status)
{
    return wa_http_reply(c, status, NULL, "", 0);
}

static int loopback(const char *ip)
{
    return strncmp(ip, "127.", 4) == 0 || strcmp(ip, "::1") == 0 ||
           strncmp(ip, "::ffff:127.", 11) == 0;
}

/* The metrics tell traffic, numbers and failures: with METRICS_TOKEN set they need it as a
 * bearer token; without, only a client on this machine gets them (a request a trusted proxy
 * forwards counts as its client's, so the proxy does not make the internet local). */
static int metrics_allowed(struct MHD_Connection *c, enum MHD_Result *ret)
{
    if (wa_metrics_token && *wa_metrics_token) {
        const char *a = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
        if (!a || strncasecmp(a, "Bearer ", 7) != 0) {
            *ret = wa_http_error(c, 401, "missing_token",
                                 "GET /metrics needs Authorization: Bearer METRICS_TOKEN");
            return 0;
        }
        if (!wa_ct_equal(a + 7, strlen(a + 7), wa_metrics_token, strlen(wa_metrics_token))) {
            *ret = wa_http_error(c, 403, "bad_token", "the metrics token does not match");
            return 0;
        }
        return 1;
    }
    char ip[INET6_ADDRSTRLEN];
    wa_edge_client_ip(c, ip, sizeof ip);
    if (loopback(ip)) return 1;
    *ret = wa_http_error(c, 403, "metrics_local_only",
                         "GET /metrics answers clients on this machine only, unless METRICS_TOKEN "
                         "is set and sent as a bearer token");
    return 0;
}

int wa_http_admin(struct MHD_Connection *c, const char *method, const char *url, int (*ready)(void),
                  enum MHD_Result *ret)
{
    int get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
    if (strcmp(url, "/healthz") == 0) {
        *ret = get ? wa_http_reply(c, 200, "application/json", "{\"status\":\"ok\"}", 15)
                   : wa_http_error(c, 405, "method_not_allowed", "use GET");
        return 1;
    }
    if (strcmp(url, "/readyz") == 0) {
        int ok = !ready || ready();
        *ret = !get ? wa_http_error(c, 405, "method_not_allowed", "use GET")
               : ok ? wa_http_reply(c, 200, "application/json", "{\"status\":\"ready\"}", 18)
                    : wa_http_error(c, 503, "not_ready", "a dependency is unreachable");
        return 1;
    }
    if (strcmp(url, "/metrics") == 0) {
        if (!get) {
            *ret = wa_http_error(c, 405, "method_not_allowed", "use GET");
            return 1;
        }
        if (!metrics_allowed(c, ret)) return 1;
        struct wa_buf b = {0};
        wa_metrics_render(&b);
        *ret = wa_http_reply(c, 200, "text/plain; version=0.0.4", b.data ? b.data : "", b.len);
        wa_buf_free(&b);
        return 1;
    }
    return 0;
}

struct admin_ctx {
    int (*ready)(void);
};

static enum MHD_Result admin_handler(void *cls, struct MHD_Connection *c, const char *url,
                                     const char *method, const char *version,
                                     const char *upload_data, size_t *upload_data_size,
                                     void **con_cls)
{
    (void)version;
    (void)upload_data;
    (void)con_cls;
    struct admin_ctx *a = cls;
    if (*upload_data_size) {
        *upload_data_size = 0; /* admin URLs take no body; drop it */
        return MHD_YES;
    }
    enum MHD_Result ret;
    if (wa_http_admin(c, method, url, a->ready, &ret)) return ret;
    return wa_http_error(c, 404, "not_found", "no such endpoint");
}

int wa_http_sockaddr(const char *listen, void *out, char *err, size_t errsz)
{
    char host[256];
    unsigned port;
    if (wa_config_split_listen(listen, host, sizeof host, &port) < 0) {
        snprintf(err, errsz, "bad listen address %s", listen);
        return -1;
    }
    struct sockaddr_in *sin = out;
    memset(sin, 0, sizeof *sin);
    sin->sin_family = AF_INET;
    sin->sin_port = htons((uint16_t)port);
    if (strcmp(host, "localhost") == 0) strcpy(host, "127.0.0.1");
    if (inet_pton(AF_INET, host, &sin->sin_addr) != 1) {
        snprintf(err, errsz, "listen host %s is not an IPv4 address", host);
        return -1;
    }
    return 0;
}

struct MHD_Daemon *wa_http_admin_start(const char *listen, int (*ready)(void), char *err,
                                       size_t errsz)
{
    static struct admin_ctx a;
    a.ready = ready;
    struct sockaddr_in sin;
    if (wa_http_sockaddr(listen, &sin, err, errsz) < 0) return NULL;
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL, admin_handler, &a,
        MHD_OPTION_SOCK_ADDR, &sin, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)64, MHD_OPTION_END);
    if (!d) {
        snprintf(err, errsz, "cannot listen on %s", listen);
        return NULL;
    }
    /* With port 0 the kernel picked one: say which, for whoever probes /healthz. */
    const union MHD_DaemonInfo *bound = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    wa_info("admin listener on %s (port %u)", listen, bound ? (unsigned)bound->port : 0u);
    return d;
}
