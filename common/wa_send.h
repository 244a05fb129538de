/* wa_send.h - what both senders share: the claim protocol of docs/architecture.md §4 (a
 * message is claimed in Postgres before a provider is called, so a redelivered command cannot
 * send twice), their results on wa.status and wa.error, and the retry schedule's settings. */
#ifndef WA_SEND_H
#define WA_SEND_H

#include <librdkafka/rdkafka.h>

#include "wa_metrics.h"
#include "wa_outbound.h"
#include "wa_pg.h"
#include "wa_send_step.h"

struct wa_delivery;

struct wa_sender {
    const char *provider;  /* "twilio" | "baileys" */
    struct wa_pg_pool *pg; /* shared by the lanes (wa_send_loop.c) */
    rd_kafka_t *producer;
    const char *topic_status, *topic_error;
    const char *stage; /* names the wa.error stage; NULL: "sender-<provider>" */
    /* Claims commit together with other lanes' claims, results with their results (group
     * commit; apart, so a result waiting on a row the router holds delays no claim); NULL:
     * each alone. */
    struct wa_pg_group *claims, *results;
    /* The numbers' pace reservations commit in groups of their own too (wa_send_pace). */
    struct wa_pg_group *paces;
    /* Set by the loop around one command (wa_send_loop.c): a success's wa.status is produced on
     * this delivery without waiting for its acknowledgement, and report_pending is set; the loop
     * ends the command when the acknowledgement is in. NULL: the report is waited for. */
    struct wa_delivery *report_async;
    int report_pending;
};

extern const struct wa_pg_stmt wa_send_statements[];
extern const size_t wa_send_nstatements;

/* Tries queued -> sending for this sender's provider; *attempts gets the
 * number of provider calls including this one. For a row found in sending (INFLIGHT), *age_ms
 * (when not NULL) gets how long ago the earlier attempt claimed it. */
enum wa_claim wa_send_claim(struct wa_sender *s, const char *id, int *attempts, int64_t *age_ms);

/* Reserves channel's next send slot at per_second sends a second, shared by every instance
 * through Postgres (send_pacing); *wait_us gets how long until that slot. WA_RETRY: Postgres is
 * away. */
enum wa_result wa_send_pace(struct wa_sender *s, const char *channel, double per_second,
                            int64_t *wait_us);

/* sending -> sending again (for a provider that dedupes on our key). */
enum wa_result wa_send_reclaim(struct wa_sender *s, const char *id, int *attempts);

/* sending -> queued: the provider provably did not take it; retried later. */
enum wa_result wa_send_release(struct wa_sender *s, const char *id);

/* Records the outcome (never moving the status backwards) and the provider's
 * message id. latency_ms < 0 when unknown. A result we know must reach the
 * CRM: Postgres gets about ten seconds before WA_RETRY (the redelivered
 * command would then find the message mid-send and record it as unknown). */
enum wa_result wa_send_finish(struct wa_sender *s, const char *id, const char *status,
                              const char *provider_message_id, const char *error_code,
                              const char *error_text, int64_t latency_ms);

/* sending (baileys) -> queued (twilio) on channel, flagged failover. */
enum wa_result wa_send_failover(struct wa_sender *s, const char *id, const char *reason,
                                const char *channel);

/* sending (baileys) -> held (twilio) on channel until held_until_ms, flagged failover. */
enum wa_result wa_send_hold(struct wa_sender *s, const char *id, const char *reason,
                            const char *channel, int64_t held_until_ms);

/* Produces the status of o to wa.status and waits for the ack. */
enum wa_result wa_send_report(struct wa_sender *s, const struct wa_outbound *o,
                              const char *provider, const char *status,
                              const char *provider_message_id, const char *error_code,
                              const char *error_text, int attempt, int64_t latency_ms, int failover,
                              const char *reason);

/* Produces a wa.error for the command m and waits for the ack. */
enum wa_result wa_send_error(struct wa_sender *s, const rd_kafka_message_t *m, const char *code,
                             const char *text, int retryable);

/* What one sender plugs into wa_send_drive: its provider's I/O and its counters. */
struct wa_send_counters {
    struct wa_metric *sent, *failed, *unknown, *skipped, *invalid, *failover, *held; /* by result */
    struct wa_metric *retried, *latency, *call_seconds;
};

/* Registers c for provider; failover only when the provider can fail over. retry_help says
 * what a retry is for this provider. Before threads start. */
void wa_send_counters_init(struct wa_send_counters *c, const char *provider, int fails_over,
                           const char *retry_help);
struct wa_send_ops {
    struct wa_send_policy policy;
    long max_attempts, base_ms, cap_ms;
    /* How long after its claim an attempt whose owner lives has surely ended (its call, a
     * reconciling look-up and their timeouts): a row found in sending is reconciled only after
     * that (policy.reconciles). */
    long settle_ms;
    const char *fail_over_to; /* the other provider's name, when policy.fails_over */
    /* One provider call for o (pacing included), its answer classified into oc. */
    void (*call)(void *ctx, const struct wa_outbound *o, int attempt, struct wa_outcome *oc);
    /* After an unknown verdict, when policy.reconciles: 1 the provider has it (oc->id filled),
     * 0 it provably does not, -1 still unknown. called_ms: when the call began. */
    int (*reconcile)(void *ctx, const struct wa_outbound *o, int64_t called_ms,
                     struct wa_outcome *oc);
    /* The command, rerouted to fail_over_to, produced to its topic (when policy.fails_over). */
    enum wa_result (*hand_over)(void *ctx, struct wa_sender *s, struct wa_outbound *o,
                                const char *reason);
    const struct wa_send_counters *m;
    void *ctx;
};

/* Sends one decoded command: the I/O around wa_send_next (claim, call, reconcile, release,
 * back off, fail over, conclude). forced: the provider may not be changed. Returns WA_OK or
 * WA_FAIL (done: the offset moves on) or WA_RETRY (the same command again later). */
enum wa_result wa_send_drive(struct wa_sender *s, const rd_kafka_message_t *m,
                             struct wa_outbound *o, const struct wa_send_ops *ops, int forced);

/* Fails o without a provider call (its stored media is gone, its number is not this sender's):
 * claimed first, so a message already handled is left as it is; then the row, wa.status and
 * wa.error say why. */
enum wa_result wa_send_refuse(struct wa_sender *s, const rd_kafka_message_t *m,
                              const struct wa_outbound *o, const char *code, const char *text);

/* wa_send_refuse for a command whose channel is none of this sender's (listed in the variable
 * named by setting): channel_unknown, counted as failed. A message never goes out from another
 * number than the one it was routed to. */
enum wa_result wa_send_refuse_channel(struct wa_sender *s, const rd_kafka_message_t *m,
                                      const struct wa_outbound *o, struct wa_send_counters *c,
                                      const char *setting);

/* Where stored media can be fetched from by a provider (presigned GETs). */
struct wa_media_store {
    const char *endpoint; /* as the provider reaches it, e.g. https://media.example.com */
    const char *bucket, *access_key, *secret_key, *region;
    long ttl_s; /* how long a presigned URL lives */
};

/* The two senders' lanes (wa_sender_setup's workers and connections), for their config tables. */
#define WA_SENDER_LANES_CFG(workers, connections)                                                  \
    {"SENDER_WORKERS",                                                                             \
     "16",                                                                                         \
     WA_CFG_INT,                                                                                   \
     1,                                                                                            \
     256,                                                                                          \
     NULL,                                                                                         \
     "parallel sends: different contacts' messages at once, one contact's in order",               \
     NULL,                                                                                         \
     &(workers)},                                                                                  \
    {                                                                                              \
        "SENDER_PG_CONNECTIONS", "4", WA_CFG_INT, 2, 64, NULL,                                     \
            "Postgres connections the lanes share (claims, results, pacing)", NULL, &(connections) \
    }

/* The rows of a sender's config table that describe the media store. */
#define WA_MEDIA_STORE_CFG(st, internal)                                                           \
    {"S3_PUBLIC_ENDPOINT",                                                                         \
     "",                                                                                           \
     WA_CFG_STR,                                                                                   \
     0,                                                                                            \
     0,                                                                                            \
     NULL,                                                                                         \
     "S3 endpoint as providers reach it, for presigned media URLs; empty: S3_ENDPOINT",            \
     &(st).endpoint,                                                                               \
     NULL},                                                                                        \
        {"S3_ENDPOINT", "",  WA_CFG_STR, 0, 0, NULL, "S3-compatible endpoint (stored media)",      \
         &(internal),   NULL},                                                                     \
        {"S3_ACCESS_KEY", "", WA_CFG_STR, 0, 0, NULL, "S3 access key", &(st).access_key, NULL},    \
        {"S3_SECRET_KEY", "", WA_CFG_SECRET, 0, 0, NULL, "S3 secret key", &(st).secret_key, NULL}, \
        {"S3_REGION", "us-east-1", WA_CFG_STR, 0, 0, NULL, "S3 SigV4 region", &(st).region, NULL}, \
    {                                                                                              \
        "MEDIA_URL_TTL_S", "3600", WA_CFG_INT, 1, 604800, NULL,                                    \
            "how long a presigned media URL handed to a provider lives", NULL, &(st).ttl_s         \
    }

/* A short-lived presigned URL for stored media media_id (the media row's id),
 * its type into mime and the name its file had into filename ("" when none: an operator's upload
 * has one, sql/0015). NULL with *res: WA_FAIL (no such stored media: errbuf says so), WA_RETRY (the
 * CRM is away). */
char *wa_send_media_url(struct wa_sender *s, const struct wa_media_store *store,
                        const char *media_id, char *mime, size_t mimesz, char *filename,
                        size_t filenamesz, enum wa_result *res, char *errbuf, size_t errsz);

/* A presigned GET URL for bucket/key, answered with content_type when that is set and not ""
 * (else with the stored type), or NULL with errbuf. */
char *wa_media_presign(const struct wa_media_store *store, const char *bucket, const char *key,
                       const char *content_type, char *errbuf, size_t errsz);

/* What a sender's main() hands to wa_sender_run(). */
struct wa_sender_setup {
    const char *service; /* client id and log name */
    const char *brokers, *group, *topic, *listen, *database_url;
    const char *const *produces; /* topics to warm up, NULL-terminated */
    int workers;                 /* lanes: commands of different contacts in flight at once */
    int connections; /* Postgres connections the lanes share; 0: one per lane, at most 4 */
    /* The longest one command can take with all its bounded retries: the group's
     * max.poll.interval.ms covers one of them (a revoke waits for the commands in flight), plus
     * a minute. 0: Kafka's default (5 minutes). */
    long max_handle_ms;
    /* The statements each worker's connection prepares; NULL: the claim protocol's. */
    const struct wa_pg_stmt *stmts;
    size_t nstmts;
    /* One command: WA_OK or WA_FAIL (done: the offset moves on), WA_RETRY
     * (the same command again after a pause). */
    enum wa_result (*handle)(struct wa_sender *s, const rd_kafka_message_t *m, void *ctx);
    void *ctx;
    /* Each worker's own ctx (a curl handle, say); NULL: all share ctx. */
    void *(*worker_ctx)(int worker, void *ctx);
    void (*started)(struct wa_sender *s, void *ctx); /* after Kafka, before the loop; may be NULL */
    void (*stopping)(void *ctx);                     /* before Kafka closes; may be NULL */
};

/* Connects Kafka, Postgres (waiting for it), serves /healthz /readyz
 * /metrics, and consumes until SIGTERM (wa_send_loop.c). One consumer per process hands the
 * commands to `workers` lanes as they come, each lane with its own ctx, all sharing
 * `connections` Postgres connections:
 * different contacts in parallel, one contact's commands (Kafka key) one after the other, in
 * topic order; each partition's offset is stored past the commands that have ended, up to its
 * first one not ended (common/wa_lineup.h). Returns the exit code. */
int wa_sender_run(struct wa_sender *s, const struct wa_sender_setup *setup);

#endif
