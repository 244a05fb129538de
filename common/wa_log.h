/* wa_log.h - one line per event on stderr: "ts service[pid]: level: message key=value". */
#ifndef WA_LOG_H
#define WA_LOG_H

enum wa_log_level { WA_LOG_DEBUG = 0, WA_LOG_INFO, WA_LOG_WARN, WA_LOG_ERROR };

void wa_log_init(const char *service);
/* Accepts debug|info|warn|error; returns -1 for anything else. */
int wa_log_set_level(const char *name);
int wa_log_enabled(enum wa_log_level level);
void wa_log_write(enum wa_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The level is checked before the arguments are formatted. */
#define wa_log(level, ...)                                                                         \
    do {                                                                                           \
        if (wa_log_enabled(level)) wa_log_write(level, __VA_ARGS__);                               \
    } while (0)
#define wa_debug(...) wa_log(WA_LOG_DEBUG, __VA_ARGS__)
#define wa_info(...) wa_log(WA_LOG_INFO, __VA_ARGS__)
#define wa_warn(...) wa_log(WA_LOG_WARN, __VA_ARGS__)
#define wa_error(...) wa_log(WA_LOG_ERROR, __VA_ARGS__)

#endif
