/* baileys.c - POST /api/whatsapp/baileys: check the bridge's secret and address, normalize, hand to
 * Kafka. */
#include "ingress.h"
#include "wa_http.h"
#include "wa_log.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

static void client_ip(struct MHD_Connection *c, char *out, size_t sz)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    out[0] = '\0';
    if (ci && ci->client_addr && ci->client_addr->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)ci->client_addr)->sin_addr, out,
                  (socklen_t)sz);
}

enum MHD_Result ing_baileys_inbound(struct ing_request *r)
{
    struct MHD_Connection *c = r->conn;
    char ip[INET_ADDRSTRLEN];
    client_ip(c, ip, sizeof ip);
    if (!ing_ip_allowed(ing_cfg.baileys_allowed_ips, ip)) {
        ing_count(ING_BAILEYS, ING_IP_REFUSED);
        wa_warn("baileys webhook from a refused address ip=%s", ip);
        return wa_http_error(c, 403, "ip_not_allowed", "this address may not post bridge events");
    }
    const char *secret = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-BAILEYS-SECRET");
    if (!secret || !*secret) {
        ing_count(ING_BAILEYS, ING_MISSING_AUTH);
        return wa_http_error(c, 401, "missing_secret", "X-BAILEYS-SECRET header is required");
    }
    const char *want = ing_cfg.baileys_secret;
    if (!wa_ct_equal(secret, strlen(secret), want, strlen(want))) {
        ing_count(ING_BAILEYS, ING_BAD_AUTH);
        wa_warn("baileys webhook with a wrong secret ip=%s", ip);
        return wa_http_error(c, 403, "bad_secret", "X-BAILEYS-SECRET does not match");
    }
    char err[256], key[17];
    char *event = NULL;
    enum ing_baileys_kind kind;
    if (ing_baileys_normalize(r->body.data, r->body.len, wa_wall_ms(), &event, &kind, key, err,
                              sizeof err) < 0) {
        ing_count(ING_BAILEYS, ING_BAD_REQUEST);
        wa_warn("baileys webhook refused reason=\"%s\"", err);
        return wa_http_error(c, 400, "bad_request", err);
    }
    const char *topic = kind == ING_BAILEYS_STATUS ? ing_cfg.topic_status : ing_cfg.topic_inbound;
    enum MHD_Result ret = ing_produce_and_suspend(r, topic, key, event, strlen(event));
    free(event);
    return ret;
}
