/* wa_util.h - allocation that never returns NULL, constant-time compare, shutdown flag. */
#ifndef WA_UTIL_H
#define WA_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* Result of handling one unit of work (a Kafka record, a request). */
enum wa_result {
    WA_OK = 0,    /* done, side effect durable */
    WA_FAIL = 1,  /* permanent failure, already parked (e.g. on wa.error) */
    WA_RETRY = 2, /* temporary failure: try the same work again later */
};

/* Exit codes from sysexits.h; only main() exits. */
#define WA_EX_CONFIG 78
#define WA_EX_TEMPFAIL 75

void *wa_xmalloc(size_t n);
void *wa_xcalloc(size_t n, size_t size);
void *wa_xrealloc(void *p, size_t n);
char *wa_xstrdup(const char *s);
char *wa_xstrndup(const char *s, size_t n);

/* Compare two byte strings without leaking, through timing, where they differ.
 * Returns 1 when equal. The lengths are not secret. */
int wa_ct_equal(const void *a, size_t alen, const void *b, size_t blen);

/* A Twilio resource id: the two-letter prefix ("AC", "HX", "SM"...) and 32 hex digits. */
int wa_twilio_sid(const char *s, const char *prefix);

/* SIGTERM/SIGINT clear the running flag; a second signal exits at once. */
void wa_signals_install(void);
int wa_running(void);
void wa_stop(void);

/* Called in main before any thread starts: memory freed goes back to the system. Buffers that
 * come and go with each batch or command (records, their decoded JSON, results, an outbox page)
 * stay resident under glibc's defaults: an arena per thread that allocates (librdkafka's broker
 * threads, the senders' lanes), and a threshold for mmap that rises to the largest block freed,
 * so blocks of hundreds of kilobytes stay in the heap. One arena and fixed thresholds hand them
 * back: a router draining a backlog peaked 3-5 MB lower at the same rate, a sender about 1 MB
 * (bench/README.md). */
void wa_memory_lean(void);

/* Milliseconds from CLOCK_MONOTONIC / CLOCK_REALTIME. */
int64_t wa_now_ms(void);
int64_t wa_wall_ms(void);
/* Sleep that returns early when shutdown is requested. */
void wa_sleep_ms(int64_t ms);

/* Growable byte buffer. */
struct wa_buf {
    char *data;
    size_t len;
    size_t cap;
};
void wa_buf_append(struct wa_buf *b, const void *p, size_t n);
void wa_buf_appendf(struct wa_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void wa_buf_free(struct wa_buf *b);

#endif
