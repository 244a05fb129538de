/* wa_net.c - lists of addresses and networks (BAILEYS_ALLOWED_IPS, TRUSTED_PROXIES): checked
 * whole at start, matched per request. Pure. */
#include "wa_net.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One entry: an address, or a network "address/bits" with 0..32 bits (IPv4) or
 * 0..128 (IPv6), written in full: a missing or non-numeric prefix length is an error, never a
 * /0 that allows every address. Fills family, the 16 bytes of the network and its bits. */
static int cidr_parse(const char *entry, size_t n, int *family, unsigned char net[16], int *bits)
{
    char buf[INET6_ADDRSTRLEN + 8];
    while (n && (*entry == ' ' || *entry == '\t'))
        entry++, n--;
    while (n && (entry[n - 1] == ' ' || entry[n - 1] == '\t'))
        n--;
    if (n == 0 || n >= sizeof buf) return -1;
    memcpy(buf, entry, n);
    buf[n] = '\0';
    char *slash = strchr(buf, '/');
    int len = -1;
    if (slash) {
        *slash = '\0';
        const char *d = slash + 1;
        if (!d[0] || strlen(d) > 3 || strspn(d, "0123456789") != strlen(d)) return -1;
        len = atoi(d);
    }
    memset(net, 0, 16);
    if (inet_pton(AF_INET, buf, net) == 1) {
        *family = AF_INET;
        *bits = len < 0 ? 32 : len;
        return *bits <= 32 ? 0 : -1;
    }
    if (inet_pton(AF_INET6, buf, net) == 1) {
        *family = AF_INET6;
        *bits = len < 0 ? 128 : len;
        return *bits <= 128 ? 0 : -1;
    }
    return -1;
}

static int prefix_equal(const unsigned char *a, const unsigned char *b, int bits)
{
    int whole = bits / 8, rest = bits % 8;
    if (memcmp(a, b, (size_t)whole) != 0) return 0;
    if (!rest) return 1;
    unsigned char mask = (unsigned char)(0xFFu << (8 - rest));
    return (a[whole] & mask) == (b[whole] & mask);
}

int wa_netlist_check(const char *list, char *errbuf, size_t errsz)
{
    const char *p = list ? list : "";
    for (int i = 1; *p; i++) {
        size_t n = strcspn(p, ",");
        int family, bits;
        unsigned char net[16];
        if (cidr_parse(p, n, &family, net, &bits) < 0) {
            snprintf(errbuf, errsz,
                     "entry %d \"%.*s\" is not an address or a network (a.b.c.d, a.b.c.d/n with n "
                     "0..32, an IPv6 address or address/n with n 0..128)",
                     i, (int)(n < 80 ? n : 80), p);
            return -1;
        }
        p += n;
        if (*p == ',') p++;
    }
    return 0;
}

int wa_netlist_match(const char *list, const char *ip)
{
    if (!list || !*list) return 0;
    unsigned char addr[16] = {0};
    int family;
    if (!ip) return 0;
    if (inet_pton(AF_INET, ip, addr) == 1)
        family = AF_INET;
    else if (inet_pton(AF_INET6, ip, addr) == 1)
        family = AF_INET6;
    else
        return 0;
    const char *p = list;
    while (*p) {
        size_t n = strcspn(p, ",");
        int fam, bits;
        unsigned char net[16];
        /* A bad entry matches nothing (and the services refuse to start with one). */
        if (cidr_parse(p, n, &fam, net, &bits) == 0 && fam == family &&
            prefix_equal(addr, net, bits))
            return 1;
        p += n;
        if (*p == ',') p++;
    }
    return 0;
}

int wa_net_is_address(const char *s)
{
    unsigned char buf[16];
    return s && (inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1);
}
