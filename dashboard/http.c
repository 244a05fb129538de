/* http.c - the dashboard's HTTP edge: the token login, static files, the API, live events. Nothing
 * but /login, /healthz and /metrics answers without the token: the pages show phones and texts. */
#include "dash.h"
#include "wa_form.h"
#include "wa_http.h"
#include "wa_log.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define COOKIE "wa_dash"

/* Sessions are kept by the server (sql/0012): the cookie is 32 random bytes, the CRM keeps
 * only their SHA-256, with an expiry; logout revokes it. A stolen database gives no live cookie. */
static void sha256_hex(const char *s, char out[65])
{
    unsigned char md[32];
    unsigned len = 0;
    EVP_Digest(s, strlen(s), md, &len, EVP_sha256(), NULL);
    for (unsigned i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

enum auth { AUTH_OK, AUTH_NO, AUTH_UNAVAILABLE };

static enum auth authorized(struct MHD_Connection *c)
{
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    if (h && strncasecmp(h, "Bearer ", 7) == 0)
        return wa_ct_equal(h + 7, strlen(h + 7), dash_cfg.token, strlen(dash_cfg.token)) ? AUTH_OK
                                                                                         : AUTH_NO;
    const char *v = MHD_lookup_connection_value(c, MHD_COOKIE_KIND, COOKIE);
    if (!v || strlen(v) != 64) return AUTH_NO;
    char id[65];
    sha256_hex(v, id);
    char idle[24];
    snprintf(idle, sizeof idle, "%ld", dash_cfg.session_idle_s);
    int valid = dash_session("session_valid", id, idle, NULL);
    return valid < 0 ? AUTH_UNAVAILABLE : valid ? AUTH_OK : AUTH_NO;
}

static enum MHD_Result redirect(struct MHD_Connection *c, const char *to, const char *cookie)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    MHD_add_response_header(r, "Location", to);
    if (cookie) MHD_add_response_header(r, "Set-Cookie", cookie);
    enum MHD_Result ret = MHD_queue_response(c, 303, r);
    MHD_destroy_response(r);
    return ret;
}

static const char *content_type(const char *path)
{
    static const char *const types[][2] = {
        {".html", "text/html; charset=utf-8"},
        {".js", "text/javascript; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},
        {".svg", "image/svg+xml"},
        {".png", "image/png"},
        {".json", "application/json"},
        {".map", "application/json"},
        {".ico", "image/x-icon"},
    };
    const char *dot = strrchr(path, '.');
    for (size_t i = 0; dot && i < sizeof types / sizeof types[0]; i++)
        if (strcmp(dot, types[i][0]) == 0) return types[i][1];
    return "application/octet-stream";
}

/* A file under the web directory; rel has been checked for "..". */
static enum MHD_Result file(struct MHD_Connection *c, const char *dir, const char *rel)
{
    char path[2048];
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        if (fd >= 0) close(fd);
        return wa_http_error(c, 404, "not_found", "no such file");
    }
    struct MHD_Response *r = MHD_create_response_from_fd((uint64_t)st.st_size, fd);
    MHD_add_response_header(r, "Content-Type", content_type(rel));
    MHD_add_response_header(r, "Cache-Control", "no-cache");
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    enum MHD_Result ret = MHD_queue_response(c, 200, r);
    MHD_destroy_response(r);
    return ret;
}

static int safe_path(const char *rel)
{
    return *rel && rel[0] != '/' && !strstr(rel, "..") && !strchr(rel, '\\');
}

enum MHD_Result dash_fail(struct MHD_Connection *c, unsigned status, const char *err)
{
    if (status == 400) wa_metric_add(dash_m.bad, 1);
    return wa_http_error(c, status,
                         status == 400   ? "bad_request"
                         : status == 404 ? "not_found"
                                         : "unavailable",
                         err);
}

static enum MHD_Result json(struct MHD_Connection *c, json_t *o, unsigned status, const char *err)
{
    wa_metric_add(dash_m.requests, 1);
    if (!o) return dash_fail(c, status, err);
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    /* A success is 200, or what the handler said it is (202 for a request taken). */
    enum MHD_Result ret = wa_http_reply(c, status >= 200 && status < 300 ? status : 200,
                                        "application/json", s, strlen(s));
    free(s);
    return ret;
}

struct req {
    struct wa_buf body;
    int too_large; /* the body passed the limit: the rest is dropped, the answer is 413 */
    struct dash_upload *upload; /* a media reply's file (upload.c): its body goes to disk */
};

static int ends_with(const char *s, const char *tail)
{
    size_t n = strlen(s), t = strlen(tail);
    return n >= t && strcmp(s + n - t, tail) == 0;
}

/* The operator's reply is the one body besides the login form; anything else gets 4096 bytes. */
static size_t body_limit(const char *url)
{
    return strncmp(url, "/api/leads/", 11) == 0 && ends_with(url, "/reply") ? DASH_REPLY_BODY_MAX
                                                                            : 4096;
}

/* A change (a POST) comes from the page, not from another site riding on the cookie: the
 * cookie is SameSite=Strict already, and the page adds a header no cross-site form can send
 * (and a cross-site script cannot without a CORS preflight this server never allows); an
 * Origin, when the browser sends one, must be this dashboard's. A Bearer token is no ambient
 * credential: such a request needs neither. */
static int same_site_request(struct MHD_Connection *c)
{
    const char *a = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    if (a && strncasecmp(a, "Bearer ", 7) == 0) return 1;
    const char *x = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-WA-Dashboard");
    if (!x || strcmp(x, "1") != 0) return 0;
    const char *origin = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Origin");
    if (!origin) return 1;
    const char *host = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Host");
    if (!host) return 0;
    const char *rest = strncmp(origin, "http://", 7) == 0    ? origin + 7
                       : strncmp(origin, "https://", 8) == 0 ? origin + 8
                                                             : NULL;
    return rest && strcmp(rest, host) == 0;
}

/* A media reply's file: who sends it and what it says it is are checked before a byte of it is
 * read (the login and the cross-site check too: a file is not spooled for nobody), then its body
 * streams to upload.c. */
static enum MHD_Result upload_start(struct MHD_Connection *c, struct req *rq, const char *lead)
{
    enum auth auth = authorized(c);
    if (auth == AUTH_UNAVAILABLE)
        return wa_http_error(c, 503, "unavailable", "the CRM is not reachable; retry");
    if (auth != AUTH_OK) {
        wa_metric_add(dash_m.refused, 1);
        return wa_http_error(c, 401, "unauthorized", "log in, or send Authorization: Bearer");
    }
    if (!same_site_request(c)) {
        wa_metric_add(dash_m.refused, 1);
        wa_warn("dashboard refused a cross-site upload for lead %s", lead);
        return wa_http_error(c, 403, "cross_site_refused",
                             "a change from the page needs its header X-WA-Dashboard: 1 and, when "
                             "the browser names one, this dashboard's own Origin");
    }
    unsigned status = 500;
    char err[256] = "";
    rq->upload = dash_upload_begin(c, lead, &status, err, sizeof err);
    if (rq->upload) return MHD_YES;
    wa_metric_add(dash_m.bad, status == 503 ? 0 : 1);
    return wa_http_error(c, status,
                         status == 413   ? "too_large"
                         : status == 415 ? "unsupported_media_type"
                         : status == 400 ? "bad_request"
                                         : "unavailable",
                         err);
}

static int ready(void)
{
    return dash_db_ready();
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_size, void **con_cls)
{
    (void)cls;
    (void)version;
    if (!*con_cls) {
        *con_cls = wa_xcalloc(1, sizeof(struct req));
        char lead[24];
        if (strcmp(method, "POST") == 0 && dash_upload_path(url, lead))
            return upload_start(c, *con_cls, lead);
        return MHD_YES;
    }
    struct req *rq = *con_cls;
    if (rq->upload) {
        if (!*upload_size) return dash_upload_finish(c, rq->upload);
        dash_upload_data(rq->upload, upload, *upload_size);
        *upload_size = 0;
        return MHD_YES;
    }
    size_t max_body = body_limit(url);
    if (*upload_size) {
        /* The bodies: the login form, and the operator's reply. */
        if (rq->too_large || rq->body.len + *upload_size > max_body)
            rq->too_large = 1;
        else
            wa_buf_append(&rq->body, upload, *upload_size);
        *upload_size = 0;
        return MHD_YES;
    }
    wa_edge_received(c); /* the request is in: no deadline while it is answered */
    if (rq->too_large) {
        wa_metric_add(dash_m.bad, 1);
        char msg[128];
        snprintf(msg, sizeof msg, "a body over %zu bytes, the most this path takes", max_body);
        return wa_http_error(c, 413, "too_large", msg);
    }
    enum MHD_Result ret;
    if (wa_http_admin(c, method, url, ready, &ret)) return ret;
    int get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;

    if (strcmp(url, "/login") == 0) {
        if (get) return file(c, dash_cfg.web_dir, "login.html");
        if (strcmp(method, "POST") != 0) return wa_http_error(c, 405, "method_not_allowed", "");
        char ip[INET6_ADDRSTRLEN];
        wa_edge_client_ip(c, ip, sizeof ip);
        int64_t wait = dash_login_wait_ms(ip, wa_now_ms());
        if (wait > 0) {
            wa_metric_add(dash_m.refused, 1);
            wa_warn("dashboard login throttled ip=%s for %lld s", ip, (long long)(wait / 1000));
            char msg[128];
            snprintf(msg, sizeof msg,
                     "too many wrong tokens from this address: try again in %lld s",
                     (long long)((wait + 999) / 1000));
            return wa_http_error(c, 429, "too_many_attempts", msg);
        }
        struct wa_form f;
        char err[128];
        const char *tok = NULL;
        if (rq->body.data && wa_form_parse(rq->body.data, rq->body.len, &f, err, sizeof err) == 0)
            tok = wa_form_get(&f, "token");
        else
            memset(&f, 0, sizeof f);
        int ok = tok && wa_ct_equal(tok, strlen(tok), dash_cfg.token, strlen(dash_cfg.token));
        wa_form_free(&f);
        if (!ok) {
            dash_login_failed(ip, wa_now_ms());
            wa_metric_add(dash_m.refused, 1);
            wa_warn("dashboard login refused ip=%s", ip);
            return redirect(c, "/login?error=1", NULL);
        }
        dash_login_succeeded(ip);
        unsigned char raw[32];
        char v[65], id[65], ttl[24], cookie[256];
        if (RAND_bytes(raw, sizeof raw) != 1)
            return wa_http_error(c, 500, "no_randomness", "cannot make a session");
        for (int i = 0; i < 32; i++)
            snprintf(v + 2 * i, 3, "%02x", raw[i]);
        sha256_hex(v, id);
        snprintf(ttl, sizeof ttl, "%ld", dash_cfg.session_s);
        if (dash_session("session_create", id, ttl, ip) < 0)
            return wa_http_error(c, 503, "unavailable", "the CRM is not reachable; retry");
        snprintf(cookie, sizeof cookie,
                 COOKIE "=%s; Path=/; HttpOnly; SameSite=Strict; Max-Age=%ld%s", v,
                 dash_cfg.session_s, dash_cfg.cookie_secure ? "; Secure" : "");
        return redirect(c, "/", cookie);
    }
    if (strcmp(url, "/static/login.css") == 0 || strcmp(url, "/static/app.css") == 0)
        return file(c, dash_cfg.web_dir, url + strlen("/static/"));

    enum auth auth = authorized(c);
    if (auth == AUTH_UNAVAILABLE)
        return wa_http_error(c, 503, "unavailable", "the CRM is not reachable; retry");
    if (auth != AUTH_OK) {
        wa_metric_add(dash_m.refused, 1);
        if (strncmp(url, "/api/", 5) == 0)
            return wa_http_error(c, 401, "unauthorized", "log in, or send Authorization: Bearer");
        return redirect(c, "/login", NULL);
    }
    if (strcmp(method, "POST") == 0 && !same_site_request(c)) {
        wa_metric_add(dash_m.refused, 1);
        wa_warn("dashboard refused a cross-site %s %s", method, url);
        return wa_http_error(c, 403, "cross_site_refused",
                             "a change from the page needs its header X-WA-Dashboard: 1 and, when "
                             "the browser names one, this dashboard's own Origin");
    }
    if (strncmp(url, "/api/leads/", 11) == 0 && strlen(url) > 11 + 6 && ends_with(url, "/reply")) {
        if (strcmp(method, "POST") != 0)
            return wa_http_error(c, 405, "method_not_allowed", "use POST");
        char id[32];
        snprintf(id, sizeof id, "%.*s", (int)(strlen(url) - 11 - strlen("/reply")), url + 11);
        return dash_reply_forward(c, id, rq->body.data, rq->body.len);
    }
    if (strcmp(url, "/api/templates/sync") == 0) {
        /* The one action besides logging in: asks for a template sync (a POST, so a link or an
         * image cannot trigger it; the session cookie is SameSite=Strict). */
        if (strcmp(method, "POST") != 0)
            return wa_http_error(c, 405, "method_not_allowed", "use POST");
        unsigned status = 500;
        char err[256] = "";
        json_t *o = dash_templates_sync(&status, err, sizeof err); /* sets status: call first */
        return json(c, o, status, err);
    }
    if (!get) return wa_http_error(c, 405, "method_not_allowed", "use GET");
    if (strcmp(url, "/logout") == 0) {
        /* The session ends on the server too: a copy of the cookie is worth nothing after. */
        const char *v = MHD_lookup_connection_value(c, MHD_COOKIE_KIND, COOKIE);
        if (v) {
            char id[65];
            sha256_hex(v, id);
            dash_session("session_revoke", id, NULL, NULL);
        }
        return redirect(c, "/login", COOKIE "=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
    }
    if (strcmp(url, "/") == 0 || strcmp(url, "/index.html") == 0)
        return file(c, dash_cfg.web_dir, "index.html");
    if (strncmp(url, "/static/vendor/uplot/", 21) == 0 && safe_path(url + 21)) {
        char dir[1024];
        snprintf(dir, sizeof dir, "%s/node_modules/uplot/dist", dash_cfg.web_dir);
        return file(c, dir, url + 21);
    }
    if (strncmp(url, "/static/", 8) == 0 && safe_path(url + 8) &&
        strncmp(url + 8, "node_modules", 12) != 0)
        return file(c, dash_cfg.web_dir, url + 8);

    int64_t t0 = wa_now_ms();
    unsigned status = 500;
    char err[256] = "";
    json_t *o = NULL;
    const char *q = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "q");
    const char *limit = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "limit");
    const char *cursor = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "cursor");
    if (strcmp(url, "/api/events") == 0) return dash_sse_serve(c);
    if (strcmp(url, "/api/leads") == 0) {
        o = dash_leads(q, limit, cursor, &status, err, sizeof err);
    } else if (strncmp(url, "/api/leads/", 11) == 0) {
        const char *rest = url + 11;
        const char *slash = strchr(rest, '/');
        if (!slash || (strcmp(slash, "/messages") != 0 && strcmp(slash, "/preview") != 0))
            return wa_http_error(c, 404, "not_found", "no such endpoint");
        char id[32];
        snprintf(id, sizeof id, "%.*s", (int)(slash - rest), rest);
        if (strcmp(slash, "/preview") == 0)
            o = dash_preview(id, MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "kind"),
                             MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "channel"),
                             MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "template"),
                             &status, err, sizeof err);
        else
            o = dash_messages(id, limit, cursor, &status, err, sizeof err);
    } else if (strcmp(url, "/api/templates") == 0) {
        o = dash_templates(&status, err, sizeof err);
    } else if (strcmp(url, "/api/stats") == 0) {
        o = dash_stats(MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "minutes"), &status,
                       err, sizeof err);
    } else {
        return wa_http_error(c, 404, "not_found", "no such endpoint");
    }
    wa_metric_observe(dash_m.api_seconds, (double)(wa_now_ms() - t0) / 1000.0);
    return json(c, o, status, err);
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)toe;
    wa_edge_answered(c);
    struct req *rq = *con_cls;
    if (!rq) return;
    wa_buf_free(&rq->body);
    dash_upload_free(rq->upload);
    free(rq);
    *con_cls = NULL;
}

struct MHD_Daemon *dash_http_start(char *err, size_t errsz)
{
    struct sockaddr_in sin;
    if (wa_http_sockaddr(dash_cfg.listen, &sin, err, errsz) < 0) return NULL;
    /* A few threads, each polling many connections: an idle or slow connection costs no thread,
     * and a live-events connection with nothing to send is suspended until the next event
     * (sse.c). */
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_ALLOW_SUSPEND_RESUME |
            MHD_USE_ERROR_LOG | wa_tls_flags(&dash_tls),
        0, NULL, NULL, handle, NULL, MHD_OPTION_SOCK_ADDR, &sin, MHD_OPTION_NOTIFY_COMPLETED,
        completed, NULL, MHD_OPTION_CONNECTION_LIMIT, (unsigned)dash_cfg.sse_max + 64,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)120, MHD_OPTION_THREAD_POOL_SIZE,
        (unsigned)dash_cfg.threads,
        /* The certificate and key when DASHBOARD_TLS_CERT is set; nothing otherwise. */
        MHD_OPTION_ARRAY, wa_tls_options(&dash_tls),
        /* The cap per address, and the watch on requests that arrive too slowly. */
        MHD_OPTION_ARRAY, wa_edge_options(&dash_edge), MHD_OPTION_END);
    if (!d)
        snprintf(err, errsz, "cannot listen on %s%s", dash_cfg.listen,
                 wa_tls_on(&dash_tls) ? " (or the TLS setup failed: see the log above)" : "");
    return d;
}
