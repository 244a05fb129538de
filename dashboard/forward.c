/* forward.c - the operator's reply, handed to the send API like any application's request: the
 * dashboard writes no message itself, so the reply is routed, stored once per key, refused or
 * held exactly as the router decides for everyone (docs/architecture.md §3). */
#include "dash.h"
#include "wa_client.h"
#include "wa_http.h"
#include "wa_log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* How long the send API may take the router's decision: the answer then says what happened. */
#define WAIT_S "3"

enum MHD_Result dash_reply_forward(struct MHD_Connection *c, const char *lead, const char *body,
                                   size_t len)
{
    wa_metric_add(dash_m.requests, 1);
    if (!dash_cfg.send_token || !dash_cfg.send_token[0])
        return wa_http_error(c, 503, "replies_off",
                             "replies are off: DASHBOARD_SEND_TOKEN (the send API's token) is not "
                             "set");
    unsigned status = 500;
    char err[256] = "", phone[64];
    if (dash_lead_phone(lead, phone, sizeof phone, &status, err, sizeof err) < 0)
        return dash_fail(c, status, err);
    json_t *req = dash_reply_request(body ? body : "", len, phone, err, sizeof err);
    if (!req) {
        wa_metric_add(dash_m.bad, 1);
        return wa_http_error(c, 400, "bad_request", err);
    }
    char *payload = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    char auth[600];
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", dash_cfg.send_token);
    const char *headers[] = {auth, "Content-Type: application/json", "Prefer: wait=" WAIT_S, NULL};
    CURL *h = curl_easy_init();
    struct wa_client_result r;
    wa_client_call(h, "POST", dash_cfg.send_url, headers, payload, strlen(payload), NULL, 2000,
                   8000, &r);
    curl_easy_cleanup(h);
    free(payload);
    enum MHD_Result ret;
    if (r.status == 0) {
        wa_warn("reply lead=%s: the send API at %s did not answer: %s", lead, dash_cfg.send_url,
                r.error);
        ret = wa_http_error(c, 503, "send_api_unavailable",
                            "the send API did not answer; the reply may not have been taken: send "
                            "it again (the same reply is sent once)");
    } else if (r.status == 401 || r.status == 403) {
        wa_error("reply lead=%s: the send API refused the dashboard's token (HTTP %ld)", lead,
                 r.status);
        ret = wa_http_error(c, 502, "send_api_refused_token",
                            "the send API refused the dashboard's token (DASHBOARD_SEND_TOKEN)");
    } else {
        /* Its answer as it is: the decision (200), accepted (202), or why not (400, 409, 503). */
        if (r.status == 200 || r.status == 202) wa_metric_add(dash_m.replies, 1);
        wa_info("reply lead=%s to=%s: send API HTTP %ld", lead, phone, r.status);
        ret = wa_http_reply(c, (unsigned)r.status, "application/json",
                            r.body.data ? r.body.data : "", r.body.len);
    }
    wa_buf_free(&r.body);
    return ret;
}
