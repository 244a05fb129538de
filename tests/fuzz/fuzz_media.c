/* fuzz_media.c - libFuzzer harness: any bytes as a wa.media record (a job from the router, or a
 * "stored" result of a worker) through media-worker's decoder.
 *
 * The decoder is a static function of media-worker/job.c, next to the worker's Postgres and S3
 * calls, so this file includes job.c whole and runs only decode(); the fetch it never reaches is
 * a stub that aborts.
 *
 * It found: a job for an item without a MIME type refused (the router writes "mime": null),
 * "idx" beyond int wrapping around (4294967296 was item 0), and a "message_id" checked only for
 * length, which then failed Postgres's uuid cast on every retry. */
#include "../../media-worker/job.c"

#include <stdint.h>

#include "wa_outbound.h"

struct mw_config mw_cfg;

enum mw_verdict mw_fetch(CURL *h, const struct mw_job *job, struct mw_file *out, char *err,
                         size_t errsz)
{
    (void)h, (void)job, (void)out, (void)err, (void)errsz;
    abort();
}

static int same(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

static int run_decode(const char *buf, size_t len, json_t **root, struct mw_job *j, int *is_job)
{
    rd_kafka_message_t m;
    memset(&m, 0, sizeof m);
    m.payload = (void *)buf;
    m.len = len;
    char err[512];
    *is_job = -1;
    int rc = decode(&m, root, j, is_job, err, sizeof err);
    if (rc != 0 && rc != -1) abort();
    if (rc == 0 && *is_job != 0 && *is_job != 1) abort();
    return rc;
}

/* A job in the router's shape (router/store.c builds it in SQL: "mime" is null when the item has
 * no type). */
static char *router_job(const struct mw_job *j)
{
    json_t *o = json_pack("{s:i, s:s, s:s, s:i, s:s, s:s, s:s?, s:{s:s?}, s:I}", "v", 1, "type",
                          "job", "message_id", j->message_id, "idx", j->idx, "provider",
                          j->provider, "url", j->url, "mime", j->mime, "contact", "phone", j->phone,
                          "at_ms", (json_int_t)1795478400012);
    if (!o) abort(); /* every string came out of a JSON decoder, so it is UTF-8 */
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return s;
}

/* The result a worker writes back for the job (job.c's event, plus what the SQL adds). */
static char *stored_result(const struct mw_job *j, const char *key)
{
    json_t *o = json_pack("{s:i, s:s, s:s, s:I, s:s, s:i, s:s, s:s?, s:I, s:s, s:s, s:s, s:I, "
                          "s:{s:i, s:s?}}",
                          "v", 1, "type", "stored", "provider", j->provider, "at_ms",
                          (json_int_t)1795478400590, "message_id", j->message_id, "idx", j->idx,
                          "mime", "image/jpeg", "mime_declared", j->mime, "size", (json_int_t)3004,
                          "sha256", "eeeaeb1c", "bucket", "wa-media", "key", key, "media_id",
                          (json_int_t)17, "contact", "id", 42, "phone", j->phone);
    if (!o) abort();
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *root = NULL;
    struct mw_job j;
    int is_job;
    if (run_decode((const char *)data, size, &root, &j, &is_job) != 0 || !is_job) {
        json_decref(root);
        return 0;
    }
    /* A job names one item of one message, by what the worker needs to fetch it. */
    if (!j.message_id || !j.provider || !j.url || strlen(j.message_id) != 36 || j.idx < 0 ||
        j.idx > 99)
        abort();
    /* ... and it is the item the record names, not one its number wrapped around to. */
    if (json_integer_value(json_object_get(root, "idx")) != j.idx) abort();
    /* The id goes to Postgres as $1::uuid: anything else would fail there on every retry. */
    if (!wa_uuid_valid(j.message_id)) abort();

    /* Its object key is media/<message id>/<index><.ext>, with room to spare. */
    char key[256], want[256];
    wa_media_object_key(key, sizeof key, j.message_id, j.idx, j.mime);
    int n = snprintf(want, sizeof want, "media/%s/%d", j.message_id, j.idx);
    if (strncmp(key, want, (size_t)n) != 0 || strlen(key) > (size_t)n + 5) abort();
    if (key[n] && key[n] != '.') abort();

    /* The same job as the router writes it decodes to the same job. */
    char *again = router_job(&j);
    json_t *root2 = NULL;
    struct mw_job j2;
    int is_job2;
    if (run_decode(again, strlen(again), &root2, &j2, &is_job2) != 0 || !is_job2) abort();
    if (!same(j2.message_id, j.message_id) || j2.idx != j.idx || !same(j2.provider, j.provider) ||
        !same(j2.url, j.url) || !same(j2.mime, j.mime) || !same(j2.phone, j.phone))
        abort();
    json_decref(root2);
    free(again);

    /* The worker's own result for it is read back as a result, never as a job to redo. */
    char *res = stored_result(&j, key);
    if (run_decode(res, strlen(res), &root2, &j2, &is_job2) != 0 || is_job2) abort();
    json_decref(root2);
    free(res);

    json_decref(root);
    return 0;
}
