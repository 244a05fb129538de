/* holds.c - re-engagement (docs/architecture.md §3.2): the template that invites a contact to
 * write, and the sweep that fails held messages whose time ran out. Holds start in outbound.c
 * and end in the inbound statement of store.c, where the contact's reply releases them. */
#include "router.h"
#include "wa_log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static json_t *variables; /* REENGAGE_VARIABLES, parsed at start; NULL when not set */

int rtr_reengage_load(char *err, size_t errsz)
{
    const char *sid = rtr_cfg.reengage_sid;
    if (sid && !sid[0]) sid = rtr_cfg.reengage_sid = NULL;
    if (!sid) return 0;
    if (!wa_twilio_sid(sid, "HX")) {
        snprintf(err, errsz, "REENGAGE_CONTENT_SID=%s is not a Content SID (HX and 32 hex digits)",
                 sid);
        return -1;
    }
    if (strcmp(rtr_cfg.channels.twilio_default, "twilio") == 0) {
        snprintf(err, errsz,
                 "REENGAGE_CONTENT_SID needs TWILIO_WA_FROM: the number the "
                 "template goes from, which the contact's reply releases");
        return -1;
    }
    const char *v = rtr_cfg.reengage_vars;
    if (!v || !v[0]) return 0;
    json_error_t je;
    variables = json_loads(v, JSON_REJECT_DUPLICATES, &je);
    const char *k;
    json_t *x;
    int strings = json_is_object(variables);
    json_object_foreach(variables, k, x) strings = strings && json_is_string(x);
    if (!strings) {
        snprintf(err, errsz,
                 "REENGAGE_VARIABLES must be a JSON object of strings, e.g. {\"1\":\"{name}\"}%s%s",
                 variables ? "" : ": ", variables ? "" : je.text);
        json_decref(variables);
        variables = NULL;
        return -1;
    }
    return 0;
}

/* "{name}" in a value becomes the contact's profile name ("" when unknown): WhatsApp shows the
 * template as the contact's first message from this number, so it greets them by name. */
json_t *rtr_reengage_variables(const char *name)
{
    if (!variables) return NULL;
    json_t *out = json_object();
    const char *k;
    json_t *x;
    json_object_foreach(variables, k, x)
    {
        const char *v = json_string_value(x);
        const char *at = strstr(v, "{name}");
        if (!at) {
            json_object_set_new(out, k, json_string(v));
            continue;
        }
        char buf[512];
        snprintf(buf, sizeof buf, "%.*s%s%s", (int)(at - v), v, name ? name : "",
                 at + strlen("{name}"));
        json_object_set_new(out, k, json_string(buf));
    }
    return out;
}

void rtr_holds_expire(struct rtr *r)
{
    if (!r->pg.conn) return;
    char now[24], err[512];
    snprintf(now, sizeof now, "%lld", (long long)wa_wall_ms());
    const char *p[] = {rtr_cfg.topic_events, rtr_cfg.topic_error, now};
    enum wa_result res;
    PGresult *q = wa_pg_exec(&r->pg, "holds_expire", 3, p, &res, err, sizeof err);
    if (!q) {
        wa_warn("postgres holds_expire: %s", err);
        return;
    }
    long n = strtol(PQgetvalue(q, 0, 0), NULL, 10);
    PQclear(q);
    if (n > 0) {
        wa_metric_add(rtr_m.held_expired, n);
        wa_info("%ld held message(s) failed: the contact did not write in time", n);
    }
}

void rtr_holds_start(struct rtr *r)
{
    if (!r->pg.conn || !rtr_cfg.reengage_sid) return;
    char err[512];
    enum wa_result res;
    PGresult *q = wa_pg_exec(&r->pg, "holds_missing", 0, NULL, &res, err, sizeof err);
    if (!q) {
        wa_warn("postgres holds_missing: %s", err);
        return;
    }
    for (int i = 0; i < PQntuples(q); i++) {
        long long contact = strtoll(PQgetvalue(q, i, 0), NULL, 10);
        const char *channel = PQgetvalue(q, i, 1), *phone = PQgetvalue(q, i, 2);
        const char *name = PQgetisnull(q, i, 3) ? NULL : PQgetvalue(q, i, 3);
        if (wa_pg_begin(&r->pg, err, sizeof err) != WA_OK) break;
        if (rtr_reengage(r, phone, contact, channel, name, wa_wall_ms()) != WA_OK ||
            wa_pg_commit(&r->pg, err, sizeof err) != WA_OK) {
            wa_pg_rollback(&r->pg);
            wa_warn("re-engagement for a held message of %s on %s: not started", phone, channel);
            break;
        }
        wa_info("re-engagement started for %s on %s (held by a sender)", phone, channel);
    }
    PQclear(q);
}
