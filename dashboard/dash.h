/* dash.h - what the files of dashboard/ share. */
#ifndef DASHBOARD_H
#define DASHBOARD_H

#include <jansson.h>
#include <microhttpd.h>

#include "plan.h"
#include "wa_metrics.h"
#include "wa_pg.h"
#include "wa_send.h"
#include "wa_edge.h"
#include "wa_tls.h"

struct dash_config {
    const char *listen, *token, *database_url, *kafka_brokers, *topic_events, *web_dir;
    long db_pool, sse_max, sse_buffer;
    long threads;        /* DASHBOARD_THREADS: HTTP threads, each serving many connections */
    long session_s;      /* DASHBOARD_SESSION_S: how long a login lasts at most */
    long session_idle_s; /* DASHBOARD_SESSION_IDLE_S: ... and without a request */
    long cookie_secure; /* DASHBOARD_COOKIE_SECURE: the cookie only over HTTPS (always under TLS) */
    const char *tls_cert, *tls_key; /* DASHBOARD_TLS_CERT / DASHBOARD_TLS_KEY: both or neither */
    /* Replies (POST /api/leads/{id}/reply): the send API they go to and its token (empty:
     * replies are off). */
    const char *send_url, *send_token;
    /* The router's settings the reply preview plans with (router/plan.h): WHATSAPP_PROVIDER,
     * TWILIO_WA_FROM, BAILEYS_CHANNELS, BAILEYS_FAILOVER_TO, REENGAGE_CONTENT_SID. */
    const char *provider_mode, *twilio_from, *baileys_channels, *baileys_failover_to;
    const char *reengage_sid;
    struct rtr_channels channels;
    /* The operator's uploads (upload.c): the largest file (DASHBOARD_MEDIA_MAX_BYTES), where it
     * waits (DASHBOARD_SPOOL_DIR), and the storage it is PUT into (S3_ENDPOINT, S3_BUCKET). */
    long media_max;
    const char *spool_dir, *s3_endpoint, *s3_bucket;
};
extern struct dash_config dash_cfg;
extern struct wa_tls dash_tls;   /* loaded from them at start; off when unset */
extern struct wa_edge dash_edge; /* trusted proxies, the per-address cap, the request deadline */
extern struct wa_media_store dash_store;

/* params.c (pure): query parameters. 0, or -1 with errbuf saying what is wrong.
 * Absent parameters get the defaults (limit 50, minutes 60, no cursor: ""). */
int dash_parse_limit(const char *s, int *out, char *errbuf, size_t errsz);
int dash_parse_id(const char *s, char id[24], char *errbuf, size_t errsz);
int dash_parse_minutes(const char *s, int *out, char *errbuf, size_t errsz);
int dash_parse_lead_cursor(const char *s, char at[24], char id[24], char *errbuf, size_t errsz);
int dash_parse_message_cursor(const char *s, char ts[64], char id[40], char *errbuf, size_t errsz);

/* reply.c (pure): the operator's reply. The page's body {idempotencyKey, type: text|template|media,
 * text | template:{contentSid, variables} | media:{mediaId, caption?}, channel?} as the send API's
 * request to `to` (the key prefixed "dashboard:"): a new object, or NULL with err saying what is
 * wrong. */
#define DASH_REPLY_KEY_MAX 64
#define DASH_REPLY_BODY_MAX 16384
json_t *dash_reply_request(const char *body, size_t len, const char *to, char *err, size_t errsz);
/* The upload of a media reply's file (POST /api/leads/{id}/media): its headers Idempotency-Key
 * (the reply's key), Content-Type (the file's type, may be NULL) and Content-Length (NULL: not
 * announced), checked before a byte is read. 0 with out filled (key "dashboard:<key>", mime
 * lowercased without parameters or "" when the bytes alone decide, length or -1), or -1 with
 * *status (400, 413 announced over max, 415 not a type) and err. */
struct dash_upload_req {
    char key[DASH_REPLY_KEY_MAX + 16];
    char mime[128];
    int64_t length;
    char filename[201]; /* from X-File-Name: see dash_upload_filename ("" none) */
};
int dash_upload_request(const char *key, const char *ctype, const char *length, const char *name,
                        uint64_t max, struct dash_upload_req *out, unsigned *status, char *err,
                        size_t errsz);
/* The header X-File-Name (the page sends the file's name percent-encoded, as
 * encodeURIComponent makes it) as the name a document keeps: decoded, its last path segment,
 * valid UTF-8 without control characters, trimmed, cut at a character to fit outsz. "" when
 * absent or unusable: a name is a nicety, never a reason to refuse the file. */
void dash_upload_filename(const char *hdr, char *out, size_t outsz);
/* A size as the operator reads it: "812 bytes", "20.5 kB", "16.0 MB". */
void dash_size_words(uint64_t n, char *out, size_t outsz);
/* The preview's parameters: kind (text, the default, or template), channel and template (each
 * absent or empty: none). 0, or -1 with err. */
int dash_reply_kind(const char *s, int *is_template, char *err, size_t errsz);
int dash_reply_channel(const char *s, char *err, size_t errsz);
int dash_reply_template(const char *s, char *err, size_t errsz);

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
/* What the router would do with a reply to the lead now (GET /api/leads/{id}/preview): the
 * router's own plan (router/plan.c) over the lead's windows, opt-outs and health in the CRM. */
json_t *dash_preview(const char *lead, const char *kind, const char *channel, const char *tpl,
                     unsigned *status, char *errbuf, size_t errsz);
/* The lead's phone into phone (0), or -1 with *status (400, 404, 503) and errbuf. */
int dash_lead_phone(const char *lead, char *phone, size_t phonesz, unsigned *status, char *errbuf,
                    size_t errsz);
/* An upload's media row, by statement "upload_find" ($1 the reply's key) or "upload_store" (the
 * row, sql/0015): 1 with its id, sha256, type and size, 0 none, -1 with *status 503 and err. */
int dash_upload_row(const char *stmt, int n, const char *const *params, char id[24], char sha[65],
                    char mime[128], char size[24], unsigned *status, char *err, size_t errsz);
int dash_db_start(char *errbuf, size_t errsz);
/* Sessions (sql/0012, 0016): stmt "session_create" (ttl_s: seconds it lasts, client used),
 * "session_valid" (ttl_s: the idle limit) or
 * "session_revoke", for the cookie's SHA-256. 1 done (valid), 0 not valid, -1 the CRM is away. */
int dash_session(const char *stmt, const char *id_sha256, const char *ttl_s, const char *client);
int dash_db_ready(void);

/* sse.c: wa.events fanned out to every connected browser. */
int dash_sse_start(char *errbuf, size_t errsz);
void dash_sse_stop(void);
enum MHD_Result dash_sse_serve(struct MHD_Connection *c);

/* http.c: an API error with its code by status (400 bad_request, counted; 404 not_found; else
 * unavailable) and err as its message. */
enum MHD_Result dash_fail(struct MHD_Connection *c, unsigned status, const char *err);

/* forward.c: the operator's reply for the lead, the page's JSON body, handed to the send API
 * (DASHBOARD_SEND_URL, with Prefer: wait so the router's decision comes back). Its answer is
 * passed on as is (200 with the decision, 202 accepted, 400/409 with the reason); 503 when the
 * API cannot be reached or replies are off, 502 when it refuses the dashboard's token. */
enum MHD_Result dash_reply_forward(struct MHD_Connection *c, const char *lead, const char *body,
                                   size_t len);

/* upload.c: a media reply's file, POST /api/leads/{id}/media (the file as the body). */
struct dash_upload;
/* 1 with the lead's id when url is an upload's. */
int dash_upload_path(const char *url, char lead[24]);
/* Before a byte of the body is read: its headers checked, a spool file made. NULL with *status
 * (400, 413, 415, 503) and err. */
struct dash_upload *dash_upload_begin(struct MHD_Connection *c, const char *lead, unsigned *status,
                                      char *err, size_t errsz);
void dash_upload_data(struct dash_upload *u, const char *p, size_t n);
/* The body has ended: sniffed, stored, recorded; 200 {mediaId, mime, size, sha256, duplicate}, or
 * 400/409/413/415/503 with the reason. */
enum MHD_Result dash_upload_finish(struct MHD_Connection *c, struct dash_upload *u);
void dash_upload_free(struct dash_upload *u);

/* http.c */
struct MHD_Daemon *dash_http_start(char *errbuf, size_t errsz);

struct dash_metrics {
    struct wa_metric *requests, *refused, *bad, *sse_clients, *sse_events, *sse_dropped;
    struct wa_metric *api_seconds, *replies, *uploads;
};
extern struct dash_metrics dash_m;

#endif
