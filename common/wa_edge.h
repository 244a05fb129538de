/* wa_edge.h - what a listener that faces the internet (ingress, the dashboard) guards itself
 * with: the reverse proxies it believes about the client's address, a cap on connections from
 * one address, and a deadline by which each request must have arrived whole. */
#ifndef WA_EDGE_H
#define WA_EDGE_H

#include <microhttpd.h>
#include <stddef.h>

struct wa_edge {
    const char *trusted_proxies; /* TRUSTED_PROXIES: whose X-Forwarded-For names the client */
    long per_ip;                 /* open connections from one address at most; 0: no cap */
    long deadline_s;             /* seconds for a request's headers and body, however slow */
    struct MHD_OptionItem opts[3];
};

/* The settings, for a service's config table. P is the service's prefix ("INGRESS"). */
#define WA_EDGE_CFG(P, e, per_ip_def, deadline_def)                                                \
    {"TRUSTED_PROXIES",                                                                            \
     "",                                                                                           \
     WA_CFG_STR,                                                                                   \
     0,                                                                                            \
     0,                                                                                            \
     NULL,                                                                                         \
     "addresses or networks of the reverse proxies in front (a.b.c.d/n, IPv6 too): from them, "    \
     "X-Forwarded-For names the client; empty: the connection's own address is the client",        \
     &(e).trusted_proxies,                                                                         \
     NULL},                                                                                        \
        {P "_MAX_CONNS_PER_IP",                                                                    \
         per_ip_def,                                                                               \
         WA_CFG_INT,                                                                               \
         0,                                                                                        \
         100000,                                                                                   \
         NULL,                                                                                     \
         "open connections from one address at most (0: no cap; a proxy in front is one "          \
         "address, so cap there instead)",                                                         \
         NULL,                                                                                     \
         &(e).per_ip},                                                                             \
    {                                                                                              \
        P "_REQUEST_DEADLINE_S", deadline_def, WA_CFG_INT, 1, 3600, NULL,                          \
            "a request must have arrived whole (headers and body) this many seconds after the "    \
            "connection opened or the previous answer went; a slower one is cut",                  \
            NULL, &(e).deadline_s                                                                  \
    }

/* Checks TRUSTED_PROXIES (-1 with err naming the bad entry: the service exits 78), registers
 * the metrics and starts the deadline watch. Once per process. */
int wa_edge_start(struct wa_edge *e, char *err, size_t errsz);

/* For MHD_OPTION_ARRAY: the per-address cap and the connection notices the deadline needs. */
const struct MHD_OptionItem *wa_edge_options(struct wa_edge *e);

/* The request on c has arrived whole: its deadline stops while the service answers. */
void wa_edge_received(struct MHD_Connection *c);
/* The answer on c is done (call it from MHD_OPTION_NOTIFY_COMPLETED): the next request on a
 * kept-alive connection has its own deadline from now. */
void wa_edge_answered(struct MHD_Connection *c);

/* The client's address: the connection's own, or, when that is a trusted proxy, the nearest
 * address in X-Forwarded-For that is not one. sz: INET6_ADDRSTRLEN. "" when unknown. */
void wa_edge_client_ip(struct MHD_Connection *c, char *out, size_t sz);

/* Pure: the client named by a forwarded chain ("client, proxy1, proxy2") as seen from a peer,
 * given the trusted proxies. Copies into out the rightmost entry that is not trusted; keeps the
 * peer when the peer is not trusted, or when an entry is not an address. */
void wa_edge_resolve(const char *trusted, const char *peer, const char *forwarded, char *out,
                     size_t sz);

#endif
