/* health.c - probes each session's bridge /health in the background (never once per message)
 * and publishes every change, plus a heartbeat per probe, to wa.provider, per channel: under this
 * instance's own key, so that the routers merge every instance's word (docs/architecture.md §3.3)
 * instead of taking the last one. A clean stop publishes a tombstone: the routers forget this
 * instance. */
#include "sender_baileys.h"
#include "wa_form.h"
#include "wa_health.h"
#include "wa_kafka.h"
#include "wa_log.h"

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One prober per session (channel), each with its own thread and its own view of its bridge. */
static struct prober {
    const struct sbl_channel *ch;
    pthread_mutex_t mu;
    int known, up;
    int left; /* the tombstone is out: nothing more from this instance */
    int64_t since_ms;
    char reason[256];
    char key[2 * WA_HEALTH_ID_MAX + 2]; /* <channel>/<instance> */
    char labels[WA_HEALTH_ID_MAX + 16];
    struct wa_metric *up_metric;
    pthread_t thread;
    int started;
} probers[WA_CHANNELS_MAX];
static rd_kafka_t *producer;

/* Called with p->mu held. */
static void publish(struct prober *p, int64_t checked_ms, const char *source)
{
    /* A send that finds the bridge down while the process stops must not bring back the
     * instance its tombstone made the routers forget. */
    if (p->left) return;
    char *s = wa_health_encode(&(struct wa_health_report){.provider = "baileys",
                                                          .channel = p->ch->id,
                                                          .instance = sbl_cfg.instance,
                                                          .up = p->up,
                                                          .reason = p->reason,
                                                          .since_ms = p->since_ms,
                                                          .checked_ms = checked_ms,
                                                          .source = source});
    if (!s) {
        wa_warn("cannot encode provider health");
        return;
    }
    /* Not waited for: a lost heartbeat is replaced by the next one, and a
     * change is also retried by the next probe's heartbeat. */
    rd_kafka_resp_err_t e =
        wa_kafka_produce(producer, sbl_cfg.topic_provider, p->key, s, strlen(s), NULL);
    if (e) wa_warn("cannot publish provider health: %s", rd_kafka_err2name(e));
    free(s);
    wa_metric_set(p->up_metric, p->up);
}

static void set_state(struct prober *p, int up, const char *reason, const char *source)
{
    int64_t now = wa_wall_ms();
    pthread_mutex_lock(&p->mu);
    if (!p->known || p->up != up) {
        p->known = 1;
        p->up = up;
        p->since_ms = now;
        wa_info("baileys channel %s is %s: %s", p->ch->id, up ? "UP" : "DOWN", reason);
    }
    wa_utf8_copy(p->reason, sizeof p->reason, reason); /* the bridge's words: any bytes */
    publish(p, now, source);
    pthread_mutex_unlock(&p->mu);
}

void sbl_mark_down(const struct sbl_channel *ch, const char *reason)
{
    for (int i = 0; i < sbl_n_channels; i++)
        if (probers[i].ch == ch) set_state(&probers[i], 0, reason, "send");
}

/* One probe: 1 when the bridge answers 200 with connected:true. */
static int probe(CURL *h, const char *url, char *why, size_t whysz)
{
    struct wa_client_result r;
    wa_client_call(h, "GET", url, NULL, NULL, 0, NULL, sbl_cfg.health_timeout_ms,
                   sbl_cfg.health_timeout_ms, &r);
    int ok = 0;
    if (r.status == 0) {
        snprintf(why, whysz, "health probe failed: %s", r.error);
    } else {
        json_t *b = json_loadb(r.body.data, r.body.len, 0, NULL);
        const char *status = json_string_value(json_object_get(b, "status"));
        ok = r.status == 200 && json_is_true(json_object_get(b, "connected"));
        if (ok)
            snprintf(why, whysz, "health probe passed");
        else
            snprintf(why, whysz, "health probe: HTTP %ld, %s", r.status,
                     status ? status : "not connected");
        json_decref(b);
    }
    wa_buf_free(&r.body);
    return ok;
}

static void *loop(void *arg)
{
    struct prober *p = arg;
    CURL *h = curl_easy_init();
    while (wa_running()) {
        char why[300];
        int ok = probe(h, p->ch->health_url, why, sizeof why);
        if (!ok) wa_metric_add(sbl_m.probes_failed, 1);
        pthread_mutex_lock(&p->mu);
        int was_up = p->known && p->up, known = p->known;
        int64_t down_for = wa_wall_ms() - p->since_ms;
        pthread_mutex_unlock(&p->mu);
        if (ok && !was_up && known && down_for < sbl_cfg.down_hold_s * 1000) {
            /* DOWN lasts its hold time, then needs a passing probe. */
            pthread_mutex_lock(&p->mu);
            publish(p, wa_wall_ms(), "probe");
            pthread_mutex_unlock(&p->mu);
        } else {
            set_state(p, ok, why, "probe");
        }
        /* Faster while DOWN, so a recovery is noticed soon after the hold. A
         * send may mark it DOWN meanwhile: the period follows at once. */
        for (int64_t t = 0; wa_running(); t += 100) {
            pthread_mutex_lock(&p->mu);
            int up = p->up;
            pthread_mutex_unlock(&p->mu);
            if (t >= (up ? sbl_cfg.health_interval_s : sbl_cfg.health_down_interval_s) * 1000)
                break;
            wa_sleep_ms(100);
        }
    }
    curl_easy_cleanup(h);
    return NULL;
}

int sbl_health_start(rd_kafka_t *prod, char *err, size_t errsz)
{
    producer = prod;
    for (int i = 0; i < sbl_n_channels; i++) {
        struct prober *p = &probers[i];
        p->ch = &sbl_channels[i];
        pthread_mutex_init(&p->mu, NULL);
        if (wa_health_key(p->key, sizeof p->key, p->ch->id, sbl_cfg.instance) < 0) {
            snprintf(err, errsz, "instance id too long for a wa.provider key");
            return -1;
        }
        snprintf(p->labels, sizeof p->labels, "channel=\"%s\"", p->ch->id);
        p->up_metric = wa_metric_new(WA_GAUGE, "wa_sender_baileys_up", p->labels,
                                     "1 while the session's bridge is UP.");
        if (pthread_create(&p->thread, NULL, loop, p) != 0) {
            snprintf(err, errsz, "cannot start the health thread");
            return -1;
        }
        p->started = 1;
    }
    return 0;
}

void sbl_health_stop(void)
{
    for (int i = 0; i < sbl_n_channels; i++) {
        struct prober *p = &probers[i];
        if (!p->started) continue;
        pthread_join(p->thread, NULL);
        /* The tombstone goes out with the producer's final flush. A crash leaves none: the
         * routers then stop counting this instance once its last report is stale. */
        pthread_mutex_lock(&p->mu);
        p->left = 1;
        rd_kafka_resp_err_t e =
            wa_kafka_produce(producer, sbl_cfg.topic_provider, p->key, NULL, 0, NULL);
        pthread_mutex_unlock(&p->mu);
        if (e)
            wa_warn("cannot publish this instance's leaving: %s", rd_kafka_err2name(e));
        else
            wa_info("leaving: the routers forget instance %s of channel %s", sbl_cfg.instance,
                    p->ch->id);
    }
}
