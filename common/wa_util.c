/* wa_util.c - small helpers every service needs. */
#include "wa_util.h"

#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void oom(size_t n)
{
    /* Out of memory leaves nothing sensible to do: say so and die loudly. */
    fprintf(stderr, "fatal: out of memory allocating %zu bytes\n", n);
    abort();
}

void *wa_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) oom(n);
    return p;
}

void *wa_xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) oom(n * size);
    return p;
}

void *wa_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q) oom(n);
    return q;
}

char *wa_xstrdup(const char *s)
{
    return wa_xstrndup(s, strlen(s));
}

char *wa_xstrndup(const char *s, size_t n)
{
    char *p = wa_xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

int wa_ct_equal(const void *a, size_t alen, const void *b, size_t blen)
{
    const volatile unsigned char *x = a, *y = b;
    unsigned char diff = alen != blen;
    /* Walk the expected length whatever happens, so time depends on lengths only. */
    for (size_t i = 0; i < blen; i++)
        diff |= (unsigned char)((i < alen ? x[i] : 0) ^ y[i]);
    return diff == 0;
}

static volatile sig_atomic_t running = 1;

static void on_signal(int sig)
{
    (void)sig;
    if (!running) _exit(130); /* the operator insists */
    running = 0;
}

void wa_signals_install(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

int wa_running(void)
{
    return running;
}

void wa_stop(void)
{
    running = 0;
}

void wa_memory_lean(void)
{
    mallopt(M_ARENA_MAX, 1);
    mallopt(M_MMAP_THRESHOLD, 64 * 1024);
    mallopt(M_TRIM_THRESHOLD, 128 * 1024);
}

int64_t wa_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t wa_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void wa_sleep_ms(int64_t ms)
{
    while (ms > 0 && running) {
        int64_t step = ms > 100 ? 100 : ms;
        struct timespec ts = {step / 1000, (step % 1000) * 1000000};
        while (nanosleep(&ts, &ts) == -1 && errno == EINTR && running) {
        }
        ms -= step;
    }
}

void wa_buf_append(struct wa_buf *b, const void *p, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        b->data = wa_xrealloc(b->data, cap);
        b->cap = cap;
    }
    if (n) memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void wa_buf_appendf(struct wa_buf *b, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n < sizeof tmp) {
        wa_buf_append(b, tmp, (size_t)n);
        return;
    }
    char *big = wa_xmalloc((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    wa_buf_append(b, big, (size_t)n);
    free(big);
}

void wa_buf_free(struct wa_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

int wa_twilio_sid(const char *s, const char *prefix)
{
    if (!s || strlen(s) != 34 || strncmp(s, prefix, 2) != 0) return 0;
    for (int i = 2; i < 34; i++)
        if (!strchr("0123456789abcdefABCDEF", s[i])) return 0;
    return 1;
}
