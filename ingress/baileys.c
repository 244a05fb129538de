/* baileys.c - POST /api/whatsapp/baileys: check the bridge's secret and address, normalize, hand to
 * Kafka. */
#include "ingress.h"
#include "wa_http.h"
#include "wa_log.h"
#include "wa_net.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

/* The bridge's address and secret, for every bridge endpoint alike. Returns 1 when the request
 * is refused, with the answer queued in *ret. */
static int bridge_refused(struct ing_request *r, enum MHD_Result *ret)
{
    struct MHD_Connection *c = r->conn;
    char ip[INET6_ADDRSTRLEN];
    wa_edge_client_ip(c, ip, sizeof ip);
    /* An empty allowlist allows any address; the secret is checked either way. */
    const char *allowed = ing_cfg.baileys_allowed_ips;
    if (allowed && allowed[0] && !wa_netlist_match(allowed, ip)) {
        ing_count(r->provider, ING_IP_REFUSED);
        wa_warn("bridge request from a refused address ip=%s path=%s", ip, r->url);
        *ret = wa_http_error(c, 403, "ip_not_allowed", "this address may not post bridge events");
        return 1;
    }
    const char *secret = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-BAILEYS-SECRET");
    if (!secret || !*secret) {
        ing_count(r->provider, ING_MISSING_AUTH);
        *ret = wa_http_error(c, 401, "missing_secret", "X-BAILEYS-SECRET header is required");
        return 1;
    }
    const char *want = ing_cfg.baileys_secret;
    if (!wa_ct_equal(secret, strlen(secret), want, strlen(want))) {
        ing_count(r->provider, ING_BAD_AUTH);
        wa_warn("bridge request with a wrong secret ip=%s path=%s", ip, r->url);
        *ret = wa_http_error(c, 403, "bad_secret", "X-BAILEYS-SECRET does not match");
        return 1;
    }
    return 0;
}

enum MHD_Result ing_baileys_inbound(struct ing_request *r)
{
    enum MHD_Result ret;
    if (bridge_refused(r, &ret)) return ret;
    char err[256], key[17];
    char *event = NULL;
    enum ing_baileys_kind kind;
    if (ing_baileys_normalize(r->body.data, r->body.len, wa_wall_ms(), &event, &kind, key, err,
                              sizeof err) < 0) {
        ing_count(ING_BAILEYS, ING_BAD_REQUEST);
        wa_warn("baileys webhook refused reason=\"%s\"", err);
        return wa_http_error(r->conn, 400, "bad_request", err);
    }
    const char *topic = kind == ING_BAILEYS_STATUS ? ing_cfg.topic_status : ing_cfg.topic_inbound;
    ret = ing_produce_and_suspend(r, topic, key, event, strlen(event));
    free(event);
    return ret;
}

/* An entry the bridge will never deliver becomes a wa.error with its payload: the operator
 * learns of it, and nothing is lost silently. 204 only once Kafka has the record, so the bridge
 * keeps its "to report" marker until then. */
enum MHD_Result ing_baileys_parked(struct ing_request *r)
{
    enum MHD_Result ret;
    if (bridge_refused(r, &ret)) return ret;
    char err[256], key[ING_PARKED_KEY_MAX];
    char *record = NULL;
    if (ing_parked_normalize(r->body.data, r->body.len, &record, key, err, sizeof err) < 0) {
        ing_count(ING_PARKED, ING_BAD_REQUEST);
        wa_warn("bridge parked report refused reason=\"%s\"", err);
        return wa_http_error(r->conn, 400, "bad_request", err);
    }
    wa_warn("the bridge parked an entry it cannot deliver key=%s bytes=%zu: raising wa.error", key,
            r->body.len);
    ret = ing_produce_and_suspend(r, ing_cfg.topic_error, key, record, strlen(record));
    free(record);
    return ret;
}
