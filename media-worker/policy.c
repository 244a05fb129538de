/* policy.c - the fetch's decisions with no I/O: the host allowlist, private addresses, the size
 * cap; table-tested in tests/unit/test_media.c (the type decisions are common/wa_media.c's). */
#include "media.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int mw_host_allowed(const char *allowlist, const char *host, long port)
{
    if (!allowlist || !host || !*host) return 0;
    size_t hl = strlen(host);
    const char *p = allowlist;
    while (*p) {
        while (*p == ',' || *p == ' ')
            p++;
        size_t n = strcspn(p, ", ");
        if (n == 0) break;
        char e[256];
        if (n < sizeof e) {
            memcpy(e, p, n);
            e[n] = '\0';
            long eport = -1;
            char *colon = strrchr(e, ':');
            if (colon && !strchr(e, ']')) {
                eport = strtol(colon + 1, NULL, 10);
                *colon = '\0';
            }
            size_t el = strlen(e);
            int match;
            if (e[0] == '.')
                match = hl > el && strcasecmp(host + hl - el, e) == 0;
            else
                match = strcasecmp(host, e) == 0;
            if (match && (eport < 0 || eport == port)) return 1;
        }
        p += n;
    }
    return 0;
}

int mw_ip_private(const char *ip)
{
    unsigned char a[16];
    if (inet_pton(AF_INET, ip, a) == 1) {
        return a[0] == 0 || a[0] == 10 || a[0] == 127 || (a[0] == 169 && a[1] == 254) ||
               (a[0] == 172 && (a[1] & 0xF0) == 16) || (a[0] == 192 && a[1] == 168) ||
               (a[0] == 100 && (a[1] & 0xC0) == 64) || a[0] >= 224;
    }
    if (inet_pton(AF_INET6, ip, a) == 1) {
        static const unsigned char zero[16];
        if (memcmp(a, zero, 15) == 0 && (a[15] == 0 || a[15] == 1)) return 1; /* :: and ::1 */
        if ((a[0] & 0xFE) == 0xFC) return 1;                                  /* fc00::/7 */
        if (a[0] == 0xFE && (a[1] & 0xC0) == 0x80) return 1;                  /* fe80::/10 */
        if (a[0] == 0xFF) return 1;                                           /* multicast */
        /* ::ffff:a.b.c.d carries an IPv4 address. */
        static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF};
        if (memcmp(a, mapped, 12) == 0) {
            char v4[16];
            snprintf(v4, sizeof v4, "%u.%u.%u.%u", a[12], a[13], a[14], a[15]);
            return mw_ip_private(v4);
        }
        return 0;
    }
    return 1; /* not an address at all: refuse */
}

int mw_size_ok(int64_t announced, uint64_t so_far, uint64_t chunk, uint64_t max)
{
    if (announced >= 0 && (uint64_t)announced > max) return 0;
    return so_far <= max && chunk <= max - so_far;
}
