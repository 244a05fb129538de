/* wa_config.h - configuration from the environment: one table per service, validated at start. */
#ifndef WA_CONFIG_H
#define WA_CONFIG_H

#include <stddef.h>

enum wa_cfg_type {
    WA_CFG_STR,    /* any non-empty string */
    WA_CFG_SECRET, /* a string that is masked when printed */
    WA_CFG_INT,    /* a whole number within [min, max] */
    WA_CFG_URL,    /* http:// or https:// URL */
    WA_CFG_LISTEN, /* host:port to bind */
    WA_CFG_ENUM,   /* one of the '|'-separated words in choices */
};

struct wa_cfg {
    const char *name; /* environment variable */
    const char *def;  /* default, or NULL when the variable is required */
    enum wa_cfg_type type;
    long min, max;        /* WA_CFG_INT bounds */
    const char *choices;  /* WA_CFG_ENUM words, e.g. "auto|twilio|baileys" */
    const char *help;     /* one line for the error message and docs */
    const char **str_out; /* filled for string-like types */
    long *int_out;        /* filled for WA_CFG_INT */
};

/* Reads and validates every entry; empty counts as unset. Prints one line per
 * error on stderr and returns the number of errors (main exits 78 when > 0).
 * Values point into the environment or into the defaults: never freed. */
int wa_config_load(const struct wa_cfg *table, size_t n);

/* Logs the effective values, secrets masked. */
void wa_config_log(const struct wa_cfg *table, size_t n);
/* How a set value appears in that log: secrets masked, and any value that carries credentials
 * (a URL with user:password@, libpq's "password=" in key=value form or a URL's query) replaced. */
const char *wa_config_shown(const char *value, enum wa_cfg_type type);

/* Splits "host:port"; returns -1 when it is not one. host gets at most hostsz-1 bytes. Port 0
 * is one: any free port, for instances that share a network (the admin listener logs its port). */
int wa_config_split_listen(const char *s, char *host, size_t hostsz, unsigned *port);

/* A service's start: logging named service, the table loaded and logged, the
 * log level applied, signal handlers installed. Returns 0, or WA_EX_CONFIG
 * (78) for main to return when the configuration is bad. */
int wa_service_start(const char *service, const struct wa_cfg *table, size_t n,
                     const char *const *log_level);

#define WA_CFG_COUNT(t) (sizeof(t) / sizeof((t)[0]))

#endif
