/* health.c - probes the bridge's /health in the background (never once per message) and
 * publishes every change, plus a heartbeat per probe, to wa.provider: under this instance's own
 * key, so that the routers merge every instance's word (docs/architecture.md §3.3) instead of
 * taking the last one. A clean stop publishes a tombstone: the routers forget this instance. */
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

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct {
    int known, up;
    int left; /* the tombstone is out: nothing more from this instance */
    int64_t since_ms;
    char reason[256];
} st;
static char key[2 * WA_HEALTH_ID_MAX + 2]; /* <channel>/<instance> */
static rd_kafka_t *producer;
static pthread_t thread;
static int started;

/* Called with mu held. */
static void publish(int64_t checked_ms, const char *source)
{
    /* A send that finds the bridge down while the process stops must not bring back the
     * instance its tombstone made the routers forget. */
    if (st.left) return;
    char *s = wa_health_encode(&(struct wa_health_report){.provider = "baileys",
                                                          .channel = WA_HEALTH_BAILEYS_CHANNEL,
                                                          .instance = sbl_cfg.instance,
                                                          .up = st.up,
                                                          .reason = st.reason,
                                                          .since_ms = st.since_ms,
                                                          .checked_ms = checked_ms,
                                                          .source = source});
    if (!s) {
        wa_warn("cannot encode provider health");
        return;
    }
    /* Not waited for: a lost heartbeat is replaced by the next one, and a
     * change is also retried by the next probe's heartbeat. */
    rd_kafka_resp_err_t e =
        wa_kafka_produce(producer, sbl_cfg.topic_provider, key, s, strlen(s), NULL);
    if (e) wa_warn("cannot publish provider health: %s", rd_kafka_err2name(e));
    free(s);
    wa_metric_set(sbl_m.up, st.up);
}

static void set_state(int up, const char *reason, const char *source)
{
    int64_t now = wa_wall_ms();
    pthread_mutex_lock(&mu);
    if (!st.known || st.up != up) {
        st.known = 1;
        st.up = up;
        st.since_ms = now;
        wa_info("baileys is %s: %s", up ? "UP" : "DOWN", reason);
    }
    wa_utf8_copy(st.reason, sizeof st.reason, reason); /* the bridge's words: any bytes */
    publish(now, source);
    pthread_mutex_unlock(&mu);
}

void sbl_mark_down(const char *reason)
{
    set_state(0, reason, "send");
}

/* One probe: 1 when the bridge answers 200 with connected:true. */
static int probe(CURL *h, char *why, size_t whysz)
{
    struct wa_client_result r;
    wa_client_call(h, "GET", sbl_cfg.health_url, NULL, NULL, 0, NULL, sbl_cfg.health_timeout_ms,
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
    (void)arg;
    CURL *h = curl_easy_init();
    while (wa_running()) {
        char why[300];
        int ok = probe(h, why, sizeof why);
        if (!ok) wa_metric_add(sbl_m.probes_failed, 1);
        pthread_mutex_lock(&mu);
        int was_up = st.known && st.up;
        int64_t down_for = wa_wall_ms() - st.since_ms;
        pthread_mutex_unlock(&mu);
        if (ok && !was_up && st.known && down_for < sbl_cfg.down_hold_s * 1000) {
            /* DOWN lasts its hold time, then needs a passing probe. */
            pthread_mutex_lock(&mu);
            publish(wa_wall_ms(), "probe");
            pthread_mutex_unlock(&mu);
        } else {
            set_state(ok, why, "probe");
        }
        /* Faster while DOWN, so a recovery is noticed soon after the hold. A
         * send may mark it DOWN meanwhile: the period follows at once. */
        for (int64_t t = 0; wa_running(); t += 100) {
            pthread_mutex_lock(&mu);
            int up = st.up;
            pthread_mutex_unlock(&mu);
            if (t >= (up ? sbl_cfg.health_interval_s : sbl_cfg.health_down_interval_s) * 1000)
                break;
            wa_sleep_ms(100);
        }
    }
    curl_easy_cleanup(h);
    return NULL;
}

int sbl_health_start(rd_kafka_t *p, char *err, size_t errsz)
{
    producer = p;
    if (wa_health_key(key, sizeof key, WA_HEALTH_BAILEYS_CHANNEL, sbl_cfg.instance) < 0) {
        snprintf(err, errsz, "instance id too long for a wa.provider key");
        return -1;
    }
    if (pthread_create(&thread, NULL, loop, NULL) != 0) {
        snprintf(err, errsz, "cannot start the health thread");
        return -1;
    }
    started = 1;
    return 0;
}

void sbl_health_stop(void)
{
    if (!started) return;
    pthread_join(thread, NULL);
    /* The tombstone goes out with the producer's final flush. A crash leaves none: the
     * routers then stop counting this instance once its last report is stale. */
    pthread_mutex_lock(&mu);
    st.left = 1;
    rd_kafka_resp_err_t e = wa_kafka_produce(producer, sbl_cfg.topic_provider, key, NULL, 0, NULL);
    pthread_mutex_unlock(&mu);
    if (e)
        wa_warn("cannot publish this instance's leaving: %s", rd_kafka_err2name(e));
    else
        wa_info("leaving: the routers forget instance %s", sbl_cfg.instance);
}
