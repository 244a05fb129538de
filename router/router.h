/* router.h - what the files of router/ share: config, handles, SQL names, metrics. */
#ifndef ROUTER_H
#define ROUTER_H

#include <librdkafka/rdkafka.h>

#include "wa_event.h"
#include "wa_metrics.h"
#include "wa_pg.h"
#include "plan.h"
#include "consent.h"
#include "wa_channel.h"
#include "wa_util.h"

struct rtr_config {
    const char *kafka_brokers;
    const char *database_url;
    const char *listen;
    const char *group;
    const char *provider_mode;
    const char *topic_inbound, *topic_events, *topic_error;
    const char *topic_outbound, *topic_status, *topic_provider;
    const char *topic_send_twilio, *topic_send_baileys, *topic_media;
    long health_stale_s;
    /* TWILIO_WA_FROM, BAILEYS_CHANNELS, BAILEYS_FAILOVER_TO, read into channels (plan.h). A
     * provider without numbers has its bare name as its default channel: whichever number its
     * sender has. */
    const char *twilio_from, *baileys_channels, *baileys_failover_to;
    struct rtr_channels channels;
    /* Re-engagement (§3.2): the approved template (a Content SID) that invites a contact to
     * write, its variables, and how long a held message waits. NULL: off. */
    const char *reengage_sid, *reengage_vars;
    long hold_ttl_s;
    /* Consent (§3.5): OPTOUT_KEYWORDS and OPTIN_KEYWORDS, read into keywords, and the text sent
     * once after an opt-out (NULL: none). */
    const char *optout_keywords, *optin_keywords, *optout_confirmation;
    struct rtr_keywords keywords;
};
extern struct rtr_config rtr_cfg;

struct rtr {
    rd_kafka_t *consumer;
    rd_kafka_t *health; /* wa.provider, assigned, not in a group */
    rd_kafka_t *producer;
    struct wa_pg pg;
};

/* store.c: every statement the router prepares. */
extern const struct wa_pg_stmt rtr_statements[];
extern const size_t rtr_nstatements;

/* What became of one record of a batch. */
struct rtr_outcome {
    int duplicate;
    int64_t received_ms;
    const char *code; /* set with WA_FAIL: why it must be parked */
    char reason[700];
};

/* inbound.c: records ms[0..n) into the CRM, with their events in the outbox,
 * in one transaction. Returns WA_OK (committed; res[i] is WA_OK for stored or
 * duplicate, WA_FAIL for a record to park), WA_FAIL (the database refused a
 * record: nothing committed, the caller redoes the batch one by one to isolate
 * it) or WA_RETRY (nothing committed; try again later). */
enum wa_result rtr_inbound_batch(struct rtr *r, rd_kafka_message_t **ms, size_t n,
                                 struct rtr_outcome *out, enum wa_result *res);

/* A record that may join a set (below): its contact, and its JSON object without the closing
 * brace (rtr_set_object; the record owns it), to which the batch adds `i`, its place. */
struct rtr_set_entry {
    const char *key;
    const char *json;
};
/* batch.c: the records of one kind in one pipelined transaction, a statement each or in sets.
 * prepare fills a record of `size` bytes and points call->params at its parameters; call comes
 * with the kind's statement (stmt, nparams), which prepare may change for this record (WA_FAIL
 * with out->code: park it); result reads the committed statement's row for it; release frees
 * what prepare made. Same contract as rtr_inbound_batch. */
struct rtr_batch_ops {
    const char *stmt;
    int nparams;
    size_t size;
    const char *what; /* "message", "status": for the refusal's reason */
    /* Fills the record, its own statement's call, and `set` when it may join a set. */
    enum wa_result (*prepare)(const rd_kafka_message_t *km, int64_t now, void *rec,
                              struct rtr_outcome *out, struct wa_pg_call *call,
                              struct rtr_set_entry *set);
    /* The record's results: row `row` of its statement's (0 but in a set). */
    void (*result)(void *rec, PGresult *q, int row, struct rtr_outcome *out);
    void (*release)(void *rec);
    /* Optional (NULL: a statement per record): the statement that stores a set of records,
     * given as a JSON array ($1) and set_nparams - 1 more parameters, one record of each
     * contact; set_params: the parameters after the array, from the set's first record. */
    const char *set_stmt;
    int set_nparams;
    void (*set_params)(void *rec, const char **params);
};
/* A record's object for a set: `o` (taken) with raw[i][0] set to the JSON text raw[i][1] as it
 * is, without its closing brace; NULL if it cannot be encoded. The raw texts go in unparsed: a
 * record's payload re-encoded could differ from what was received (a number's digits). */
char *rtr_set_object(json_t *o, const char *const raw[][2], size_t nraw);
enum wa_result rtr_pipelined_batch(struct rtr *r, rd_kafka_message_t **ms, size_t n,
                                   struct rtr_outcome *out, enum wa_result *res,
                                   const struct rtr_batch_ops *ops);

/* outbound.c: send requests from wa.outbound, routed and stored, with their
 * commands in the outbox; same contract as rtr_inbound_batch. */
enum wa_result rtr_outbound_batch(struct rtr *r, rd_kafka_message_t **ms, size_t n,
                                  struct rtr_outcome *out, enum wa_result *res);

/* status.c: wa.status applied to the CRM; same contract. */
enum wa_result rtr_status_batch(struct rtr *r, rd_kafka_message_t **ms, size_t n,
                                struct rtr_outcome *out, enum wa_result *res);

/* health.c: every router reads all of wa.provider (no group), so each sees
 * every change. */
int rtr_health_start(struct rtr *r, char *err, size_t errsz);
void rtr_health_poll(struct rtr *r);
/* 1 when the channel's merged state is UP (health_merge.h): every fresh report of its instances
 * says UP. A channel never reported on is judged by its provider's default ("baileys"). */
int rtr_channel_up(const char *channel);
void rtr_health_stop(struct rtr *r);

/* outbox.c: publishes the committed rows of the outbox (events, commands, records for
 * wa.error) to their topics and deletes them, RTR_OUTBOX_PAGE at a time until a page is not
 * full; returns how many, or -1 when a page failed (what went before stays published). */
#define RTR_OUTBOX_PAGE 1000
int rtr_outbox_publish(struct rtr *r);

/* Parks a record that cannot be handled on wa.error; WA_RETRY when even that failed. */
#define RTR_BATCH_MAX 500
enum wa_result rtr_park(struct rtr *r, const rd_kafka_message_t *m, const char *stage,
                        const char *code, const char *text);

struct rtr_metrics {
    struct wa_metric *stored, *duplicate, *parked, *retried;
    struct wa_metric *split; /* batches stored one record a transaction (main.c) */
    struct wa_metric *out_twilio, *out_baileys, *out_refused, *out_duplicate, *out_failover;
    struct wa_metric *out_held, *held_expired;
    struct wa_metric *st_applied, *st_stale, *st_unmatched, *st_duplicate;
    struct wa_metric *crm_seconds;
    struct wa_metric *optout, *optin, *template_refused;
    struct wa_metric *published, *publish_failed;
};
extern struct rtr_metrics rtr_m;

/* holds.c: the re-engagement template's variables for a contact (a new object, or NULL when
 * none are configured), and the sweep that fails held messages whose time ran out. */
int rtr_reengage_load(char *err, size_t errsz);
json_t *rtr_reengage_variables(const char *name);
void rtr_holds_expire(struct rtr *r);
/* Held messages whose (contact, number) has no hold period running (held by sender-baileys):
 * one starts, and its template goes, in a transaction of its own. */
void rtr_holds_start(struct rtr *r);
/* outbound.c: a message was held for channel; the first hold of a period sends the
 * re-engagement template there. Inside the caller's transaction. */
enum wa_result rtr_reengage(struct rtr *r, const char *to, long long contact, const char *channel,
                            const char *name, int64_t now);

#endif
