/* wa_metrics.c - a fixed registry of atomic metrics and its text rendering. */
#include "wa_metrics.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const double bucket_le[WA_HIST_BUCKETS] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                  0.1,    0.25,  0.5,    1,     2.5,  5,     10};

struct wa_metric {
    enum wa_metric_type type;
    const char *name, *labels, *help;
    _Atomic int64_t value; /* counter/gauge value, or histogram count */
    _Atomic int64_t sum_us;
    _Atomic int64_t buckets[WA_HIST_BUCKETS];
    struct wa_metric *next;
};

const char *wa_metrics_token = "";

static struct wa_metric *head, *tail;

struct wa_metric *wa_metric_new(enum wa_metric_type type, const char *name, const char *labels,
                                const char *help)
{
    struct wa_metric *m = wa_xcalloc(1, sizeof *m);
    m->type = type;
    m->name = name;
    m->labels = labels ? labels : "";
    m->help = help;
    /* Registration happens before threads start; keep families adjacent. */
    struct wa_metric *after = NULL;
    for (struct wa_metric *p = head; p; p = p->next)
        if (strcmp(p->name, name) == 0) after = p;
    if (after) {
        m->next = after->next;
        after->next = m;
        if (tail == after) tail = m;
    } else if (tail) {
        tail->next = m;
        tail = m;
    } else {
        head = tail = m;
    }
    return m;
}

void wa_metric_add(struct wa_metric *m, int64_t n)
{
    atomic_fetch_add_explicit(&m->value, n, memory_order_relaxed);
}

void wa_metric_set(struct wa_metric *m, int64_t v)
{
    atomic_store_explicit(&m->value, v, memory_order_relaxed);
}

int64_t wa_metric_value(const struct wa_metric *m)
{
    return atomic_load_explicit(&m->value, memory_order_relaxed);
}

void wa_metric_observe(struct wa_metric *m, double seconds)
{
    for (int i = 0; i < WA_HIST_BUCKETS; i++) {
        if (seconds <= bucket_le[i]) {
            atomic_fetch_add_explicit(&m->buckets[i], 1, memory_order_relaxed);
            break;
        }
    }
    atomic_fetch_add_explicit(&m->sum_us, (int64_t)(seconds * 1e6), memory_order_relaxed);
    atomic_fetch_add_explicit(&m->value, 1, memory_order_relaxed);
}

static void labels_open(struct wa_buf *out, const struct wa_metric *m, const char *extra)
{
    int any = m->labels[0] != '\0';
    if (!any && !extra) return;
    wa_buf_appendf(out, "{%s%s%s}", m->labels, any && extra ? "," : "", extra ? extra : "");
}

void wa_metrics_render(struct wa_buf *out)
{
    static const char *type_names[] = {"counter", "gauge", "histogram"};
    const char *family = NULL;
    for (struct wa_metric *m = head; m; m = m->next) {
        if (!family || strcmp(family, m->name) != 0) {
            wa_buf_appendf(out, "# HELP %s %s\n# TYPE %s %s\n", m->name, m->help, m->name,
                           type_names[m->type]);
            family = m->name;
        }
        if (m->type != WA_HISTOGRAM) {
            wa_buf_appendf(out, "%s", m->name);
            labels_open(out, m, NULL);
            wa_buf_appendf(out, " %lld\n", (long long)wa_metric_value(m));
            continue;
        }
        int64_t cum = 0;
        for (int i = 0; i < WA_HIST_BUCKETS; i++) {
            char le[32];
            cum += atomic_load_explicit(&m->buckets[i], memory_order_relaxed);
            snprintf(le, sizeof le, "le=\"%g\"", bucket_le[i]);
            wa_buf_appendf(out, "%s_bucket", m->name);
            labels_open(out, m, le);
            wa_buf_appendf(out, " %lld\n", (long long)cum);
        }
        int64_t count = wa_metric_value(m);
        wa_buf_appendf(out, "%s_bucket", m->name);
        labels_open(out, m, "le=\"+Inf\"");
        wa_buf_appendf(out, " %lld\n%s_sum", (long long)count, m->name);
        labels_open(out, m, NULL);
        wa_buf_appendf(out, " %.6f\n%s_count", (double)atomic_load(&m->sum_us) / 1e6, m->name);
        labels_open(out, m, NULL);
        wa_buf_appendf(out, " %lld\n", (long long)count);
    }
}
