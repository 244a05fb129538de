/* health.c - each Twilio channel's health, as this instance sees it from its send results
 * (health_rule.c decides), published to wa.provider under this instance's own key on every change
 * and at most every TWILIO_HEALTH_HEARTBEAT_S while sends happen (docs/architecture.md §3.3).
 * Without sends nothing is published: the report goes stale and the routers call the channel
 * UNKNOWN. A clean stop publishes a tombstone per channel. */
#include "sender_twilio.h"
#include "wa_health.h"
#include "wa_kafka.h"
#include "wa_log.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct stw_health chans[WA_CHANNELS_MAX];
static char keys[WA_CHANNELS_MAX][WA_CHANNEL_MAX + WA_HEALTH_ID_MAX + 2]; /* <channel>/<inst> */
static rd_kafka_t *producer;
static int left; /* the tombstones are out: nothing more from this instance */

/* Called with mu held. */
static void publish(int i, int64_t now_ms)
{
    const struct stw_health *h = &chans[i];
    char *s = wa_health_encode(&(struct wa_health_report){.provider = "twilio",
                                                          .channel = stw_channels[i],
                                                          .instance = stw_cfg.instance,
                                                          .up = h->state == STW_HEALTH_UP,
                                                          .reason = h->reason,
                                                          .since_ms = h->since_ms,
                                                          .checked_ms = now_ms,
                                                          .source = "send"});
    if (!s) {
        wa_warn("cannot encode the health of %s", stw_channels[i]);
        return;
    }
    /* Not waited for: a lost report is replaced by the next send's. */
    rd_kafka_resp_err_t e =
        wa_kafka_produce(producer, stw_cfg.topic_provider, keys[i], s, strlen(s), NULL);
    if (e) wa_warn("cannot publish the health of %s: %s", stw_channels[i], rd_kafka_err2name(e));
    free(s);
}

void stw_health_note(int channel, const struct wa_outcome *oc, long http_status)
{
    if (channel < 0 || channel >= stw_nchannels || !producer) return;
    const struct stw_health_rule rule = {.failures_down = (int)stw_cfg.health_failures,
                                         .heartbeat_ms = stw_cfg.health_heartbeat_s * 1000};
    int64_t now = wa_wall_ms();
    pthread_mutex_lock(&mu);
    struct stw_health *h = &chans[channel];
    enum stw_state before = h->state;
    if (stw_health_see(h, &rule, oc, http_status, now) && !left) publish(channel, now);
    if (h->state != before)
        wa_info("channel %s is %s: %s", stw_channels[channel], stw_health_name(h->state),
                h->reason);
    wa_metric_set(stw_m.up[channel], h->state == STW_HEALTH_UP);
    pthread_mutex_unlock(&mu);
}

int stw_health_start(rd_kafka_t *p, char *err, size_t errsz)
{
    for (int i = 0; i < stw_nchannels; i++)
        if (wa_health_key(keys[i], sizeof keys[i], stw_channels[i], stw_cfg.instance) < 0) {
            snprintf(err, errsz, "%s/%s is too long for a wa.provider key", stw_channels[i],
                     stw_cfg.instance);
            return -1;
        }
    producer = p;
    return 0;
}

void stw_health_stop(void)
{
    if (!producer) return;
    /* The tombstones go out with the producer's final flush; a send that ends after them must
     * not bring the instance back. A crash leaves none: the routers then stop counting this
     * instance once its last report is stale. */
    pthread_mutex_lock(&mu);
    left = 1;
    for (int i = 0; i < stw_nchannels; i++) {
        rd_kafka_resp_err_t e =
            wa_kafka_produce(producer, stw_cfg.topic_provider, keys[i], NULL, 0, NULL);
        if (e)
            wa_warn("cannot publish this instance's leaving of %s: %s", stw_channels[i],
                    rd_kafka_err2name(e));
    }
    pthread_mutex_unlock(&mu);
    wa_info("leaving: the routers forget instance %s on %d channels", stw_cfg.instance,
            stw_nchannels);
}
