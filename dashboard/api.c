/* api.c - the dashboard's JSON API: leads, a lead's timeline, and the charts' figures, read from
 * the CRM with keyset pagination (a lead with 10,000 messages opens as fast as one with ten). */
#include "dash.h"
#include "wa_channel.h"
#include "wa_log.h"
#include "wa_window.h"
#include "plan.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A lead's windows, one per channel it wrote to, newest first: [[channel, provider, last inbound
 * ms], ...] or NULL. Through contact_channels' primary key (contact_id, channel), so a page of 50
 * leads costs 50 index lookups of a few rows each. */
#define WINDOWS_SQL                                                                                \
    "(SELECT json_agg(json_build_array(w.channel, w.provider, "                                    \
    "   (extract(epoch FROM w.last_inbound_at) * 1000)::bigint) "                                  \
    "   ORDER BY w.last_inbound_at DESC, w.channel) "                                              \
    " FROM contact_channels w WHERE w.contact_id = c.id)"

/* The numbers a lead opted out of (docs/architecture.md §3.5): the latest consent change of each
 * number it has any, when that is an opt-out: [[channel, source, detail, since ms], ...] or NULL.
 * Through the (contact_id, channel, id) index of consent_changes. */
#define OPTOUTS_SQL                                                                                \
    "(SELECT json_agg(json_build_array(o.channel, o.source, o.detail, "                            \
    "   (extract(epoch FROM o.at) * 1000)::bigint) ORDER BY o.channel) "                           \
    " FROM (SELECT DISTINCT ON (x.channel) x.channel, x.opted_out, x.source, x.detail, x.at "      \
    "   FROM consent_changes x WHERE x.contact_id = c.id ORDER BY x.channel, x.id DESC) o "        \
    " WHERE o.opted_out)"

static const struct wa_pg_stmt statements[] = {
    /* A login's session ($1 the cookie's SHA-256, $2 seconds it lasts, $3 the client address);
     * sessions long expired are cleared on the way. */
    {"session_create",
     "WITH old AS (DELETE FROM dashboard_sessions WHERE expires_at < now() - interval '1 day') "
     "INSERT INTO dashboard_sessions (id_sha256, expires_at, client) "
     "VALUES ($1, now() + make_interval(secs => $2::integer), $3)",
     3},
    /* A session in use ($1 its SHA-256, $2 the idle limit in seconds): not revoked, not past
     * its absolute expiry, used within the idle limit; and this use moves its idle clock. */
    {"session_valid",
     "UPDATE dashboard_sessions SET last_seen_at = now() WHERE id_sha256 = $1 "
     "AND revoked_at IS NULL AND expires_at > now() "
     "AND last_seen_at > now() - make_interval(secs => $2::integer) RETURNING 1",
     2},
    {"session_revoke",
     "UPDATE dashboard_sessions SET revoked_at = now() WHERE id_sha256 = $1 AND revoked_at IS NULL",
     1},
    /* The operator's uploads (upload.c, sql/0015): one row per reply's key. A second upload of
     * the same reply returns the first row, whose sha256 tells whether it was the same file. $1
     * the declared type (''), $2 the stored type, $3 size, $4 sha256, $5 bucket, $6 object key,
     * $7 the reply's key, $8 the lead, $9 the file's name (''). */
    {"upload_find", "SELECT id, sha256, mime, size FROM media WHERE upload_key = $1", 1},
    {"upload_store",
     "INSERT INTO media (idx, source, mime_declared, mime, size, sha256, bucket, object_key, "
     "  stored_at, upload_key, contact_id, filename) "
     "VALUES (0, 'dashboard', NULLIF($1, ''), $2, $3::bigint, $4, $5, $6, now(), $7, $8::bigint, "
     "  NULLIF($9, '')) "
     "ON CONFLICT (upload_key) DO UPDATE SET upload_key = EXCLUDED.upload_key "
     "RETURNING id, sha256, mime, size",
     9},
    /* The approved-template catalogue (sql/0011) as last synced, and the sync's state. */
    {"templates",
     "SELECT sid, name, language, category, status, rejection_reason, body, variables::text, "
     "  (extract(epoch FROM synced_at) * 1000)::bigint "
     "FROM templates WHERE removed_at IS NULL ORDER BY status <> 'approved', name",
     0},
    {"template_sync",
     "SELECT (extract(epoch FROM requested_at) * 1000)::bigint, "
     "  (extract(epoch FROM synced_at) * 1000)::bigint, last_count, last_error "
     "FROM template_sync WHERE id = 1",
     0},
    /* Asks sender-twilio for a sync now (it looks every second). */
    {"template_sync_request",
     "UPDATE template_sync SET requested_at = now() WHERE id = 1 "
     "RETURNING (extract(epoch FROM requested_at) * 1000)::bigint",
     0},
    /* $1 search (''), $2 limit, $3 cursor activity (ms, or NULL), $4 cursor id. */
    {"leads",
     "SELECT c.id, c.phone, c.profile_name, c.last_inbound_provider, "
     "  (extract(epoch FROM c.last_inbound_at) * 1000)::bigint, "
     "  (extract(epoch FROM a.at) * 1000)::bigint, "
     "  lm.direction, lm.provider, lm.type, lm.body, lm.status, "
     "  (extract(epoch FROM lm.at) * 1000)::bigint, " WINDOWS_SQL ", " OPTOUTS_SQL ", "
     "  lm.error_code, lm.template_name "
     "FROM contacts c "
     "CROSS JOIN LATERAL (SELECT COALESCE(c.last_message_at, c.created_at) AS at) a "
     "LEFT JOIN LATERAL (SELECT m.direction, m.provider, m.type, m.body, m.status, m.at, "
     "  m.error_code, CASE WHEN m.type = 'template' THEN (SELECT t.name FROM templates t "
     "    WHERE t.sid = m.payload #>> '{template,contentSid}') END AS template_name "
     "  FROM messages m WHERE m.contact_id = c.id ORDER BY m.at DESC, m.id DESC LIMIT 1) "
     "lm "
     "  ON true "
     "WHERE ($1 = '' OR strpos(c.phone, $1) > 0 OR strpos(lower(c.profile_name), lower($1)) > 0) "
     "  AND ($3::bigint IS NULL OR (a.at, c.id) < (to_timestamp($3::bigint / 1000.0), $4::bigint)) "
     "ORDER BY a.at DESC, c.id DESC LIMIT $2::integer",
     4},
    {"lead",
     "SELECT c.id, c.phone, c.profile_name, c.last_inbound_provider, "
     "  (extract(epoch FROM c.last_inbound_at) * 1000)::bigint, " WINDOWS_SQL ", " OPTOUTS_SQL " "
     "FROM contacts c WHERE c.id = $1",
     1},
    /* $1 contact, $2 limit, $3 cursor time (text, or NULL), $4 cursor id. Ordered by when the
     * message happened (sql/0003_timeline.sql), through the (contact_id, at, id) index. */
    {"messages",
     "SELECT m.id, m.direction, m.provider, m.type, m.body, m.status, m.failover, m.error_code, "
     "  m.error_text, m.reason, (extract(epoch FROM m.at) * 1000)::bigint, "
     "  m.at::text, "
     "  (SELECT json_agg(json_build_object('idx', d.idx, 'mime', COALESCE(d.mime, "
     "     d.mime_declared), 'size', d.size, 'bucket', d.bucket, 'key', d.object_key, "
     "     'unavailable', d.unavailable) ORDER BY d.idx) "
     /* An item of the message (inbound), or the stored media a send named (media.mediaId: an
      * operator's upload, sql/0015); a mediaId that is not an id names nothing. */
     "   FROM media d WHERE (d.message_id = m.id OR d.id = CASE WHEN m.direction = 'outbound' "
     "     AND m.payload #>> '{media,mediaId}' ~ '^[1-9][0-9]{0,17}$' "
     "     THEN (m.payload #>> '{media,mediaId}')::bigint END) "
     "     AND (d.stored_at IS NOT NULL OR d.unavailable IS NOT NULL)), "
     "  m.channel, "
     /* The consent change this message made (a keyword, or a send Twilio refused), if any. */
     "  (SELECT json_build_array(k.opted_out, k.channel, k.source, k.detail) "
     "   FROM consent_changes k WHERE k.message_id = m.id ORDER BY k.id LIMIT 1), "
     /* A template's Content SID and values as sent, with the catalogue's name and body when it
      * knows the template (sql/0011). */
     "  CASE WHEN m.type = 'template' THEN json_build_object('sid', "
     "    m.payload #>> '{template,contentSid}', 'variables', m.payload #> '{template,variables}', "
     "    'name', t.name, 'language', t.language, 'body', t.body) END "
     "FROM messages m LEFT JOIN templates t ON m.type = 'template' "
     "  AND t.sid = m.payload #>> '{template,contentSid}' "
     "WHERE m.contact_id = $1::bigint "
     "  AND ($3::timestamptz IS NULL OR (m.at, m.id) < ($3::timestamptz, $4::uuid)) "
     "ORDER BY m.at DESC, m.id DESC LIMIT $2::integer",
     4},
    /* What the reply preview plans with ($1 contact, $2 the template's Content SID or NULL), in
     * the shapes router/plan.c parses (the router's outbound_contact reads the same): phone, the
     * contact's latest inbound and its provider, the provider of its message still on its way,
     * the channels it wrote to, the numbers it opted out of, where this template was refused,
     * the catalogue's word on the template. */
    {"reply_contact",
     "SELECT c.phone, (extract(epoch FROM c.last_inbound_at) * 1000)::bigint, "
     "  c.last_inbound_provider, "
     "  (SELECT provider FROM messages WHERE contact_id = c.id AND direction = 'outbound' "
     "     AND status IN ('queued', 'sending') ORDER BY created_at DESC LIMIT 1), "
     "  (SELECT string_agg(channel || '=' || "
     "       (extract(epoch FROM last_inbound_at) * 1000)::bigint, ',' "
     "       ORDER BY last_inbound_at DESC) "
     "     FROM contact_channels WHERE contact_id = c.id), "
     "  (SELECT string_agg(o.channel || '=' || o.id, ',') FROM (SELECT DISTINCT ON (cc.channel) "
     "       cc.channel, cc.id, cc.opted_out FROM consent_changes cc WHERE cc.contact_id = c.id "
     "       ORDER BY cc.channel, cc.id DESC) AS o WHERE o.opted_out), "
     "  (SELECT string_agg(t.channel, ',') FROM template_refusals t "
     "     WHERE t.contact_id = c.id AND t.content_sid = $2::text), "
     "  (SELECT status || '|' || name || '|' || coalesce(rejection_reason, '') FROM templates "
     "     WHERE sid = $2::text AND removed_at IS NULL) "
     "FROM contacts c WHERE c.id = $1::bigint",
     2},
    /* Each channel's latest merged health (the routers' provider_health rows). */
    {"health_now",
     "SELECT DISTINCT ON (channel) channel, state FROM provider_health "
     "ORDER BY channel, since DESC",
     0},
    /* One row per minute of the window: outbound sent, failovers, latency per provider. */
    {"stats_minutes",
     "WITH b AS (SELECT generate_series(date_trunc('minute', now()) - ($1::integer - 1) * "
     "  interval '1 minute', date_trunc('minute', now()), interval '1 minute') AS t) "
     "SELECT (extract(epoch FROM b.t) * 1000)::bigint, "
     "  count(m.id) FILTER (WHERE m.provider IS NOT NULL), count(m.id) FILTER (WHERE m.failover), "
     "  percentile_cont(0.5) WITHIN GROUP (ORDER BY m.latency_ms) "
     "    FILTER (WHERE m.provider = 'twilio' AND m.latency_ms IS NOT NULL), "
     "  percentile_cont(0.95) WITHIN GROUP (ORDER BY m.latency_ms) "
     "    FILTER (WHERE m.provider = 'twilio' AND m.latency_ms IS NOT NULL), "
     "  percentile_cont(0.5) WITHIN GROUP (ORDER BY m.latency_ms) "
     "    FILTER (WHERE m.provider = 'baileys' AND m.latency_ms IS NOT NULL), "
     "  percentile_cont(0.95) WITHIN GROUP (ORDER BY m.latency_ms) "
     "    FILTER (WHERE m.provider = 'baileys' AND m.latency_ms IS NOT NULL) "
     "FROM b LEFT JOIN messages m ON m.direction = 'outbound' "
     "  AND m.created_at >= b.t AND m.created_at < b.t + interval '1 minute' "
     "GROUP BY b.t ORDER BY b.t",
     1},
    /* Errors per minute by provider and code, from the status history and the refusals. */
    {"stats_errors",
     "SELECT COALESCE(s.provider, 'none'), COALESCE(s.error_code, s.status), "
     "  (extract(epoch FROM date_trunc('minute', s.occurred_at)) * 1000)::bigint, count(*) "
     "FROM message_statuses s "
     "WHERE s.status IN ('failed', 'undelivered', 'unknown') "
     "  AND s.occurred_at >= date_trunc('minute', now()) - ($1::integer - 1) * interval '1 minute' "
     "GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
     1},
    /* Health per channel: each channel's state at the window's start, then its changes. */
    {"stats_health",
     "(SELECT provider, channel, state, reason, (extract(epoch FROM since) * 1000)::bigint FROM ("
     "   SELECT DISTINCT ON (channel) * FROM provider_health "
     "   WHERE since < date_trunc('minute', now()) - ($1::integer - 1) * interval '1 minute' "
     "   ORDER BY channel, since DESC) before) "
     "UNION ALL "
     "(SELECT provider, channel, state, reason, (extract(epoch FROM since) * 1000)::bigint "
     " FROM provider_health "
     " WHERE since >= date_trunc('minute', now()) - ($1::integer - 1) * interval '1 minute') "
     "ORDER BY 5, 2",
     1},
};

/* A few connections shared by the request threads. */
static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct wa_pg *conns;
    int *busy;
    int n;
} pool = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, NULL, NULL, 0};

int dash_db_start(char *errbuf, size_t errsz)
{
    (void)errbuf;
    (void)errsz;
    pool.n = (int)dash_cfg.db_pool;
    pool.conns = wa_xcalloc((size_t)pool.n, sizeof *pool.conns);
    pool.busy = wa_xcalloc((size_t)pool.n, sizeof *pool.busy);
    return 0;
}

static struct wa_pg *take(void)
{
    pthread_mutex_lock(&pool.mu);
    for (;;) {
        for (int i = 0; i < pool.n; i++)
            if (!pool.busy[i]) {
                pool.busy[i] = 1;
                pthread_mutex_unlock(&pool.mu);
                struct wa_pg *pg = &pool.conns[i];
                if (!pg->conn) {
                    char err[256];
                    if (wa_pg_connect(pg, dash_cfg.database_url, statements,
                                      sizeof statements / sizeof statements[0], err,
                                      sizeof err) < 0)
                        wa_warn("postgres: %s", err);
                }
                return pg;
            }
        pthread_cond_wait(&pool.cv, &pool.mu);
    }
}

static void give(struct wa_pg *pg)
{
    pthread_mutex_lock(&pool.mu);
    pool.busy[pg - pool.conns] = 0;
    pthread_cond_signal(&pool.cv);
    pthread_mutex_unlock(&pool.mu);
}

int dash_db_ready(void)
{
    struct wa_pg *pg = take();
    int ok = pg->conn && wa_pg_ok(pg);
    give(pg);
    return ok;
}

static PGresult *query(const char *stmt, int n, const char *const *p, unsigned *status, char *err,
                       size_t errsz)
{
    struct wa_pg *pg = take();
    enum wa_result res = WA_RETRY;
    PGresult *q = pg->conn ? wa_pg_exec(pg, stmt, n, p, &res, err, errsz) : NULL;
    /* A connection the server closed while it sat idle is replaced before use (wa_pg_ok). One
     * lost while the query ran fails it: the dashboard only reads, so it asks once more, on a new
     * connection, and the operator never sees that as an error. */
    if (!q && pg->conn && res == WA_RETRY && PQstatus(pg->conn) != CONNECTION_OK)
        q = wa_pg_exec(pg, stmt, n, p, &res, err, errsz);
    give(pg);
    if (!q) {
        wa_warn("postgres %s: %s", stmt, err);
        *status = 503;
        snprintf(err, errsz, "the CRM is not reachable; retry");
    }
    return q;
}

/* The limit as a SQL parameter, checked by params.c. */
static int parse_limit(const char *s, char *out, unsigned *status, char *err, size_t errsz)
{
    int v;
    if (dash_parse_limit(s, &v, err, errsz) < 0) {
        *status = 400;
        return -1;
    }
    snprintf(out, 12, "%d", v);
    return 0;
}

#define STR(q, r, c) (PQgetisnull(q, r, c) ? json_null() : json_string(PQgetvalue(q, r, c)))
#define INT(q, r, c)                                                                               \
    (PQgetisnull(q, r, c) ? json_null() : json_integer(strtoll(PQgetvalue(q, r, c), NULL, 10)))

/* One channel's window from the row's [channel, provider, last inbound ms]. */
static json_t *window_json(json_t *row, int64_t now)
{
    const char *channel = json_string_value(json_array_get(row, 0));
    int64_t last = json_integer_value(json_array_get(row, 2));
    const char *number = channel ? wa_channel_number(channel) : NULL;
    return json_pack("{s:s?, s:O, s:s?, s:I, s:b}", "channel", channel, "provider",
                     json_array_get(row, 1), "number", number, "closes_ms",
                     (json_int_t)wa_window_closes_ms(last), "open", wa_window_open(last, now));
}

/* The column's aggregated windows (WINDOWS_SQL), each computed by wa_window_*: the countdown is
 * defined in one place, whatever reads it. */
static json_t *windows_json(PGresult *q, int r, int c, int64_t now)
{
    json_t *out = json_array();
    json_t *rows = PQgetisnull(q, r, c) ? NULL : json_loads(PQgetvalue(q, r, c), 0, NULL);
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row) json_array_append_new(out, window_json(row, now));
    json_decref(rows);
    return out;
}

/* The provider part of a channel id ("twilio" of "twilio:+1..."), into buf. */
static const char *provider_of(const char *channel, char *buf, size_t bufsz)
{
    return channel && wa_channel_parse(channel, buf, bufsz) == 0 ? buf : NULL;
}

/* A consent change's detail under its own name: the keyword, or Twilio's error code. */
static void set_detail(json_t *o, const char *source, json_t *detail)
{
    int keyword = source && strcmp(source, "keyword") == 0;
    json_object_set(o, keyword ? "keyword" : "error_code", detail ? detail : json_null());
}

/* The numbers the lead opted out of (OPTOUTS_SQL), each as {channel, provider, number, source,
 * keyword | error_code, since_ms}. */
static json_t *optouts_json(PGresult *q, int r, int c)
{
    json_t *out = json_array();
    json_t *rows = PQgetisnull(q, r, c) ? NULL : json_loads(PQgetvalue(q, r, c), 0, NULL);
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row)
    {
        const char *channel = json_string_value(json_array_get(row, 0));
        const char *source = json_string_value(json_array_get(row, 1));
        char provider[16];
        json_t *o = json_pack("{s:s?, s:s?, s:s?, s:s?, s:O}", "channel", channel, "provider",
                              provider_of(channel, provider, sizeof provider), "number",
                              channel ? wa_channel_number(channel) : NULL, "source", source,
                              "since_ms", json_array_get(row, 3));
        set_detail(o, source, json_array_get(row, 2));
        json_array_append_new(out, o);
    }
    json_decref(rows);
    return out;
}

/* The consent change a message made: {action: optout|optin, channel, source, keyword |
 * error_code}, or null. */
static json_t *consent_json(PGresult *q, int r, int c)
{
    json_t *row = PQgetisnull(q, r, c) ? NULL : json_loads(PQgetvalue(q, r, c), 0, NULL);
    if (!row) return json_null();
    const char *source = json_string_value(json_array_get(row, 2));
    json_t *o = json_pack("{s:s, s:O, s:s?}", "action",
                          json_is_true(json_array_get(row, 0)) ? "optout" : "optin", "channel",
                          json_array_get(row, 1), "source", source);
    set_detail(o, source, json_array_get(row, 3));
    json_decref(row);
    return o;
}

/* The lead as both endpoints show it: the windows are computed here, at read time. The contact's
 * own window (contacts.last_inbound_at, the newest of its channels') stays for older clients. */
static json_t *lead_json(PGresult *q, int r, int windows_col)
{
    json_t *o = json_object();
    json_object_set_new(o, "id", INT(q, r, 0));
    json_object_set_new(o, "phone", STR(q, r, 1));
    json_object_set_new(o, "name", STR(q, r, 2));
    json_object_set_new(o, "last_inbound_provider", STR(q, r, 3));
    int64_t last = PQgetisnull(q, r, 4) ? 0 : strtoll(PQgetvalue(q, r, 4), NULL, 10);
    int64_t closes = wa_window_closes_ms(last), now = wa_wall_ms();
    json_object_set_new(o, "window_open", json_boolean(wa_window_open(last, now)));
    json_object_set_new(o, "window_closes_ms", closes ? json_integer(closes) : json_null());
    json_object_set_new(o, "windows", windows_json(q, r, windows_col, now));
    /* The column after the windows: the numbers it opted out of. */
    json_object_set_new(o, "optouts", optouts_json(q, r, windows_col + 1));
    return o;
}

json_t *dash_leads(const char *q, const char *limit, const char *cursor, unsigned *status,
                   char *err, size_t errsz)
{
    char lim[12], cat[24] = "", cid[24] = "";
    if (parse_limit(limit, lim, status, err, errsz) < 0) return NULL;
    if (q && strlen(q) > 100) {
        *status = 400;
        snprintf(err, errsz, "q is longer than 100 characters");
        return NULL;
    }
    if (dash_parse_lead_cursor(cursor, cat, cid, err, errsz) < 0) {
        *status = 400;
        return NULL;
    }
    const char *p[] = {q ? q : "", lim, cat[0] ? cat : NULL, cid[0] ? cid : NULL};
    PGresult *r = query("leads", 4, p, status, err, errsz);
    if (!r) return NULL;
    json_t *leads = json_array();
    int n = PQntuples(r);
    for (int i = 0; i < n; i++) {
        json_t *o = lead_json(r, i, 12);
        if (!PQgetisnull(r, i, 6)) {
            json_t *lm = json_object();
            json_object_set_new(lm, "direction", STR(r, i, 6));
            json_object_set_new(lm, "provider", STR(r, i, 7));
            json_object_set_new(lm, "type", STR(r, i, 8));
            json_object_set_new(lm, "text", STR(r, i, 9));
            json_object_set_new(lm, "status", STR(r, i, 10));
            json_object_set_new(lm, "error_code", STR(r, i, 14));
            json_object_set_new(lm, "template_name", STR(r, i, 15));
            json_object_set_new(lm, "at_ms", INT(r, i, 11));
            json_object_set_new(o, "last_message", lm);
        } else {
            json_object_set_new(o, "last_message", json_null());
        }
        json_array_append_new(leads, o);
    }
    json_t *next = json_null();
    if (n == atoi(lim)) {
        char c[64];
        snprintf(c, sizeof c, "%s_%s", PQgetvalue(r, n - 1, 5), PQgetvalue(r, n - 1, 0));
        next = json_string(c);
    }
    PQclear(r);
    return json_pack("{s:o, s:o}", "leads", leads, "next", next);
}

json_t *dash_messages(const char *lead, const char *limit, const char *cursor, unsigned *status,
                      char *err, size_t errsz)
{
    char lim[12];
    if (parse_limit(limit, lim, status, err, errsz) < 0) return NULL;
    char id[24];
    if (dash_parse_id(lead, id, err, errsz) < 0) {
        *status = 400;
        return NULL;
    }
    lead = id;
    /* Cursor: "<the message time as text>|<uuid>". */
    char ts[64], mid[40];
    if (dash_parse_message_cursor(cursor, ts, mid, err, errsz) < 0) {
        *status = 400;
        return NULL;
    }
    const char *lp[] = {lead};
    PGresult *c = query("lead", 1, lp, status, err, errsz);
    if (!c) return NULL;
    if (PQntuples(c) == 0) {
        PQclear(c);
        *status = 404;
        snprintf(err, errsz, "no such lead");
        return NULL;
    }
    json_t *contact = lead_json(c, 0, 5);
    PQclear(c);
    const char *p[] = {lead, lim, ts[0] ? ts : NULL, mid[0] ? mid : NULL};
    PGresult *r = query("messages", 4, p, status, err, errsz);
    if (!r) {
        json_decref(contact);
        return NULL;
    }
    json_t *msgs = json_array();
    int n = PQntuples(r);
    for (int i = 0; i < n; i++) {
        json_t *m = json_object();
        json_object_set_new(m, "id", STR(r, i, 0));
        json_object_set_new(m, "direction", STR(r, i, 1));
        json_object_set_new(m, "provider", STR(r, i, 2));
        json_object_set_new(m, "type", STR(r, i, 3));
        json_object_set_new(m, "text", STR(r, i, 4));
        json_object_set_new(m, "status", STR(r, i, 5));
        json_object_set_new(m, "failover", json_boolean(PQgetvalue(r, i, 6)[0] == 't'));
        json_object_set_new(m, "error_code", STR(r, i, 7));
        json_object_set_new(m, "error_text", STR(r, i, 8));
        json_object_set_new(m, "reason", STR(r, i, 9));
        json_object_set_new(m, "created_ms", INT(r, i, 10));
        json_object_set_new(m, "channel", STR(r, i, 13));
        json_object_set_new(m, "consent", consent_json(r, i, 14));
        json_t *tpl = PQgetisnull(r, i, 15) ? NULL : json_loads(PQgetvalue(r, i, 15), 0, NULL);
        json_object_set_new(m, "template", tpl ? tpl : json_null());
        json_t *media = json_array();
        json_t *rows = PQgetisnull(r, i, 12) ? NULL : json_loads(PQgetvalue(r, i, 12), 0, NULL);
        size_t k;
        json_t *d;
        json_array_foreach(rows, k, d)
        {
            char why[256];
            const char *unavailable = json_string_value(json_object_get(d, "unavailable"));
            /* Short-lived, so a leaked page does not leak the files for long. */
            char *url =
                unavailable
                    ? NULL
                    : wa_media_presign(&dash_store, json_string_value(json_object_get(d, "bucket")),
                                       json_string_value(json_object_get(d, "key")), NULL, why,
                                       sizeof why);
            json_array_append_new(media, json_pack("{s:O, s:O, s:O, s:s?, s:s*}", "idx",
                                                   json_object_get(d, "idx"), "mime",
                                                   json_object_get(d, "mime"), "size",
                                                   json_object_get(d, "size"), "url", url,
                                                   "unavailable", unavailable));
            free(url);
        }
        json_decref(rows);
        json_object_set_new(m, "media", media);
        json_array_append_new(msgs, m);
    }
    json_t *next = json_null();
    if (n == atoi(lim)) {
        char cur[128];
        snprintf(cur, sizeof cur, "%s|%s", PQgetvalue(r, n - 1, 11), PQgetvalue(r, n - 1, 0));
        next = json_string(cur);
    }
    PQclear(r);
    return json_pack("{s:o, s:o, s:o}", "contact", contact, "messages", msgs, "next", next);
}

static json_t *num(PGresult *q, int r, int c)
{
    return PQgetisnull(q, r, c) ? json_null() : json_real(strtod(PQgetvalue(q, r, c), NULL));
}

json_t *dash_stats(const char *minutes, unsigned *status, char *err, size_t errsz)
{
    int m;
    if (dash_parse_minutes(minutes, &m, err, errsz) < 0) {
        *status = 400;
        return NULL;
    }
    char ms[12];
    snprintf(ms, sizeof ms, "%d", m);
    const char *p[] = {ms};
    PGresult *a = query("stats_minutes", 1, p, status, err, errsz);
    if (!a) return NULL;
    json_t *buckets = json_array(), *fo = json_array(), *outbound = json_array();
    json_t *tw50 = json_array(), *tw95 = json_array(), *bl50 = json_array(), *bl95 = json_array();
    int n = PQntuples(a);
    for (int i = 0; i < n; i++) {
        json_array_append_new(buckets, json_integer(strtoll(PQgetvalue(a, i, 0), NULL, 10)));
        long total = atol(PQgetvalue(a, i, 1)), failed_over = atol(PQgetvalue(a, i, 2));
        json_array_append_new(outbound, json_integer(total));
        json_array_append_new(fo, total ? json_real(100.0 * (double)failed_over / (double)total)
                                        : json_null());
        json_array_append_new(tw50, num(a, i, 3));
        json_array_append_new(tw95, num(a, i, 4));
        json_array_append_new(bl50, num(a, i, 5));
        json_array_append_new(bl95, num(a, i, 6));
    }
    PQclear(a);
    json_t *errors = json_array();
    PGresult *e = query("stats_errors", 1, p, status, err, errsz);
    if (e) {
        json_t *cur = NULL;
        for (int i = 0; i < PQntuples(e); i++) {
            const char *prov = PQgetvalue(e, i, 0), *code = PQgetvalue(e, i, 1);
            if (!cur || strcmp(json_string_value(json_object_get(cur, "provider")), prov) != 0 ||
                strcmp(json_string_value(json_object_get(cur, "code")), code) != 0) {
                json_t *counts = json_array();
                for (int k = 0; k < n; k++)
                    json_array_append_new(counts, json_integer(0));
                cur =
                    json_pack("{s:s, s:s, s:o}", "provider", prov, "code", code, "counts", counts);
                json_array_append_new(errors, cur);
            }
            int64_t t = strtoll(PQgetvalue(e, i, 2), NULL, 10);
            for (int k = 0; k < n; k++)
                if (json_integer_value(json_array_get(buckets, (size_t)k)) == t)
                    json_array_set_new(json_object_get(cur, "counts"), (size_t)k,
                                       json_integer(atol(PQgetvalue(e, i, 3))));
        }
        PQclear(e);
    }
    json_t *health = json_array();
    PGresult *h = query("stats_health", 1, p, status, err, errsz);
    if (h) {
        for (int i = 0; i < PQntuples(h); i++) {
            const char *channel = PQgetvalue(h, i, 1), *number = wa_channel_number(channel);
            json_array_append_new(
                health,
                json_pack("{s:s, s:s, s:o, s:s, s:s, s:I}", "provider", PQgetvalue(h, i, 0),
                          "channel", channel, "number", number ? json_string(number) : json_null(),
                          "state", PQgetvalue(h, i, 2), "reason", PQgetvalue(h, i, 3), "since_ms",
                          (json_int_t)strtoll(PQgetvalue(h, i, 4), NULL, 10)));
        }
        PQclear(h);
    }
    return json_pack("{s:o, s:o, s:o, s:{s:{s:o, s:o}, s:{s:o, s:o}}, s:o, s:o}", "buckets_ms",
                     buckets, "outbound", outbound, "failover_pct", fo, "latency", "twilio", "p50",
                     tw50, "p95", tw95, "baileys", "p50", bl50, "p95", bl95, "errors", errors,
                     "health", health);
}

static json_t *text_or_null(PGresult *q, int r, int c)
{
    return PQgetisnull(q, r, c) ? json_null() : json_string(PQgetvalue(q, r, c));
}

static json_t *sync_json(PGresult *q)
{
    if (!q || PQntuples(q) != 1) return json_null();
    return json_pack("{s:o, s:o, s:o, s:o}", "requestedAtMs", num(q, 0, 0), "syncedAtMs",
                     num(q, 0, 1), "count", num(q, 0, 2), "error", text_or_null(q, 0, 3));
}

json_t *dash_templates(unsigned *status, char *err, size_t errsz)
{
    PGresult *q = query("templates", 0, NULL, status, err, errsz);
    if (!q) return NULL;
    json_t *list = json_array();
    for (int r = 0; r < PQntuples(q); r++) {
        json_t *vars = PQgetisnull(q, r, 7) ? NULL : json_loads(PQgetvalue(q, r, 7), 0, NULL);
        json_array_append_new(
            list,
            json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "sid", text_or_null(q, r, 0),
                      "name", text_or_null(q, r, 1), "language", text_or_null(q, r, 2), "category",
                      text_or_null(q, r, 3), "status", text_or_null(q, r, 4), "rejectionReason",
                      text_or_null(q, r, 5), "body", text_or_null(q, r, 6), "variables",
                      vars ? vars : json_object(), "syncedAtMs", num(q, r, 8)));
    }
    PQclear(q);
    PGresult *s = query("template_sync", 0, NULL, status, err, errsz);
    json_t *o = json_pack("{s:o, s:o}", "templates", list, "sync", sync_json(s));
    PQclear(s);
    *status = 200;
    return o;
}

json_t *dash_templates_sync(unsigned *status, char *err, size_t errsz)
{
    PGresult *q = query("template_sync_request", 0, NULL, status, err, errsz);
    if (!q) return NULL;
    json_t *o = json_pack("{s:b, s:o}", "requested", 1, "requestedAtMs", num(q, 0, 0));
    PQclear(q);
    *status = 202;
    return o;
}

int dash_session(const char *stmt, const char *id_sha256, const char *ttl_s, const char *client)
{
    unsigned status = 500;
    char err[256];
    const char *p[] = {id_sha256, ttl_s, client};
    int n = strcmp(stmt, "session_create") == 0 ? 3 : strcmp(stmt, "session_valid") == 0 ? 2 : 1;
    PGresult *q = query(stmt, n, p, &status, err, sizeof err);
    if (!q) return -1;
    int rows = strcmp(stmt, "session_valid") == 0 ? PQntuples(q) : 1;
    PQclear(q);
    return rows > 0;
}

int dash_upload_row(const char *stmt, int n, const char *const *params, char id[24], char sha[65],
                    char mime[128], char size[24], unsigned *status, char *err, size_t errsz)
{
    PGresult *q = query(stmt, n, params, status, err, errsz);
    if (!q) return -1;
    int found = PQntuples(q) == 1;
    if (found) {
        snprintf(id, 24, "%s", PQgetvalue(q, 0, 0));
        snprintf(sha, 65, "%s", PQgetvalue(q, 0, 1));
        snprintf(mime, 128, "%s", PQgetvalue(q, 0, 2));
        snprintf(size, 24, "%s", PQgetvalue(q, 0, 3));
    }
    PQclear(q);
    return found;
}

int dash_lead_phone(const char *lead, char *phone, size_t phonesz, unsigned *status, char *err,
                    size_t errsz)
{
    char id[24];
    if (dash_parse_id(lead, id, err, errsz) < 0) {
        *status = 400;
        return -1;
    }
    const char *p[] = {id};
    PGresult *q = query("lead", 1, p, status, err, errsz);
    if (!q) return -1;
    int found = PQntuples(q) == 1;
    if (found) snprintf(phone, phonesz, "%s", PQgetvalue(q, 0, 1));
    PQclear(q);
    if (!found) {
        *status = 404;
        snprintf(err, errsz, "no such lead");
        return -1;
    }
    return 0;
}

/* A channel's latest merged state in the health_now rows: UNKNOWN (no live instance) or no row
 * at all says nothing about now. */
static enum rtr_health_now row_now(const char *channel, void *ctx)
{
    PGresult *h = ctx;
    for (int i = 0; h && i < PQntuples(h); i++)
        if (strcmp(PQgetvalue(h, i, 0), channel) == 0) {
            const char *state = PQgetvalue(h, i, 1);
            return strcmp(state, "UP") == 0        ? RTR_NOW_UP
                   : strcmp(state, "UNKNOWN") == 0 ? RTR_NOW_NONE
                                                   : RTR_NOW_NOT_UP;
        }
    return RTR_NOW_NONE;
}

/* A channel's merged health is UP, from the health_now rows in ctx, judged as the router judges
 * it (rtr_channel_judge: with no live report of its own, by its provider's default channel). */
static int health_up(const char *channel, void *ctx)
{
    return rtr_channel_judged_up(channel, row_now, ctx);
}

static json_t *channel_or_null(const char *c)
{
    return c && c[0] ? json_string(c) : json_null();
}

/* The channels a reply may name: Twilio's numbers (or the bare provider when none is
 * configured), the Baileys sessions (likewise), then the numbers the contact wrote to that the
 * router takes too (with one bridge and no BAILEYS_CHANNELS, its number as the contact saw it). */
static json_t *reply_channels(const struct rtr_contact *ct)
{
    const struct rtr_channels *cfg = &dash_cfg.channels;
    json_t *a = json_array();
    if (cfg->n_twilio == 0) json_array_append_new(a, json_string(cfg->twilio_default));
    for (int i = 0; i < cfg->n_twilio; i++)
        json_array_append_new(a, json_string(cfg->twilio[i]));
    if (cfg->n_baileys == 0) json_array_append_new(a, json_string(cfg->baileys_default));
    for (int i = 0; i < cfg->n_baileys; i++)
        json_array_append_new(a, json_string(cfg->baileys[i]));
    for (size_t i = 0; i < ct->n_seen; i++) {
        const char *c = ct->seen[i].channel;
        int listed = 0;
        for (size_t k = 0; k < json_array_size(a); k++)
            listed |= strcmp(json_string_value(json_array_get(a, k)), c) == 0;
        if (!listed && rtr_channel_known(cfg, c)) json_array_append_new(a, json_string(c));
    }
    return a;
}

json_t *dash_preview(const char *lead, const char *kind, const char *channel, const char *tpl,
                     unsigned *status, char *err, size_t errsz)
{
    char id[24];
    int is_template;
    if (dash_parse_id(lead, id, err, errsz) < 0 ||
        dash_reply_kind(kind, &is_template, err, errsz) < 0 ||
        dash_reply_channel(channel, err, errsz) < 0 || dash_reply_template(tpl, err, errsz) < 0) {
        *status = 400;
        return NULL;
    }
    if (channel && !channel[0]) channel = NULL;
    if (tpl && !tpl[0]) tpl = NULL;
    if (!is_template) tpl = NULL;
    const char *p[] = {id, tpl};
    PGresult *c = query("reply_contact", 2, p, status, err, errsz);
    if (!c) return NULL;
    if (PQntuples(c) != 1) {
        PQclear(c);
        *status = 404;
        snprintf(err, errsz, "no such lead");
        return NULL;
    }
    PGresult *h = query("health_now", 0, NULL, status, err, errsz);
    if (!h) {
        PQclear(c);
        return NULL;
    }
#define COL(i) (PQgetisnull(c, 0, i) ? NULL : PQgetvalue(c, 0, i))
    struct rtr_contact *ct = wa_xcalloc(1, sizeof *ct);
    int64_t last_ms = PQgetisnull(c, 0, 1) ? 0 : strtoll(PQgetvalue(c, 0, 1), NULL, 10);
    rtr_contact_parse(ct, COL(4), last_ms, COL(2), COL(5), COL(6));
    const char *pending = COL(3);
    struct rtr_plan_in in = {
        .mode = rtr_mode_of(dash_cfg.provider_mode),
        .channel = channel,
        /* A template reply names one; the preview of a template not chosen yet plans as one. */
        .has_template = is_template,
        .reengage = dash_cfg.reengage_sid && dash_cfg.reengage_sid[0],
        .pending = !pending                          ? RTR_NONE
                   : strcmp(pending, "twilio") == 0  ? RTR_TWILIO
                   : strcmp(pending, "baileys") == 0 ? RTR_BAILEYS
                                                     : RTR_NONE,
        .seen = ct->seen,
        .n_seen = ct->n_seen,
        .now_ms = wa_wall_ms(),
        .up = health_up,
        .ctx = h,
        .cfg = &dash_cfg.channels,
        .optouts = ct->optouts,
        .n_optouts = ct->n_optouts,
        .confirms = 0, /* an operator's reply is never an opt-out's confirmation */
        .refused = ct->refused,
        .n_refused = ct->n_refused,
    };
    struct rtr_plan plan = rtr_plan(&in);
    char reason[600];
    rtr_template_check(&plan, COL(7), tpl, reason, sizeof reason);
    const struct rtr_route *rt = &plan.route;
    const char *code = rtr_plan_code(&plan);
    const char *outcome = code ? "refused" : rt->hold ? "hold" : "send";
    json_t *o = json_pack(
        "{s:s, s:s, s:s, s:o, s:o, s:b, s:o, s:o, s:o, s:s, s:b, s:o, s:b}", "to",
        PQgetvalue(c, 0, 0), "kind", is_template ? "template" : "text", "outcome", outcome,
        "provider",
        rt->provider == RTR_NONE ? json_null() : json_string(rtr_provider_name(rt->provider)),
        "channel", channel_or_null(plan.channel), "failover", rt->failover, "failover_channel",
        channel_or_null(plan.failover_channel), "window_until_ms",
        plan.window_until_ms ? json_integer(plan.window_until_ms) : json_null(), "code",
        code ? json_string(code) : json_null(), "reason", rt->reason ? rt->reason : "",
        "outside_window", rt->outside_window || rt->hold, "channels", reply_channels(ct), "replies",
        dash_cfg.send_token && dash_cfg.send_token[0]);
#undef COL
    free(ct);
    PQclear(h);
    PQclear(c);
    *status = 200;
    return o;
}
