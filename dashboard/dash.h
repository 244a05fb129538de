/* dash.h - what the files of dashboard/ share. */
#ifndef DASHBOARD_H
#define DASHBOARD_H

#include <jansson.h>
#include <microhttpd.h>

#include "wa_metrics.h"
#include "wa_pg.h"
#include "wa_send.h"
#include "wa_tls.h"

struct dash_config {
    const char *listen, *token, *database_url, *kafka_brokers, *topic_events, *web_dir;
    long db_pool, sse_max, sse_buffer;
    long session_s;     /* DASHBOARD_SESSION_S: how long a login lasts */
    long cookie_secure; /* DASHBOARD_COOKIE_SECURE: the cookie only over HTTPS (always under TLS) */
    const char *tls_cert, *tls_key; /* DASHBOARD_TLS_CERT / DASHBOARD_TLS_KEY: both or neither */
};
extern struct dash_config dash_cfg;
extern struct wa_tls dash_tls; /* loaded from them at start; off when unset */
extern struct wa_media_store dash_store;

/* params.c (pure): query parameters. 0, or -1 with errbuf saying what is wrong.
 * Absent parameters get the defaults (limit 50, minutes 60, no cursor: ""). */
int dash_parse_limit(const char *s, int *out, char *errbuf, size_t errsz);
int dash_parse_id(const char *s, char id[24], char *errbuf, size_t errsz);
int dash_parse_minutes(const char *s, int *out, char *errbuf, size_t errsz);
int dash_parse_lead_cursor(const char *s, char at[24], char id[24], char *errbuf, size_t errsz);
int dash_parse_message_cursor(const char *s, char ts[64], char id[40], char *errbuf, size_t errsz);

/* throttle.c: wrong login tokens per client address. After DASH_LOGIN_FAILURES within
 * DASH_LOGIN_WINDOW_MS, the address waits until that long after its last failure. */
#define DASH_LOGIN_FAILURES 5
#define DASH_LOGIN_WINDOW_MS (10 * 60 * 1000)
int64_t dash_login_wait_ms(const char *ip, int64_t now_ms); /* 0: it may try */
void dash_login_failed(const char *ip, int64_t now_ms);
void dash_login_succeeded(const char *ip);
void dash_login_reset(void); /* forgets every address (tests) */

/* api.c: the JSON API over the CRM. Each returns a new object, or NULL with
 * *status and errbuf (400 for bad parameters, 404, 503 when the CRM is away). */
json_t *dash_leads(const char *q, const char *limit, const char *cursor, unsigned *status,
                   char *errbuf, size_t errsz);
json_t *dash_messages(const char *lead, const char *limit, const char *cursor, unsigned *status,
                      char *errbuf, size_t errsz);
json_t *dash_stats(const char *minutes, unsigned *status, char *errbuf, size_t errsz);
/* The template catalogue with its sync's state; and a sync asked for now (202). */
json_t *dash_templates(unsigned *status, char *errbuf, size_t errsz);
json_t *dash_templates_sync(unsigned *status, char *errbuf, size_t errsz);
int dash_db_start(char *errbuf, size_t errsz);
/* Sessions (sql/0012): stmt "session_create" (ttl_s, client used), "session_valid" or
 * "session_revoke", for the cookie's SHA-256. 1 done (valid), 0 not valid, -1 the CRM is away. */
int dash_session(const char *stmt, const char *id_sha256, const char *ttl_s, const char *client);
int dash_db_ready(void);

/* sse.c: wa.events fanned out to every connected browser. */
int dash_sse_start(char *errbuf, size_t errsz);
void dash_sse_stop(void);
enum MHD_Result dash_sse_serve(struct MHD_Connection *c);

/* http.c */
struct MHD_Daemon *dash_http_start(char *errbuf, size_t errsz);

struct dash_metrics {
    struct wa_metric *requests, *refused, *bad, *sse_clients, *sse_events, *sse_dropped;
    struct wa_metric *api_seconds;
};
extern struct dash_metrics dash_m;

#endif
