/* job.c - one record of wa.media: a job is fetched, stored, recorded once; results are skipped. */
#include "media.h"
#include "wa_backoff.h"
#include "wa_event.h"
#include "wa_kafka.h"
#include "wa_log.h"
#include "wa_media.h"
#include "wa_outbound.h"
#include "wa_s3.h"

#include <stdlib.h>
#include <string.h>

struct mw_metrics mw_m;

const struct wa_pg_stmt mw_statements[] = {
    {"media_done",
     "SELECT 1 FROM media WHERE message_id = $1::uuid AND idx = $2::integer "
     "AND stored_at IS NOT NULL",
     2},
    /* The row, its timeline event and the "stored" result on wa.media, in one
     * transaction; a repeat changes nothing. Both records go out through the
     * outbox (the router publishes it), so a Kafka outage right after the
     * commit loses neither. $1 message, $2 idx, $3 source, $4 url, $5 declared,
     * $6 mime, $7 size, $8 sha256, $9 bucket, $10 key, $11 events topic,
     * $12 event, $13 media topic. */
    {"media_store",
     "WITH r AS ("
     "  INSERT INTO media (message_id, idx, source, source_url, mime_declared, mime, size, "
     "    sha256, bucket, object_key, stored_at) "
     "  VALUES ($1::uuid, $2::integer, $3, $4, $5, $6, $7::bigint, $8, $9, $10, now()) "
     "  ON CONFLICT (message_id, idx) DO UPDATE SET mime = EXCLUDED.mime, size = EXCLUDED.size, "
     "    sha256 = EXCLUDED.sha256, bucket = EXCLUDED.bucket, object_key = EXCLUDED.object_key, "
     "    stored_at = EXCLUDED.stored_at WHERE media.stored_at IS NULL "
     "  RETURNING id"
     "), e AS ("
     "  INSERT INTO outbox (topic, key, payload) "
     "  SELECT t.topic, substr(c.phone, 2), $12::jsonb || jsonb_build_object('media_id', r.id, "
     "    'contact', jsonb_build_object('id', c.id, 'phone', c.phone)) || t.extra "
     "  FROM r, messages m JOIN contacts c ON c.id = m.contact_id, "
     "    (VALUES ($11, '{}'::jsonb), ($13, '{\"type\":\"stored\"}'::jsonb)) AS t(topic, extra) "
     "  WHERE m.id = $1::uuid "
     "  RETURNING 1"
     ") SELECT (SELECT id FROM r)",
     13},
};
const size_t mw_nstatements = sizeof mw_statements / sizeof mw_statements[0];

static int decode(const rd_kafka_message_t *m, json_t **root, struct mw_job *j, int *is_job,
                  char *err, size_t errsz)
{
    json_error_t je;
    memset(j, 0, sizeof *j);
    *root = json_loadb(m->payload, m->len, 0, &je);
    const char *type = NULL;
    json_t *contact = NULL;
    if (!*root || json_unpack_ex(*root, &je, 0, "{s:s}", "type", &type) != 0) {
        snprintf(err, errsz, "not a wa.media record: %s", je.text);
        return -1;
    }
    *is_job = strcmp(type, "job") == 0;
    if (!*is_job) return 0;
    json_t *mime = NULL;
    json_int_t idx = -1;
    if (json_unpack_ex(*root, &je, 0, "{s:s, s:I, s:s, s:s, s?o, s?o}", "message_id",
                       &j->message_id, "idx", &idx, "provider", &j->provider, "url", &j->url,
                       "mime", &mime, "contact", &contact) != 0) {
        snprintf(err, errsz, "invalid media job: %s", je.text);
        return -1;
    }
    /* The router writes "mime": null when the provider declared none (Twilio may). */
    if (mime && !json_is_null(mime) && !json_is_string(mime)) {
        snprintf(err, errsz, "invalid media job: mime must be a string");
        return -1;
    }
    j->mime = json_string_value(mime);
    if (contact) j->phone = json_string_value(json_object_get(contact, "phone"));
    /* Checked as Postgres will cast it: a malformed id would fail there on every retry. */
    if (!wa_uuid_valid(j->message_id) || idx < 0 || idx > 99) {
        snprintf(err, errsz, "invalid media job: bad message_id or idx");
        return -1;
    }
    j->idx = (int)idx;
    return 0;
}

/* Tries op up to the attempt budget with backoff while it says MW_RETRY. */
#define WITH_RETRIES(verdict, call)                                                                \
    do {                                                                                           \
        for (int attempt_ = 1;; attempt_++) {                                                      \
            verdict = (call);                                                                      \
            if (verdict != MW_RETRY || attempt_ >= mw_cfg.max_attempts || !wa_running()) break;    \
            wa_metric_add(mw_m.retried, 1);                                                        \
            wa_info("media %s/%d: %s; retrying", j.message_id, j.idx, err);                        \
            wa_sleep_ms(                                                                           \
                wa_backoff_ms(attempt_, mw_cfg.base_ms, mw_cfg.cap_ms, 0.2, wa_jitter_random()));  \
        }                                                                                          \
    } while (0)

/* The spool file into the bucket (common/wa_s3.c). */
static enum mw_verdict put(CURL *h, struct mw_file *f, const char *key, const char *mime, char *err,
                           size_t errsz)
{
    const struct wa_s3_target t = {
        .endpoint = mw_cfg.s3_endpoint,
        .bucket = mw_cfg.s3_bucket,
        .access_key = mw_cfg.s3_access_key,
        .secret_key = mw_cfg.s3_secret_key,
        .region = mw_cfg.s3_region,
        .connect_timeout_ms = mw_cfg.connect_timeout_ms,
        .timeout_ms = mw_cfg.timeout_ms,
    };
    enum wa_result r = wa_s3_put(h, &t, key, f->spool, f->size, f->sha256, mime, err, errsz);
    return r == WA_OK ? MW_OK : r == WA_RETRY ? MW_RETRY : MW_REFUSED;
}

enum wa_result mw_handle(struct wa_sender *s, const rd_kafka_message_t *m, void *curl)
{
    CURL *h = curl;
    char err[512] = "";
    json_t *root = NULL;
    struct mw_job j;
    int is_job = 0;
    if (decode(m, &root, &j, &is_job, err, sizeof err) < 0) {
        json_decref(root);
        wa_metric_add(mw_m.failed, 1);
        return wa_send_error(s, m, "invalid_media_job", err, 0);
    }
    if (!is_job) { /* a "stored" result of ours */
        json_decref(root);
        return WA_OK;
    }
    char idx[12];
    snprintf(idx, sizeof idx, "%d", j.idx);
    enum wa_result res;
    const char *dp[] = {j.message_id, idx};
    PGresult *q = wa_pg_pool_exec(s->pg, "media_done", 2, dp, &res, err, sizeof err);
    if (!q) {
        json_decref(root);
        if (res == WA_RETRY) return WA_RETRY;
        wa_metric_add(mw_m.failed, 1);
        return wa_send_error(s, m, "invalid_media_job", err, 0); /* the same every time: park */
    }
    int done = PQntuples(q) > 0;
    PQclear(q);
    if (done) {
        wa_metric_add(mw_m.duplicate, 1);
        json_decref(root);
        return WA_OK;
    }

    int64_t t0 = wa_now_ms();
    struct mw_file f;
    enum mw_verdict v;
    WITH_RETRIES(v, mw_fetch(h, &j, &f, err, sizeof err));
    if (v == MW_RETRY && !wa_running()) {
        /* Stopped between tries: the job is not given up, it comes back after the restart. */
        json_decref(root);
        return WA_RETRY;
    }
    if (v != MW_OK) {
        wa_warn("media %s/%d not fetched: %s", j.message_id, j.idx, err);
        wa_metric_add(v == MW_REFUSED ? mw_m.refused : mw_m.failed, 1);
        json_decref(root);
        return wa_send_error(s, m, v == MW_REFUSED ? "media_refused" : "media_unavailable", err,
                             v != MW_REFUSED);
    }
    /* The type the bytes announce wins over a declared one; a disagreement is logged. */
    const char *declared = j.mime ? j.mime : f.mime[0] ? f.mime : NULL;
    const char *sniffed = wa_media_sniff(f.head, f.head_len);
    const char *mime = wa_media_stored_mime(declared, sniffed);
    if (!wa_media_mime_agrees(declared, sniffed)) {
        wa_metric_add(mw_m.mismatch, 1);
        wa_warn("media %s/%d declared %s but the bytes say %s", j.message_id, j.idx, declared,
                sniffed);
    }
    char key[256];
    wa_media_object_key(key, sizeof key, j.message_id, j.idx, mime);
    int64_t t1 = wa_now_ms();
    WITH_RETRIES(v, put(h, &f, key, mime, err, sizeof err));
    int64_t t2 = wa_now_ms();
    if (v != MW_OK) {
        fclose(f.spool);
        wa_warn("media %s/%d not stored: %s", j.message_id, j.idx, err);
        json_decref(root);
        if (v == MW_RETRY) return WA_RETRY; /* storage away: the same job again later */
        wa_metric_add(mw_m.failed, 1);
        return wa_send_error(s, m, "storage_refused", err, 0);
    }
    fclose(f.spool);

    char size[24];
    snprintf(size, sizeof size, "%llu", (unsigned long long)f.size);
    json_t *ev = json_pack("{s:i, s:s, s:s, s:I, s:s, s:i, s:s, s:s?, s:I, s:s, s:s, s:s}", "v", 1,
                           "type", "wa.media", "provider", j.provider, "at_ms",
                           (json_int_t)wa_wall_ms(), "message_id", j.message_id, "idx", j.idx,
                           "mime", mime, "mime_declared", declared, "size", (json_int_t)f.size,
                           "sha256", f.sha256, "bucket", mw_cfg.s3_bucket, "key", key);
    char *evs = json_dumps(ev, JSON_COMPACT);
    const char *sp[] = {
        j.message_id,     idx, j.provider,          j.url, declared,          mime, size, f.sha256,
        mw_cfg.s3_bucket, key, mw_cfg.topic_events, evs,   mw_cfg.topic_media};
    q = wa_pg_pool_exec(s->pg, "media_store", 13, sp, &res, err, sizeof err);
    if (!q) {
        wa_warn("postgres media_store: %s", err);
        free(evs);
        json_decref(ev);
        json_decref(root);
        return res == WA_RETRY ? WA_RETRY : wa_send_error(s, m, "rejected_by_crm", err, 0);
    }
    PQclear(q);
    free(evs);
    json_decref(ev);
    wa_metric_add(mw_m.stored, 1);
    wa_metric_add(mw_m.bytes, (int64_t)f.size);
    wa_metric_observe(mw_m.seconds, (double)(wa_now_ms() - t0) / 1000.0);
    wa_info("media %s/%d stored key=%s size=%s sha256=%s mime=%s fetch_ms=%lld put_ms=%lld "
            "record_ms=%lld",
            j.message_id, j.idx, key, size, f.sha256, mime, (long long)(t1 - t0),
            (long long)(t2 - t1), (long long)(wa_now_ms() - t2));
    json_decref(root);
    return WA_OK;
}
