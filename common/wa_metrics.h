/* wa_metrics.h - process metrics in Prometheus text format: counters, gauges, histograms. */
#ifndef WA_METRICS_H
#define WA_METRICS_H

#include <stdint.h>

#include "wa_util.h"

enum wa_metric_type { WA_COUNTER, WA_GAUGE, WA_HISTOGRAM };

#define WA_HIST_BUCKETS 14

/* Metrics are registered once at start and live for the process. Updates are
 * lock-free atomics, safe from any thread. */
struct wa_metric;

/* name is the family; labels is the fixed label set without braces, e.g.
 * "route=\"twilio\",code=\"204\"", or "" for none. */
struct wa_metric *wa_metric_new(enum wa_metric_type type, const char *name, const char *labels,
                                const char *help);
void wa_metric_add(struct wa_metric *m, int64_t n);
void wa_metric_set(struct wa_metric *m, int64_t v);
/* Histograms take seconds, bucketed from 0.5 ms to 10 s. */
void wa_metric_observe(struct wa_metric *m, double seconds);
int64_t wa_metric_value(const struct wa_metric *m);

/* METRICS_TOKEN, every service's setting (wa_service_start): the bearer token GET /metrics needs;
 * "" when unset, and then only loopback clients get the metrics. */
extern const char *wa_metrics_token;

/* Renders every metric, families grouped with their HELP and TYPE lines. */
void wa_metrics_render(struct wa_buf *out);

#endif
