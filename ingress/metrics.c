/* metrics.c - ingress counters: every webhook outcome is counted, good or bad. */
#include "ingress.h"

#include <stdio.h>

static struct wa_metric *results[ING_PROVIDER_COUNT][ING_RESULT_COUNT];
static struct wa_metric *waits[ING_WAIT_COUNT], *wait_seconds;
struct wa_metric *ing_m_ack_seconds, *ing_m_invalid_utf8, *ing_m_inflight, *ing_m_waiting;

void ing_metrics_init(void)
{
    static const char *providers[ING_PROVIDER_COUNT] = {"twilio", "baileys", "api",
                                                        "baileys_parked"};
    static const char *names[ING_RESULT_COUNT] = {
        [ING_ACCEPTED] = "accepted",
        [ING_MISSING_AUTH] = "missing_auth",
        [ING_BAD_AUTH] = "bad_auth",
        [ING_IP_REFUSED] = "ip_refused",
        [ING_BAD_REQUEST] = "bad_request",
        [ING_TOO_LARGE] = "too_large",
        [ING_KAFKA_UNAVAILABLE] = "kafka_unavailable",
    };
    for (int p = 0; p < ING_PROVIDER_COUNT; p++)
        for (int i = 0; i < ING_RESULT_COUNT; i++) {
            char labels[96];
            snprintf(labels, sizeof labels, "provider=\"%s\",result=\"%s\"", providers[p],
                     names[i]);
            results[p][i] =
                wa_metric_new(WA_COUNTER, "wa_ingress_webhooks_total", wa_xstrdup(labels),
                              "Webhook requests by provider and outcome.");
        }
    ing_m_ack_seconds = wa_metric_new(WA_HISTOGRAM, "wa_ingress_kafka_ack_seconds", "",
                                      "From the request's first byte to Kafka's acknowledgement.");
    ing_m_invalid_utf8 = wa_metric_new(WA_COUNTER, "wa_ingress_invalid_utf8_total", "",
                                       "Form fields whose invalid UTF-8 was replaced by U+FFFD.");
    ing_m_inflight = wa_metric_new(WA_GAUGE, "wa_ingress_inflight", "",
                                   "Requests waiting for Kafka's acknowledgement.");
    static const char *ends[ING_WAIT_COUNT] = {
        [ING_WAIT_DECIDED] = "decided",
        [ING_WAIT_TIMED_OUT] = "timed_out",
        [ING_WAIT_UNAVAILABLE] = "unavailable",
    };
    for (int i = 0; i < ING_WAIT_COUNT; i++) {
        char labels[48];
        snprintf(labels, sizeof labels, "result=\"%s\"", ends[i]);
        waits[i] = wa_metric_new(WA_COUNTER, "wa_ingress_send_waits_total", wa_xstrdup(labels),
                                 "Accepted sends that asked to wait (Prefer: wait), by how the "
                                 "wait ended.");
    }
    wait_seconds = wa_metric_new(WA_HISTOGRAM, "wa_ingress_send_wait_seconds", "",
                                 "From a waiting send's first byte to its answer.");
    ing_m_waiting = wa_metric_new(WA_GAUGE, "wa_ingress_send_waiting", "",
                                  "Sends waiting for the router's decision now.");
}

void ing_count(enum ing_provider p, enum ing_result r)
{
    wa_metric_add(results[p][r], 1);
}

void ing_count_wait(enum ing_wait_result w, int64_t waited_ms)
{
    wa_metric_add(waits[w], 1);
    wa_metric_observe(wait_seconds, (double)waited_ms / 1000.0);
}
