/* sse.c - wa.events to every connected browser as server-sent events. One consumer per process
 * reads the whole topic from its end (no shared group: each dashboard sees every event); a ring
 * of recent events lets each connection move at its own pace, and a slow one skips ahead.
 * A connection with nothing to send is suspended (it holds no thread) and resumed by the next
 * event, or by the keep-alive tick. */
#include "dash.h"
#include "wa_kafka.h"
#include "wa_log.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* One connected browser. */
struct client {
    struct client *prev, *next; /* in ring.waiting while suspended */
    struct MHD_Connection *conn;
    uint64_t seq;  /* the next event it has not had */
    uint64_t tick; /* the keep-alive tick it last answered */
    int waiting;   /* suspended, in ring.waiting */
    struct wa_buf pending;
    size_t sent;
};

#define KEEPALIVE_MS 15000

static struct {
    pthread_mutex_t mu;
    char **items; /* formatted "event: …\ndata: …\n\n" */
    size_t *lens;
    uint64_t next; /* sequence number of the next event */
    size_t cap;
    uint64_t tick;          /* one per KEEPALIVE_MS */
    struct client *waiting; /* suspended, until the next event or tick */
} ring = {PTHREAD_MUTEX_INITIALIZER, NULL, NULL, 0, 0, 0, NULL};

/* Resumes every suspended connection. Under ring.mu. */
static void wake_all(void)
{
    for (struct client *c = ring.waiting, *n; c; c = n) {
        n = c->next;
        c->prev = c->next = NULL;
        c->waiting = 0;
        MHD_resume_connection(c->conn);
    }
    ring.waiting = NULL;
}

static rd_kafka_t *consumer;
static pthread_t thread;
static atomic_int clients;

static void publish(const char *json, size_t len)
{
    json_error_t je;
    json_t *o = json_loadb(json, len, 0, &je);
    if (!o) return;
    const char *type = json_string_value(json_object_get(o, "type"));
    json_t *id = json_object_get(o, "id");
    struct wa_buf b = {0};
    if (json_is_integer(id)) wa_buf_appendf(&b, "id: %lld\n", (long long)json_integer_value(id));
    /* The type names the SSE event; it comes from our own producer, but a
     * newline in it would still break the stream's framing. */
    wa_buf_appendf(&b, "event: %.64s\ndata: ", type && !strpbrk(type, "\r\n") ? type : "message");
    json_decref(o);
    wa_buf_append(&b, json, len); /* compact JSON: one line */
    wa_buf_append(&b, "\n\n", 2);
    pthread_mutex_lock(&ring.mu);
    size_t slot = ring.next % ring.cap;
    free(ring.items[slot]);
    ring.items[slot] = b.data;
    ring.lens[slot] = b.len;
    ring.next++;
    wake_all();
    pthread_mutex_unlock(&ring.mu);
    wa_metric_add(dash_m.sse_events, 1);
}

static void *consume(void *arg)
{
    (void)arg;
    int64_t tick_at = wa_now_ms() + KEEPALIVE_MS;
    while (wa_running()) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(consumer, 200);
        if (m) {
            if (!m->err) publish(m->payload, m->len);
            rd_kafka_message_destroy(m);
        }
        if (wa_now_ms() >= tick_at) {
            tick_at += KEEPALIVE_MS;
            pthread_mutex_lock(&ring.mu);
            ring.tick++;
            wake_all(); /* each says it is still there */
            pthread_mutex_unlock(&ring.mu);
        }
    }
    pthread_mutex_lock(&ring.mu);
    wake_all(); /* so they end */
    pthread_mutex_unlock(&ring.mu);
    return NULL;
}

int dash_sse_start(char *err, size_t errsz)
{
    ring.cap = (size_t)dash_cfg.sse_buffer;
    ring.items = wa_xcalloc(ring.cap, sizeof *ring.items);
    ring.lens = wa_xcalloc(ring.cap, sizeof *ring.lens);
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char group[96];
    snprintf(group, sizeof group, "dashboard-%ld-%ld", (long)getpid(), (long)time(NULL));
    if (rd_kafka_conf_set(conf, "bootstrap.servers", dash_cfg.kafka_brokers, err, errsz) ||
        rd_kafka_conf_set(conf, "group.id", group, err, errsz) ||
        rd_kafka_conf_set(conf, "enable.auto.commit", "false", err, errsz) ||
        rd_kafka_conf_set(conf, "auto.offset.reset", "latest", err, errsz)) {
        rd_kafka_conf_destroy(conf);
        return -1;
    }
    consumer = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, errsz);
    if (!consumer) return -1;
    rd_kafka_poll_set_consumer(consumer);
    rd_kafka_topic_partition_list_t *t = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(t, dash_cfg.topic_events, RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t e = rd_kafka_subscribe(consumer, t);
    rd_kafka_topic_partition_list_destroy(t);
    if (e) {
        snprintf(err, errsz, "subscribe %s: %s", dash_cfg.topic_events, rd_kafka_err2str(e));
        return -1;
    }
    pthread_create(&thread, NULL, consume, NULL);
    return 0;
}

void dash_sse_stop(void)
{
    if (!consumer) return;
    pthread_join(thread, NULL);
    rd_kafka_consumer_close(consumer);
    rd_kafka_destroy(consumer);
}

/* Never waits: with nothing to send, the connection is suspended and 0 returned, and the next
 * event or tick resumes it (the check and the suspension are under the lock publish() takes,
 * so no event slips between them). */
static ssize_t reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    struct client *c = cls;
    if (c->sent == c->pending.len) {
        c->pending.len = c->sent = 0;
        pthread_mutex_lock(&ring.mu);
        if (c->seq == ring.next && c->tick == ring.tick && wa_running()) {
            MHD_suspend_connection(c->conn);
            c->prev = NULL;
            c->next = ring.waiting;
            if (ring.waiting) ring.waiting->prev = c;
            ring.waiting = c;
            c->waiting = 1;
            pthread_mutex_unlock(&ring.mu);
            return 0;
        }
        c->tick = ring.tick;
        if (!wa_running()) {
            pthread_mutex_unlock(&ring.mu);
            return MHD_CONTENT_READER_END_OF_STREAM;
        }
        if (ring.next > c->seq + ring.cap) {
            /* Too slow: the oldest it missed are gone. Say so, and go on. */
            wa_metric_add(dash_m.sse_dropped, (int64_t)(ring.next - ring.cap - c->seq));
            c->seq = ring.next - ring.cap;
            wa_buf_appendf(&c->pending, "event: resync\ndata: {}\n\n");
        }
        for (; c->seq < ring.next && c->pending.len < 256 * 1024; c->seq++) {
            size_t slot = c->seq % ring.cap;
            wa_buf_append(&c->pending, ring.items[slot], ring.lens[slot]);
        }
        pthread_mutex_unlock(&ring.mu);
        if (!c->pending.len) wa_buf_append(&c->pending, ": keep-alive\n\n", 14);
    }
    size_t n = c->pending.len - c->sent;
    if (n > max) n = max;
    memcpy(buf, c->pending.data + c->sent, n);
    c->sent += n;
    return (ssize_t)n;
}

static void done(void *cls)
{
    struct client *c = cls;
    pthread_mutex_lock(&ring.mu);
    if (c->waiting) { /* closed while suspended (the daemon stopping): out of the list */
        if (c->prev)
            c->prev->next = c->next;
        else
            ring.waiting = c->next;
        if (c->next) c->next->prev = c->prev;
    }
    pthread_mutex_unlock(&ring.mu);
    wa_buf_free(&c->pending);
    free(c);
    atomic_fetch_sub(&clients, 1);
    wa_metric_add(dash_m.sse_clients, -1);
}

enum MHD_Result dash_sse_serve(struct MHD_Connection *conn)
{
    if (atomic_load(&clients) >= dash_cfg.sse_max) {
        const char *b = "{\"error\":\"busy\",\"message\":\"too many live connections\"}";
        struct MHD_Response *r =
            MHD_create_response_from_buffer(strlen(b), (void *)b, MHD_RESPMEM_PERSISTENT);
        MHD_add_response_header(r, "Retry-After", "5");
        enum MHD_Result ret = MHD_queue_response(conn, 503, r);
        MHD_destroy_response(r);
        return ret;
    }
    struct client *c = wa_xcalloc(1, sizeof *c);
    c->conn = conn;
    pthread_mutex_lock(&ring.mu);
    c->seq = ring.next; /* from now on: the page loads the past from the API */
    c->tick = ring.tick;
    pthread_mutex_unlock(&ring.mu);
    wa_buf_append(&c->pending, "retry: 2000\n\n", 13);
    atomic_fetch_add(&clients, 1);
    wa_metric_add(dash_m.sse_clients, 1);
    struct MHD_Response *r =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 64 * 1024, reader, c, done);
    MHD_add_response_header(r, "Content-Type", "text/event-stream");
    MHD_add_response_header(r, "Cache-Control", "no-store");
    MHD_add_response_header(r, "X-Accel-Buffering", "no");
    enum MHD_Result ret = MHD_queue_response(conn, 200, r);
    MHD_destroy_response(r);
    return ret;
}
