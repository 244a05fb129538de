/* wa_edge.c - the guards of a listener that faces the internet.
 *
 * libmicrohttpd caps connections per address itself (MHD_OPTION_PER_IP_CONNECTION_LIMIT), but
 * its only timeout is for idleness: a client that sends one byte of its headers every few
 * seconds holds its connection for ever. So each connection is watched here, from its opening
 * (and from each answer on a kept-alive one) until its request has arrived whole; a watch thread
 * shuts down the socket of one that takes longer than the deadline, and libmicrohttpd then
 * closes it as it would any connection the client dropped. The socket is only shut down, never
 * closed here, and only while libmicrohttpd has not yet said it closed the connection (the
 * notice comes before the close, under the same lock as the watch), so no other connection's
 * socket can be hit. */
#include "wa_edge.h"
#include "wa_log.h"
#include "wa_metrics.h"
#include "wa_net.h"
#include "wa_util.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* One connection, from its opening to libmicrohttpd's notice that it closed. */
struct watched {
    struct watched *prev, *next;
    int fd;
    int64_t since_ms; /* its current request's deadline counts from here */
    int busy;         /* the request is in, and being answered: no deadline */
};

static struct {
    pthread_mutex_t mu;
    struct watched *head;
    const struct wa_edge *cfg;
    struct wa_metric *open, *cut;
} edge = {PTHREAD_MUTEX_INITIALIZER, NULL, NULL, NULL, NULL};

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    (void)cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        struct watched *w = wa_xcalloc(1, sizeof *w);
        w->fd = ci ? ci->connect_fd : -1;
        w->since_ms = wa_now_ms();
        pthread_mutex_lock(&edge.mu);
        w->next = edge.head;
        if (edge.head) edge.head->prev = w;
        edge.head = w;
        pthread_mutex_unlock(&edge.mu);
        *socket_context = w;
        wa_metric_add(edge.open, 1);
        return;
    }
    struct watched *w = *socket_context;
    if (!w) return;
    pthread_mutex_lock(&edge.mu);
    if (w->prev)
        w->prev->next = w->next;
    else
        edge.head = w->next;
    if (w->next) w->next->prev = w->prev;
    pthread_mutex_unlock(&edge.mu);
    free(w);
    *socket_context = NULL;
    wa_metric_add(edge.open, -1);
}

static struct watched *watched_of(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

void wa_edge_received(struct MHD_Connection *c)
{
    struct watched *w = watched_of(c);
    if (!w) return;
    pthread_mutex_lock(&edge.mu);
    w->busy = 1;
    pthread_mutex_unlock(&edge.mu);
}

void wa_edge_answered(struct MHD_Connection *c)
{
    struct watched *w = watched_of(c);
    if (!w) return;
    pthread_mutex_lock(&edge.mu);
    w->busy = 0;
    w->since_ms = wa_now_ms();
    pthread_mutex_unlock(&edge.mu);
}

static void *watch(void *arg)
{
    (void)arg;
    while (wa_running()) {
        wa_sleep_ms(250);
        int64_t limit = wa_now_ms() - edge.cfg->deadline_s * 1000;
        pthread_mutex_lock(&edge.mu);
        for (struct watched *w = edge.head; w; w = w->next)
            if (!w->busy && w->fd >= 0 && w->since_ms < limit) {
                shutdown(w->fd, SHUT_RDWR);
                w->fd = -1; /* once */
                wa_metric_add(edge.cut, 1);
            }
        pthread_mutex_unlock(&edge.mu);
    }
    return NULL;
}

int wa_edge_start(struct wa_edge *e, char *err, size_t errsz)
{
    char why[256];
    if (wa_netlist_check(e->trusted_proxies, why, sizeof why) < 0) {
        snprintf(err, errsz, "TRUSTED_PROXIES: %s", why);
        return -1;
    }
    edge.cfg = e;
    edge.open = wa_metric_new(WA_GAUGE, "wa_http_connections", "",
                              "connections open on the public listener");
    edge.cut = wa_metric_new(WA_COUNTER, "wa_http_deadline_cut_total", "",
                             "connections cut because their request had not arrived whole in "
                             "time (slow clients)");
    pthread_t t;
    pthread_create(&t, NULL, watch, NULL);
    pthread_detach(t);
    e->opts[0] =
        (struct MHD_OptionItem){MHD_OPTION_PER_IP_CONNECTION_LIMIT, (intptr_t)e->per_ip, NULL};
    e->opts[1] =
        (struct MHD_OptionItem){MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)on_connection, NULL};
    e->opts[2] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
    return 0;
}

const struct MHD_OptionItem *wa_edge_options(struct wa_edge *e)
{
    return e->opts;
}

void wa_edge_resolve(const char *trusted, const char *peer, const char *forwarded, char *out,
                     size_t sz)
{
    snprintf(out, sz, "%s", peer);
    if (!forwarded || !wa_netlist_match(trusted, peer)) return;
    /* From the right: each entry was added by the hop after it; the first that is not one of
     * our proxies is the client as far as anyone we trust can tell. */
    const char *end = forwarded + strlen(forwarded);
    while (end > forwarded) {
        const char *start = end;
        while (start > forwarded && start[-1] != ',')
            start--;
        const char *a = start, *b = end;
        while (a < b && (*a == ' ' || *a == '\t'))
            a++;
        while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
            b--;
        char hop[INET6_ADDRSTRLEN];
        if (b - a <= 0 || (size_t)(b - a) >= sizeof hop) return;
        memcpy(hop, a, (size_t)(b - a));
        hop[b - a] = '\0';
        if (!wa_net_is_address(hop)) return; /* not an address: believe nothing past it */
        snprintf(out, sz, "%s", hop);
        if (!wa_netlist_match(trusted, hop)) return;
        end = start > forwarded ? start - 1 : forwarded;
    }
}

static void peer_ip(struct MHD_Connection *c, char *out, size_t sz)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    out[0] = '\0';
    if (!ci || !ci->client_addr) return;
    if (ci->client_addr->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)ci->client_addr)->sin_addr, out,
                  (socklen_t)sz);
    else if (ci->client_addr->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)ci->client_addr)->sin6_addr, out,
                  (socklen_t)sz);
}

void wa_edge_client_ip(struct MHD_Connection *c, char *out, size_t sz)
{
    char peer[INET6_ADDRSTRLEN];
    peer_ip(c, peer, sizeof peer);
    const char *trusted = edge.cfg ? edge.cfg->trusted_proxies : NULL;
    if (!trusted || !*trusted || !peer[0]) {
        snprintf(out, sz, "%s", peer);
        return;
    }
    wa_edge_resolve(trusted, peer,
                    MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Forwarded-For"), out, sz);
}
