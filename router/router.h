/* router.h - what the files of router/ share: config, handles, SQL names, metrics. */
#ifndef ROUTER_H
#define ROUTER_H

#include <librdkafka/rdkafka.h>

#include "wa_event.h"
#include "wa_metrics.h"
#include "wa_pg.h"
#include "wa_util.h"

struct rtr_config {
    const char *kafka_brokers;
    const char *database_url;
    const char *listen;
    const char *group;
    const char *provider_mode;
    const char *topic_inbound, *topic_events, *topic_error;
};
extern struct rtr_config rtr_cfg;

struct rtr {
    rd_kafka_t *consumer;
    rd_kafka_t *producer;
    struct wa_pg pg;
};

/* store.c: every statement the router prepares. */
extern const struct wa_pg_stmt rtr_statements[];
extern const size_t rtr_nstatements;

/* inbound.c: one wa.inbound record into the CRM, with its events in the outbox. */
enum wa_result rtr_handle_inbound(struct rtr *r, const rd_kafka_message_t *m);

/* outbox.c: publishes committed events to wa.events; returns how many, or -1. */
int rtr_outbox_publish(struct rtr *r);

/* Parks a record that cannot be handled on wa.error; WA_RETRY when even that failed. */
enum wa_result rtr_park(struct rtr *r, const rd_kafka_message_t *m, const char *stage,
                        const char *code, const char *text);

struct rtr_metrics {
    struct wa_metric *stored, *duplicate, *parked, *retried;
    struct wa_metric *crm_seconds;
    struct wa_metric *published, *publish_failed;
};
extern struct rtr_metrics rtr_m;

#endif
