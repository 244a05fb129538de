/* wa_config.c - table-driven environment configuration. */
#include "wa_config.h"
#include "wa_metrics.h"
#include "wa_log.h"
#include "wa_util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *env(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL; /* empty means unset, as in kcat */
}

int wa_config_split_listen(const char *s, char *host, size_t hostsz, unsigned *port)
{
    const char *colon = strrchr(s, ':');
    if (!colon || colon == s) return -1;
    size_t hl = (size_t)(colon - s);
    if (hl >= hostsz) return -1;
    char *end;
    errno = 0;
    long p = strtol(colon + 1, &end, 10);
    if (errno || *end || end == colon + 1 || p < 0 || p > 65535) return -1;
    memcpy(host, s, hl);
    host[hl] = '\0';
    *port = (unsigned)p;
    return 0;
}

static int word_in(const char *word, const char *choices)
{
    size_t wl = strlen(word);
    const char *p = choices;
    while (*p) {
        const char *bar = strchr(p, '|');
        size_t l = bar ? (size_t)(bar - p) : strlen(p);
        if (l == wl && strncmp(p, word, l) == 0) return 1;
        if (!bar) break;
        p = bar + 1;
    }
    return 0;
}

static int check(const struct wa_cfg *c, const char *v)
{
    switch (c->type) {
    case WA_CFG_STR:
    case WA_CFG_SECRET:
        if (c->str_out) *c->str_out = v;
        return 0;
    case WA_CFG_INT: {
        char *end;
        errno = 0;
        long n = strtol(v, &end, 10);
        if (errno || *end || end == v) {
            fprintf(stderr, "config: %s=%s is not a whole number (%s)\n", c->name, v, c->help);
            return -1;
        }
        if (n < c->min || n > c->max) {
            fprintf(stderr, "config: %s=%ld is out of range %ld..%ld (%s)\n", c->name, n, c->min,
                    c->max, c->help);
            return -1;
        }
        if (c->int_out) *c->int_out = n;
        return 0;
    }
    case WA_CFG_URL:
        if (strncmp(v, "http://", 7) != 0 && strncmp(v, "https://", 8) != 0) {
            fprintf(stderr, "config: %s=%s must start with http:// or https:// (%s)\n", c->name, v,
                    c->help);
            return -1;
        }
        if (strchr(v, '#') || strchr(v, ' ')) {
            fprintf(stderr, "config: %s=%s must not contain '#' or spaces (%s)\n", c->name, v,
                    c->help);
            return -1;
        }
        if (c->str_out) *c->str_out = v;
        return 0;
    case WA_CFG_LISTEN: {
        char host[256];
        unsigned port;
        if (wa_config_split_listen(v, host, sizeof host, &port) < 0) {
            fprintf(stderr, "config: %s=%s must be host:port, e.g. 127.0.0.1:8080 (%s)\n", c->name,
                    v, c->help);
            return -1;
        }
        if (c->str_out) *c->str_out = v;
        return 0;
    }
    case WA_CFG_ENUM:
        if (!word_in(v, c->choices)) {
            fprintf(stderr, "config: %s=%s must be one of %s (%s)\n", c->name, v, c->choices,
                    c->help);
            return -1;
        }
        if (c->str_out) *c->str_out = v;
        return 0;
    }
    return -1;
}

int wa_config_load(const struct wa_cfg *table, size_t n)
{
    int errors = 0;
    for (size_t i = 0; i < n; i++) {
        const struct wa_cfg *c = &table[i];
        const char *v = env(c->name);
        if (!v) v = c->def;
        if (!v) {
            fprintf(stderr, "config: %s is required (%s)\n", c->name, c->help);
            errors++;
            continue;
        }
        /* An empty default means "optional and unset". */
        if (!*v) {
            if (c->str_out) *c->str_out = NULL;
            continue;
        }
        if (check(c, v) < 0) errors++;
    }
    return errors;
}

const char *wa_config_shown(const char *value, enum wa_cfg_type type)
{
    if (type == WA_CFG_SECRET) return "****";
    /* A URL with userinfo, and libpq's key=value form or URL query with a password= in it. */
    if ((strstr(value, "://") && strchr(value, '@')) || strcasestr(value, "password"))
        return "(set, contains credentials)";
    return value;
}

void wa_config_log(const struct wa_cfg *table, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const struct wa_cfg *c = &table[i];
        const char *v = env(c->name);
        if (!v)
            v = c->def && *c->def ? c->def : "(unset)";
        else
            v = wa_config_shown(v, c->type);
        wa_info("config %s=%s", c->name, v);
    }
}

int wa_service_start(const char *service, const struct wa_cfg *table, size_t n,
                     const char *const *log_level)
{
    /* Settings every service has. */
    static const struct wa_cfg every[] = {
        {"METRICS_TOKEN", "", WA_CFG_SECRET, 0, 0, NULL,
         "bearer token GET /metrics needs; empty: /metrics answers loopback clients only",
         &wa_metrics_token, NULL},
    };
    wa_log_init(service);
    int bad = wa_config_load(table, n) + wa_config_load(every, WA_CFG_COUNT(every));
    if (bad > 0) return WA_EX_CONFIG;
    if (log_level && *log_level) wa_log_set_level(*log_level);
    wa_config_log(table, n);
    wa_config_log(every, WA_CFG_COUNT(every));
    wa_signals_install();
    return 0;
}
