/* templates.c - the approved-template catalogue: a thread that reads Twilio's Content API
 * (GET <TWILIO_CONTENT_URL>/v1/ContentAndApprovals, every page) into the templates table, every
 * TEMPLATE_SYNC_S and whenever a sync is asked for (template_sync.requested_at: the send API's
 * POST /api/whatsapp/templates/sync). One instance syncs at a time: the template_sync row is
 * claimed first. Each sync ends with a template.sync event, through the outbox. */
#include "sender_twilio.h"
#include "wa_form.h"
#include "wa_log.h"
#include "wa_pg.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define PAGE_SIZE 200
#define MAX_PAGES 100 /* 20,000 templates: far past any account's */

static const struct wa_pg_stmt stmts[] = {
    /* Claims the sync when one is due: asked for since the last one, or the period has passed
     * (0: only when asked); and no other instance is in one (or it died over 2 minutes ago).
     * Returns when it starts, by the server's clock. */
    {"tpl_claim",
     "UPDATE template_sync SET started_at = clock_timestamp() WHERE id = 1 "
     "AND (synced_at IS NULL OR requested_at > synced_at "
     "     OR ($1::integer > 0 AND synced_at < now() - make_interval(secs => $1::integer))) "
     "AND (started_at IS NULL OR started_at <= synced_at "
     "     OR started_at < now() - interval '2 minutes') "
     "RETURNING started_at::text",
     1},
    /* One template as listed. $1 sid .. $9 types. */
    {"tpl_upsert",
     "INSERT INTO templates (sid, name, language, category, status, rejection_reason, body, "
     "  variables, content_types, synced_at, removed_at) "
     "VALUES ($1, $2, NULLIF($3, ''), NULLIF($4, ''), $5, NULLIF($6, ''), $7, $8::jsonb, "
     "  $9::jsonb, now(), NULL) "
     "ON CONFLICT (sid) DO UPDATE SET name = $2, language = NULLIF($3, ''), "
     "  category = NULLIF($4, ''), status = $5, rejection_reason = NULLIF($6, ''), body = $7, "
     "  variables = $8::jsonb, content_types = $9::jsonb, synced_at = now(), removed_at = NULL",
     9},
    /* The end of a sync started at $1: what was not listed again is gone; the event says what
     * the catalogue holds now. $2 how many were listed, $3 the events topic. */
    {"tpl_done",
     "WITH gone AS ("
     "  UPDATE templates SET removed_at = now() "
     "  WHERE synced_at < $1::timestamptz AND removed_at IS NULL RETURNING sid"
     "), done AS ("
     "  UPDATE template_sync SET synced_at = now(), last_count = $2::integer, last_error = NULL "
     "  WHERE id = 1 RETURNING 1"
     ") "
     "INSERT INTO outbox (topic, key, payload) SELECT $3, 'templates', jsonb_build_object("
     "  'v', 1, 'type', 'template.sync', 'at_ms', (extract(epoch FROM now()) * 1000)::bigint, "
     "  'listed', $2::integer, 'removed', (SELECT count(*) FROM gone), "
     "  'approved', (SELECT count(*) FROM templates WHERE removed_at IS NULL "
     "     AND status = 'approved' AND sid <> ALL (SELECT sid FROM gone))) "
     "FROM done",
     3},
    {"tpl_failed", "UPDATE template_sync SET started_at = NULL, last_error = $1 WHERE id = 1", 1},
};

static pthread_t thread;
static int started;

/* A next_page_url is followed only on the Content API's own origin: a page cannot send our
 * credentials elsewhere. */
static int same_origin(const char *url)
{
    size_t n = strlen(stw_cfg.content_base);
    while (n && stw_cfg.content_base[n - 1] == '/')
        n--;
    return strncmp(url, stw_cfg.content_base, n) == 0 && url[n] == '/';
}

/* Fetches every page and upserts each template inside the open transaction. Returns how many
 * were listed, or -1 with err. */
static int sync_pages(CURL *h, struct wa_pg *pg, char *err, size_t errsz)
{
    char url[2048], userpwd[256];
    snprintf(url, sizeof url, "%s/v1/ContentAndApprovals?PageSize=%d", stw_cfg.content_base,
             PAGE_SIZE);
    snprintf(userpwd, sizeof userpwd, "%s:%s", stw_cfg.account_sid, stw_cfg.auth_token);
    int listed = 0;
    for (int page = 0; url[0]; page++) {
        if (page == MAX_PAGES) {
            snprintf(err, errsz, "more than %d pages: stopped", MAX_PAGES);
            return -1;
        }
        struct wa_client_result r;
        wa_client_call(h, "GET", url, NULL, NULL, 0, userpwd, stw_cfg.connect_timeout_ms,
                       stw_cfg.timeout_ms, &r);
        if (r.status != 200) {
            /* The URL is ours, or checked to be on our origin: the page number says which. */
            if (r.status)
                snprintf(err, errsz, "page %d of the Content API: HTTP %ld", page + 1, r.status);
            else
                snprintf(err, errsz, "page %d of the Content API: %s", page + 1, r.error);
            wa_buf_free(&r.body);
            return -1;
        }
        struct stw_template t[PAGE_SIZE];
        char next[2048];
        int n =
            stw_content_page(r.body.data, r.body.len, t, PAGE_SIZE, next, sizeof next, err, errsz);
        wa_buf_free(&r.body);
        if (n < 0) return -1;
        int failed = 0;
        for (int i = 0; i < n; i++) {
            if (!failed) {
                const char *p[] = {t[i].sid,      t[i].name,      t[i].language,
                                   t[i].category, t[i].status,    t[i].rejection_reason,
                                   t[i].body,     t[i].variables, t[i].types};
                enum wa_result res;
                PGresult *q = wa_pg_exec(pg, "tpl_upsert", 9, p, &res, err, errsz);
                if (!q) failed = 1;
                PQclear(q);
            }
            stw_template_free(&t[i]);
        }
        if (failed) return -1;
        listed += n;
        if (next[0] && !same_origin(next)) {
            snprintf(err, errsz, "a next_page_url off %.200s: not followed", stw_cfg.content_base);
            return -1;
        }
        snprintf(url, sizeof url, "%s", next);
    }
    return listed;
}

/* Returns 0 when nothing was due or the sync went through, -1 when it failed. */
static int sync_once(CURL *h, struct wa_pg *pg)
{
    char err[512], period[24];
    snprintf(period, sizeof period, "%ld", stw_cfg.template_sync_s);
    const char *cp[] = {period};
    enum wa_result res;
    PGresult *c = wa_pg_exec(pg, "tpl_claim", 1, cp, &res, err, sizeof err);
    if (!c) {
        wa_debug("template sync: postgres %s", err);
        return -1;
    }
    if (PQntuples(c) != 1) {
        PQclear(c);
        return 0; /* not due, or another instance is on it */
    }
    char since[64];
    snprintf(since, sizeof since, "%s", PQgetvalue(c, 0, 0));
    PQclear(c);
    int listed = -1;
    if (wa_pg_begin(pg, err, sizeof err) == WA_OK) {
        listed = sync_pages(h, pg, err, sizeof err);
        if (listed >= 0) {
            char n[24];
            snprintf(n, sizeof n, "%d", listed);
            const char *dp[] = {since, n, stw_cfg.topic_events};
            PGresult *d = wa_pg_exec(pg, "tpl_done", 3, dp, &res, err, sizeof err);
            if (!d || wa_pg_commit(pg, err, sizeof err) != WA_OK) listed = -1;
            PQclear(d);
        }
        if (listed < 0) wa_pg_rollback(pg);
    }
    if (listed < 0) {
        wa_warn("template sync failed: %s", err);
        char why[512];
        wa_utf8_copy(why, sizeof why, err);
        const char *fp[] = {why};
        PQclear(wa_pg_exec(pg, "tpl_failed", 1, fp, &res, err, sizeof err));
        return -1;
    }
    wa_info("template sync: %d templates listed by %s", listed, stw_cfg.content_base);
    return 0;
}

static void *loop(void *arg)
{
    (void)arg;
    CURL *h = curl_easy_init();
    struct wa_pg pg = {0};
    while (wa_running()) {
        char err[256];
        int failed = 1;
        if (pg.conn || wa_pg_connect(&pg, stw_cfg.database_url, stmts,
                                     sizeof stmts / sizeof stmts[0], err, sizeof err) == 0)
            failed = sync_once(h, &pg) < 0;
        /* A request is seen within a second; after a failure, the next try waits 30 s. */
        for (int i = 0; i < (failed ? 300 : 10) && wa_running(); i++)
            wa_sleep_ms(100);
    }
    wa_pg_close(&pg);
    curl_easy_cleanup(h);
    return NULL;
}

int stw_templates_start(char *err, size_t errsz)
{
    if (pthread_create(&thread, NULL, loop, NULL) != 0) {
        snprintf(err, errsz, "cannot start the template sync thread");
        return -1;
    }
    started = 1;
    return 0;
}

void stw_templates_stop(void)
{
    if (started) pthread_join(thread, NULL);
    started = 0;
}
