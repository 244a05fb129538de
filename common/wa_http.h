/* wa_http.h - libmicrohttpd helpers: replies, JSON errors, and the /healthz + /metrics server. */
#ifndef WA_HTTP_H
#define WA_HTTP_H

#include <microhttpd.h>
#include <stddef.h>

/* Queues body as the response; copies it. */
enum MHD_Result wa_http_reply(struct MHD_Connection *c, unsigned status, const char *ctype,
                              const char *body, size_t len);
/* Queues {"error": code, "message": message}. */
enum MHD_Result wa_http_error(struct MHD_Connection *c, unsigned status, const char *code,
                              const char *message);
/* Queues an empty response (204 and the like). */
enum MHD_Result wa_http_empty(struct MHD_Connection *c, unsigned status);

/* Answers GET /healthz (alive), /readyz (ready() says so) and /metrics (with METRICS_TOKEN as a
 * bearer token when that is set, else to loopback clients only). Returns 1
 * and sets *ret when url is one of them. */
int wa_http_admin(struct MHD_Connection *c, const char *method, const char *url, int (*ready)(void),
                  enum MHD_Result *ret);

/* Starts a daemon answering only the admin URLs, on listen ("host:port"). */
struct MHD_Daemon *wa_http_admin_start(const char *listen, int (*ready)(void), char *err,
                                       size_t errsz);

/* Fills a sockaddr for "host:port" (IPv4 dotted or "0.0.0.0", or "localhost"). */
int wa_http_sockaddr(const char *listen, void *sin, char *err, size_t errsz);

#endif
