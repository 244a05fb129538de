/* wa_log.c - stderr logging with a level gate; one write() per line so lines never interleave. */
#include "wa_log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static const char *service_name = "wa";
static enum wa_log_level min_level = WA_LOG_INFO;
static const char *level_names[] = {"debug", "info", "warn", "error"};

void wa_log_init(const char *service)
{
    service_name = service;
}

int wa_log_set_level(const char *name)
{
    for (int i = 0; i < 4; i++) {
        if (strcmp(name, level_names[i]) == 0) {
            min_level = (enum wa_log_level)i;
            return 0;
        }
    }
    return -1;
}

int wa_log_enabled(enum wa_log_level level)
{
    return level >= min_level;
}

void wa_log_write(enum wa_log_level level, const char *fmt, ...)
{
    char line[4096];
    struct timeval tv;
    struct tm tm;
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    int n = snprintf(line, sizeof line,
                     "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s[%d]: %s: ", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     (long)(tv.tv_usec / 1000), service_name, (int)getpid(), level_names[level]);
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    va_end(ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len > sizeof line - 2) len = sizeof line - 2;
    line[len++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, len);
    (void)w;
}
