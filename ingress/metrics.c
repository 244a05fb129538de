/* metrics.c - ingress counters: every webhook outcome is counted, good or bad. */
#include "ingress.h"

static struct wa_metric *results[ING_RESULT_COUNT];
struct wa_metric *ing_m_ack_seconds, *ing_m_invalid_utf8, *ing_m_inflight;

void ing_metrics_init(void)
{
    static const char *labels[ING_RESULT_COUNT] = {
        [ING_ACCEPTED] = "provider=\"twilio\",result=\"accepted\"",
        [ING_MISSING_SIGNATURE] = "provider=\"twilio\",result=\"missing_signature\"",
        [ING_BAD_SIGNATURE] = "provider=\"twilio\",result=\"bad_signature\"",
        [ING_BAD_REQUEST] = "provider=\"twilio\",result=\"bad_request\"",
        [ING_TOO_LARGE] = "provider=\"twilio\",result=\"too_large\"",
        [ING_KAFKA_UNAVAILABLE] = "provider=\"twilio\",result=\"kafka_unavailable\"",
    };
    for (int i = 0; i < ING_RESULT_COUNT; i++)
        results[i] = wa_metric_new(WA_COUNTER, "wa_ingress_webhooks_total", labels[i],
                                   "Webhook requests by provider and outcome.");
    ing_m_ack_seconds = wa_metric_new(WA_HISTOGRAM, "wa_ingress_kafka_ack_seconds", "",
                                      "From the request's first byte to Kafka's acknowledgement.");
    ing_m_invalid_utf8 = wa_metric_new(WA_COUNTER, "wa_ingress_invalid_utf8_total", "",
                                       "Form fields whose invalid UTF-8 was replaced by U+FFFD.");
    ing_m_inflight = wa_metric_new(WA_GAUGE, "wa_ingress_inflight", "",
                                   "Requests waiting for Kafka's acknowledgement.");
}

void ing_count(enum ing_result r)
{
    wa_metric_add(results[r], 1);
}
