/* wa_send.c - the senders' claim protocol and result reporting. */
#include "wa_send.h"
#include "wa_event.h"
#include "wa_sigv4.h"
#include "wa_backoff.h"
#include "wa_kafka.h"
#include "wa_log.h"

#include <curl/curl.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const struct wa_pg_stmt wa_send_statements[] = {
    /* $1 id, $2 provider. Returns the attempts when claimed (else NULL), and
     * the row as it was: status, provider, attempts, and how long ago (ms, by the CRM's clock)
     * it last changed: for a row found in sending, how long ago an earlier attempt claimed it. */
    {"send_claim",
     "WITH u AS ("
     "  UPDATE messages SET status = 'sending', attempts = attempts + 1, updated_at = now() "
     "  WHERE id = $1::uuid AND provider = $2 AND status = 'queued' RETURNING attempts"
     ") "
     "SELECT (SELECT attempts FROM u), m.status, m.provider, m.attempts, "
     "  (extract(epoch FROM now() - m.updated_at) * 1000)::bigint "
     "FROM messages m WHERE m.id = $1::uuid",
     2},
    {"send_reclaim",
     "UPDATE messages SET attempts = attempts + 1, updated_at = now() "
     "WHERE id = $1::uuid AND status = 'sending' RETURNING attempts",
     1},
    {"send_release",
     "UPDATE messages SET status = 'queued', updated_at = now() "
     "WHERE id = $1::uuid AND status = 'sending'",
     1},
    /* A provider callback may already have moved the status on: keep the later
     * one, but always keep the provider's id. */
    {"send_finish",
     "UPDATE messages SET "
     "  status = CASE WHEN wa_status_rank($2) > wa_status_rank(status) THEN $2 ELSE status END, "
     "  provider_message_id = COALESCE(provider_message_id, $3), "
     "  error_code = COALESCE($4, error_code), error_text = COALESCE($5, error_text), "
     "  latency_ms = COALESCE($6::integer, latency_ms), "
     "  sent_at = CASE WHEN $2 = 'sent' THEN COALESCE(sent_at, now()) ELSE sent_at END, "
     "  updated_at = now() "
     "WHERE id = $1::uuid",
     6},
    /* $1 channel, $2 the pace's interval (microseconds). Reserves the channel's next slot,
     * shared by every instance: the slot after the last one reserved, or now when that has
     * passed. Returns how long until it (microseconds, 0 when now). */
    {"send_pace",
     "INSERT INTO send_pacing AS p (channel, next_at) VALUES ($1, clock_timestamp()) "
     "ON CONFLICT (channel) DO UPDATE SET next_at = GREATEST("
     "  p.next_at + $2::bigint * interval '1 microsecond', clock_timestamp()) "
     "RETURNING GREATEST(0, (extract(epoch FROM p.next_at - clock_timestamp()) * 1e6))::bigint",
     2},
    {"media_locate",
     "SELECT bucket, object_key, mime, filename FROM media WHERE id = $1::bigint "
     "AND stored_at IS NOT NULL",
     1},
    /* The attempts start again: SENDER_MAX_ATTEMPTS is each provider's own budget, and the
     * other provider's calls say nothing about this one. */
    /* Held for the other provider's number until the contact writes to it ($3), failing at
     * $4 (ms) if it does not: the router's re-engagement takes it from there. */
    {"send_hold",
     "UPDATE messages SET provider = 'twilio', failover = true, status = 'held', reason = $2, "
     "  attempts = 0, channel = $3, held_until = to_timestamp($4::bigint / 1000.0), "
     "  updated_at = now() "
     "WHERE id = $1::uuid AND provider = 'baileys' AND status = 'sending'",
     4},
    {"send_failover",
     "UPDATE messages SET provider = 'twilio', failover = true, status = 'queued', reason = $2, "
     "  attempts = 0, channel = $3, updated_at = now() "
     "WHERE id = $1::uuid AND provider = 'baileys' AND status = 'sending'",
     3},
};
const size_t wa_send_nstatements = sizeof wa_send_statements / sizeof wa_send_statements[0];

static PGresult *run(struct wa_sender *s, const char *stmt, int n, const char *const *p,
                     enum wa_result *res)
{
    char err[512];
    PGresult *q = wa_pg_pool_exec(s->pg, stmt, n, p, res, err, sizeof err);
    if (!q) wa_warn("postgres %s", err); /* err names the statement */
    return q;
}

/* The statements every command makes (claim, result, and a Twilio number's pace): in the lanes'
 * group transaction when there is one. */
static PGresult *run_grouped(struct wa_sender *s, struct wa_pg_group *g, const char *stmt, int n,
                             const char *const *p, enum wa_result *res)
{
    if (!g) return run(s, stmt, n, p, res);
    char err[512];
    PGresult *q = wa_pg_group_exec(g, s->pg, stmt, n, p, res, err, sizeof err);
    if (!q) wa_warn("postgres %s", err);
    return q;
}

enum wa_claim wa_send_claim(struct wa_sender *s, const char *id, int *attempts, int64_t *age_ms)
{
    enum wa_result res;
    const char *p[] = {id, s->provider};
    PGresult *q = run_grouped(s, s->claims, "send_claim", 2, p, &res);
    if (!q) return res == WA_RETRY ? WA_CLAIM_RETRY : WA_CLAIM_REFUSED;
    enum wa_claim c;
    if (PQntuples(q) == 0) {
        c = WA_CLAIM_MISSING;
    } else if (!PQgetisnull(q, 0, 0)) {
        *attempts = atoi(PQgetvalue(q, 0, 0));
        c = WA_CLAIM_OK;
    } else {
        const char *status = PQgetvalue(q, 0, 1);
        const char *provider = PQgetvalue(q, 0, 2);
        *attempts = atoi(PQgetvalue(q, 0, 3));
        if (strcmp(provider, s->provider) != 0)
            c = strcmp(status, "queued") == 0 ? WA_CLAIM_MOVED : WA_CLAIM_DONE;
        else if (strcmp(status, "sending") == 0) {
            c = WA_CLAIM_INFLIGHT;
            if (age_ms) *age_ms = strtoll(PQgetvalue(q, 0, 4), NULL, 10);
        } else
            c = WA_CLAIM_DONE;
    }
    PQclear(q);
    return c;
}

enum wa_result wa_send_pace(struct wa_sender *s, const char *channel, double per_second,
                            int64_t *wait_us)
{
    char interval[24];
    snprintf(interval, sizeof interval, "%lld", (long long)(1e6 / per_second + 0.5));
    enum wa_result res;
    const char *p[] = {channel, interval};
    PGresult *q = run_grouped(s, s->paces, "send_pace", 2, p, &res);
    if (!q) return res == WA_RETRY ? WA_RETRY : WA_FAIL;
    *wait_us = PQntuples(q) == 1 ? strtoll(PQgetvalue(q, 0, 0), NULL, 10) : 0;
    PQclear(q);
    return WA_OK;
}

enum wa_result wa_send_reclaim(struct wa_sender *s, const char *id, int *attempts)
{
    enum wa_result res;
    const char *p[] = {id};
    PGresult *q = run(s, "send_reclaim", 1, p, &res);
    if (!q) return res;
    if (PQntuples(q) == 1) *attempts = atoi(PQgetvalue(q, 0, 0));
    PQclear(q);
    return WA_OK;
}

enum wa_result wa_send_release(struct wa_sender *s, const char *id)
{
    enum wa_result res;
    const char *p[] = {id};
    PGresult *q = run(s, "send_release", 1, p, &res);
    if (!q) return res;
    PQclear(q);
    return WA_OK;
}

enum wa_result wa_send_finish(struct wa_sender *s, const char *id, const char *status,
                              const char *provider_message_id, const char *error_code,
                              const char *error_text, int64_t latency_ms)
{
    enum wa_result res;
    char lat[24];
    snprintf(lat, sizeof lat, "%lld", (long long)latency_ms);
    const char *p[] = {id,         status,     provider_message_id,
                       error_code, error_text, latency_ms >= 0 ? lat : NULL};
    PGresult *q = run_grouped(s, s->results, "send_finish", 6, p, &res);
    if (!q) return res;
    PQclear(q);
    return WA_OK;
}

enum wa_result wa_send_failover(struct wa_sender *s, const char *id, const char *reason,
                                const char *channel)
{
    enum wa_result res;
    const char *p[] = {id, reason, channel};
    PGresult *q = run(s, "send_failover", 3, p, &res);
    if (!q) return res;
    PQclear(q);
    return WA_OK;
}

enum wa_result wa_send_hold(struct wa_sender *s, const char *id, const char *reason,
                            const char *channel, int64_t held_until_ms)
{
    enum wa_result res;
    char until[24];
    snprintf(until, sizeof until, "%lld", (long long)held_until_ms);
    const char *p[] = {id, reason, channel, until};
    PGresult *q = run(s, "send_hold", 4, p, &res);
    if (!q) return res;
    PQclear(q);
    return WA_OK;
}

/* wa_send_report, produced on async (not waited for) when it is not NULL. */
static enum wa_result report(struct wa_sender *s, const struct wa_outbound *o, const char *provider,
                             const char *status, const char *provider_message_id,
                             const char *error_code, const char *error_text, int attempt,
                             int64_t latency_ms, int failover, const char *reason,
                             struct wa_delivery *async)
{
    int64_t now = wa_wall_ms();
    struct wa_status st = {
        .provider = provider,
        .provider_message_id = provider_message_id,
        .message_id = o->id,
        .status = status,
        .phone = o->to,
        .error_code = error_code,
        .error_text = error_text,
        .source = "sender",
        .reason = reason,
        .timestamp_ms = now,
        .received_ms = now,
        .latency_ms = latency_ms,
        .attempt = attempt,
        .failover = failover,
    };
    char *json = wa_status_encode(&st);
    if (!json) return WA_FAIL;
    const char *key = wa_event_key(o->to);
    rd_kafka_resp_err_t e =
        async ? wa_kafka_produce(s->producer, s->topic_status, key, json, strlen(json), async)
              : wa_kafka_produce_sync(s->producer, s->topic_status, key, json, strlen(json));
    free(json);
    if (e) {
        wa_warn("cannot report status on %s: %s", s->topic_status, rd_kafka_err2name(e));
        return WA_RETRY;
    }
    return WA_OK;
}

enum wa_result wa_send_report(struct wa_sender *s, const struct wa_outbound *o,
                              const char *provider, const char *status,
                              const char *provider_message_id, const char *error_code,
                              const char *error_text, int attempt, int64_t latency_ms, int failover,
                              const char *reason)
{
    return report(s, o, provider, status, provider_message_id, error_code, error_text, attempt,
                  latency_ms, failover, reason, NULL);
}

enum wa_result wa_send_error(struct wa_sender *s, const rd_kafka_message_t *m, const char *code,
                             const char *text, int retryable)
{
    char stage[64];
    snprintf(stage, sizeof stage, s->stage ? "%s" : "sender-%s", s->stage ? s->stage : s->provider);
    char *ev =
        wa_error_encode(stage, code, text, retryable, s->provider, rd_kafka_topic_name(m->rkt),
                        m->partition, m->offset, m->payload, m->len);
    char key[64] = "";
    if (m->key && m->key_len < sizeof key) memcpy(key, m->key, m->key_len);
    rd_kafka_resp_err_t e =
        wa_kafka_produce_sync(s->producer, s->topic_error, key[0] ? key : NULL, ev, strlen(ev));
    free(ev);
    if (e) {
        wa_warn("cannot raise wa.error: %s", rd_kafka_err2name(e));
        return WA_RETRY;
    }
    return WA_OK;
}

/* provider="…"[,result="…"], kept by the registry for the life of the process. */
static const char *labels(const char *provider, const char *result)
{
    char l[128];
    snprintf(l, sizeof l, "provider=\"%s\"%s%s%s", provider, result ? ",result=\"" : "",
             result ? result : "", result ? "\"" : "");
    return wa_xstrdup(l);
}

void wa_send_counters_init(struct wa_send_counters *c, const char *provider, int fails_over,
                           const char *retry_help)
{
    const char *h = "Messages by outcome.", *r = "wa_sender_results_total";
    c->sent = wa_metric_new(WA_COUNTER, r, labels(provider, "sent"), h);
    c->failed = wa_metric_new(WA_COUNTER, r, labels(provider, "failed"), h);
    c->unknown = wa_metric_new(WA_COUNTER, r, labels(provider, "unknown"), h);
    c->skipped = wa_metric_new(WA_COUNTER, r, labels(provider, "already_handled"), h);
    c->invalid = wa_metric_new(WA_COUNTER, r, labels(provider, "invalid"), h);
    c->failover = fails_over ? wa_metric_new(WA_COUNTER, r, labels(provider, "failover"), h) : NULL;
    c->held = fails_over ? wa_metric_new(WA_COUNTER, r, labels(provider, "held"), h) : NULL;
    c->retried =
        wa_metric_new(WA_COUNTER, "wa_sender_retries_total", labels(provider, NULL), retry_help);
    c->latency = wa_metric_new(WA_HISTOGRAM, "wa_sender_latency_seconds", labels(provider, NULL),
                               "From the send request to the provider's acceptance.");
    c->call_seconds = wa_metric_new(WA_HISTOGRAM, "wa_sender_call_seconds", labels(provider, NULL),
                                    "One provider call.");
}

/* A final outcome, recorded everywhere it must go: the row, wa.status, and wa.error when it
 * is not a success. */
static enum wa_result conclude(struct wa_sender *s, const rd_kafka_message_t *m,
                               const struct wa_outbound *o, const char *status,
                               const struct wa_outcome *oc, int attempt, int64_t lat, int retryable)
{
    int ok = strcmp(status, "sent") == 0;
    const char *pmid = oc->id[0] ? oc->id : NULL;
    const char *code = ok || !oc->code[0] ? NULL : oc->code;
    const char *text = ok || !oc->text[0] ? NULL : oc->text;
    if (wa_send_finish(s, o->id, status, pmid, code, text, lat) != WA_OK) return WA_RETRY;
    /* A success's report is not waited for when the loop can end the command on its
     * acknowledgement: the lane goes on to another contact meanwhile. */
    struct wa_delivery *async = ok ? s->report_async : NULL;
    if (report(s, o, s->provider, status, pmid, code, text, attempt, lat, o->failover, NULL,
               async) == WA_RETRY)
        return WA_RETRY;
    if (async) s->report_pending = 1;
    if (!ok &&
        wa_send_error(s, m, code ? code : status, text ? text : status, retryable) == WA_RETRY)
        return WA_RETRY;
    return WA_OK;
}

/* A command with nothing to claim: its message is not in the CRM, or the CRM refused the claim
 * for good (its reason is in the log, from wa_send_claim). Reported; the offset moves on. */
static enum wa_result not_claimed(struct wa_sender *s, const rd_kafka_message_t *m, enum wa_claim c)
{
    if (c != WA_CLAIM_REFUSED)
        return wa_send_error(s, m, "unknown_message", "no such message in the CRM", 0);
    const char *why = "the CRM refused to claim it (Postgres's reason is in the log): not sent";
    return wa_send_error(s, m, "rejected_by_crm", why, 0);
}

enum wa_result wa_send_refuse(struct wa_sender *s, const rd_kafka_message_t *m,
                              const struct wa_outbound *o, const char *code, const char *text)
{
    /* Claimed first, like a send: a redelivered command for a message handled already (sent,
     * say, before the configuration changed) must not turn it into a failure. */
    int attempt = 0;
    enum wa_claim c = wa_send_claim(s, o->id, &attempt, NULL);
    if (c == WA_CLAIM_RETRY) return WA_RETRY;
    if (c == WA_CLAIM_MISSING || c == WA_CLAIM_REFUSED) return not_claimed(s, m, c);
    if (c != WA_CLAIM_OK) {
        wa_info("id=%s already handled: not refused again", o->id);
        return WA_OK;
    }
    struct wa_outcome oc = {.verdict = WA_VERDICT_FAILED};
    snprintf(oc.code, sizeof oc.code, "%s", code);
    snprintf(oc.text, sizeof oc.text, "%s", text);
    return conclude(s, m, o, "failed", &oc, 0, -1, 0);
}

static void set_error(struct wa_outcome *oc, const char *code, const char *text)
{
    char c[sizeof oc->code], t[sizeof oc->text];
    snprintf(c, sizeof c, "%s", code); /* either may be oc's own */
    snprintf(t, sizeof t, "%s", text);
    memcpy(oc->code, c, sizeof c);
    memcpy(oc->text, t, sizeof t);
}

/* Moves the row to the other provider and hands the command over; the timeline shows the
 * reroute (the row itself is already the other provider's). */
static enum wa_result fail_over(struct wa_sender *s, struct wa_outbound *o,
                                const struct wa_send_ops *ops, const char *why, int attempt)
{
    char reason[600];
    snprintf(reason, sizeof reason, "failover: %s", why);
    if (wa_send_failover(s, o->id, reason,
                         o->failover_channel ? o->failover_channel : ops->fail_over_to) != WA_OK)
        return WA_RETRY;
    if (ops->hand_over(ops->ctx, s, o, reason) != WA_OK) return WA_RETRY;
    wa_metric_add(ops->m->failover, 1);
    wa_info("id=%s failed over to %s: %s", o->id, ops->fail_over_to, why);
    if (wa_send_report(s, o, ops->fail_over_to, "queued", NULL, NULL, NULL, attempt, -1, 1,
                       reason) == WA_RETRY)
        return WA_RETRY;
    return WA_OK;
}

/* The other provider's number may not carry this free text (no window there): it waits for
 * the contact to write to that number, behind the router's re-engagement template. */
static enum wa_result hold(struct wa_sender *s, struct wa_outbound *o,
                           const struct wa_send_ops *ops, const char *why, int attempt)
{
    const char *channel = o->failover_channel ? o->failover_channel : ops->fail_over_to;
    char reason[700];
    snprintf(reason, sizeof reason,
             "%s is down (%.400s) and the contact has not written to %s in 24 h: held until "
             "they do; a re-engagement template goes there",
             s->provider, why, channel);
    if (wa_send_hold(s, o->id, reason, channel, wa_wall_ms() + o->failover_hold_ms) != WA_OK)
        return WA_RETRY;
    wa_metric_add(ops->m->held, 1);
    wa_info("id=%s held for %s: %s", o->id, channel, why);
    if (wa_send_report(s, o, ops->fail_over_to, "held", NULL, NULL, NULL, attempt, -1, 1, reason) ==
        WA_RETRY)
        return WA_RETRY;
    return WA_OK;
}

enum wa_result wa_send_drive(struct wa_sender *s, const rd_kafka_message_t *m,
                             struct wa_outbound *o, const struct wa_send_ops *ops, int forced)
{
    struct wa_send_state st = {
        .max_attempts = (int)ops->max_attempts,
        .forced = forced,
        /* Only a failover asks about the window, and it is the failover number's. */
        .window_open = o->failover_window_until_ms > wa_wall_ms(),
        .can_hold = o->failover_hold_ms > 0,
    };
    struct wa_outcome oc = {.verdict = WA_VERDICT_NONE};
    int64_t called_ms = 0, wait_ms = 0;
    char text[sizeof oc.text];
    for (int pauses = 0;;) {
        st.running = wa_running();
        enum wa_send_step step = wa_send_next(&ops->policy, &st);
        int64_t lat = o->requested_ms ? wa_wall_ms() - o->requested_ms : -1;
        switch (step) {
        case WA_STEP_CLAIM: {
            int64_t age = 0;
            st.claim = wa_send_claim(s, o->id, &st.attempt, &age);
            if (st.claim == WA_CLAIM_INFLIGHT) {
                /* The earlier attempt's call began after its claim: its list look-up starts
                 * there. */
                called_ms = wa_wall_ms() - age;
                wait_ms = ops->settle_ms - age;
                st.inflight_settled = wait_ms <= 0;
            }
            break;
        }
        case WA_STEP_RECLAIM:
            if (st.claim == WA_CLAIM_INFLIGHT)
                wa_info("id=%s found mid-send: asking %s again with the same key", o->id,
                        s->provider);
            st.claim =
                wa_send_reclaim(s, o->id, &st.attempt) == WA_OK ? WA_CLAIM_OK : WA_CLAIM_RETRY;
            break;
        case WA_STEP_CALL:
            called_ms = wa_wall_ms();
            ops->call(ops->ctx, o, st.attempt, &oc);
            st.verdict = oc.verdict;
            st.earlier_unknown = oc.earlier_unknown;
            break;
        case WA_STEP_WAIT:
            wa_info("id=%s found mid-send, claimed %lld ms ago: waiting %lld ms, until that "
                    "attempt must have ended, before asking %s",
                    o->id, (long long)(ops->settle_ms - wait_ms), (long long)wait_ms, s->provider);
            wa_sleep_ms(wait_ms);
            break;
        case WA_STEP_RECONCILE: {
            /* Asked after a pause, so a message still being made behind a slow answer has
             * landed in the provider's list. */
            wa_sleep_ms(ops->base_ms);
            int found = ops->reconcile(ops->ctx, o, called_ms, &oc);
            st.verdict = found == 1   ? WA_VERDICT_SENT
                         : found == 0 ? WA_VERDICT_RETRY
                                      : WA_VERDICT_UNKNOWN;
            if (found == 1) oc.code[0] = oc.text[0] = '\0';
            break;
        }
        case WA_STEP_RELEASE:
            if (wa_send_release(s, o->id) != WA_OK) return WA_RETRY;
            break;
        case WA_STEP_BACKOFF: {
            int64_t pause =
                wa_backoff_pause(++pauses, ops->base_ms, ops->cap_ms, oc.retry_after_ms);
            wa_metric_add(ops->m->retried, 1);
            wa_info("id=%s retry %d in %lld ms (%s)", o->id, pauses, (long long)pause, oc.text);
            wa_sleep_ms(pause);
            break;
        }
        case WA_STEP_SENT:
            wa_metric_add(ops->m->sent, 1);
            if (lat >= 0) wa_metric_observe(ops->m->latency, (double)lat / 1000.0);
            return conclude(s, m, o, "sent", &oc, st.attempt, lat, 0);
        case WA_STEP_FAILED:
            wa_metric_add(ops->m->failed, 1);
            return conclude(s, m, o, "failed", &oc, st.attempt, lat, 0);
        case WA_STEP_UNKNOWN:
            if (st.claim == WA_CLAIM_INFLIGHT) {
                wa_warn("id=%s found mid-send after a restart: recorded as unknown", o->id);
                set_error(&oc, "unknown_outcome",
                          st.verdict == WA_VERDICT_NONE
                              ? "an earlier attempt ended after claiming the message: it may "
                                "have been sent; not repeated"
                              : "an earlier attempt ended after claiming the message, and the "
                                "provider's list could not be read: it may have been sent; not "
                                "repeated");
                lat = -1;
            } else if (!oc.code[0]) {
                set_error(&oc, "unknown_outcome", oc.text);
            }
            wa_metric_add(ops->m->unknown, 1);
            return conclude(s, m, o, "unknown", &oc, st.attempt, lat, 0);
        case WA_STEP_GIVE_UP:
            snprintf(text, sizeof text, "%s after %d attempts; last: %.400s",
                     st.unknown ? "unknown outcome" : "gave up", st.attempt, oc.text);
            set_error(&oc, st.unknown ? "unknown_outcome" : oc.code, text);
            wa_metric_add(st.unknown ? ops->m->unknown : ops->m->failed, 1);
            return conclude(s, m, o, st.unknown ? "unknown" : "failed", &oc, st.attempt, lat, 1);
        case WA_STEP_FAIL_OVER:
            return fail_over(s, o, ops, oc.text, st.attempt);
        case WA_STEP_HAND_OVER:
            /* Failed over already, and maybe lost before the other sender got the command:
             * hand it over again (the other sender's claim stops a second send). */
            return ops->hand_over(ops->ctx, s, o, "failover (handed over again)");
        case WA_STEP_OUT_OF_WINDOW:
            snprintf(text, sizeof text,
                     "%s is down (%.400s) and the 24h window has closed: %s needs a template",
                     s->provider, oc.text, ops->fail_over_to);
            set_error(&oc, "outside_window", text);
            wa_metric_add(ops->m->failed, 1);
            return conclude(s, m, o, "failed", &oc, st.attempt, -1, 0);
        case WA_STEP_HOLD:
            return hold(s, o, ops, oc.text, st.attempt);
        case WA_STEP_SKIP:
            wa_metric_add(ops->m->skipped, 1);
            wa_info("id=%s already handled: nothing sent", o->id);
            return WA_OK;
        case WA_STEP_MISSING:
            return not_claimed(s, m, st.claim);
        case WA_STEP_LATER:
            return WA_RETRY;
        }
    }
}

char *wa_send_media_url(struct wa_sender *s, const struct wa_media_store *store,
                        const char *media_id, char *mime, size_t mimesz, char *filename,
                        size_t filenamesz, enum wa_result *res, char *errbuf, size_t errsz)
{
    if (filenamesz) filename[0] = '\0';
    if (!store->endpoint || !store->endpoint[0] || !store->access_key || !store->secret_key) {
        *res = WA_FAIL;
        snprintf(errbuf, errsz, "stored media cannot be sent: S3_ENDPOINT and keys are not set");
        return NULL;
    }
    for (const char *p = media_id; *p; p++)
        if (*p < '0' || *p > '9' || p - media_id > 18) {
            *res = WA_FAIL;
            snprintf(errbuf, errsz, "media.mediaId %s: not a stored media id", media_id);
            return NULL;
        }
    const char *params[] = {media_id};
    PGresult *q = run(s, "media_locate", 1, params, res);
    if (!q) {
        snprintf(errbuf, errsz, "the CRM is not reachable");
        return NULL;
    }
    if (PQntuples(q) == 0) {
        PQclear(q);
        *res = WA_FAIL;
        snprintf(errbuf, errsz, "media.mediaId %s: no stored media with this id", media_id);
        return NULL;
    }
    snprintf(mime, mimesz, "%s", PQgetisnull(q, 0, 2) ? "" : PQgetvalue(q, 0, 2));
    if (filenamesz) snprintf(filename, filenamesz, "%s", PQgetvalue(q, 0, 3)); /* NULL reads "" */
    /* Storage serves what a browser must not show as an attachment of no type (wa_media_inline);
     * the provider is told the real one. */
    char *url =
        wa_media_presign(store, PQgetvalue(q, 0, 0), PQgetvalue(q, 0, 1), mime, errbuf, errsz);
    PQclear(q);
    *res = url ? WA_OK : WA_FAIL;
    return url;
}

char *wa_media_presign(const struct wa_media_store *store, const char *bucket, const char *key,
                       const char *content_type, char *errbuf, size_t errsz)
{
    char path[1200];
    snprintf(path, sizeof path, "/%s/%s", bucket, key);
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL, *port = NULL;
    char *url = NULL;
    if (store->endpoint && curl_url_set(u, CURLUPART_URL, store->endpoint, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK) {
        curl_url_get(u, CURLUPART_PORT, &port, 0); /* only when the URL names one */
        char hostport[300];
        snprintf(hostport, sizeof hostport, "%s%s%s", host, port ? ":" : "", port ? port : "");
        struct wa_sigv4_presign ps = {
            .method = "GET",
            .scheme = scheme,
            .host = hostport,
            .path = path,
            .region = store->region,
            .service = "s3",
            .access_key = store->access_key,
            .secret_key = store->secret_key,
            .now_s = wa_wall_ms() / 1000,
            .expires_s = (int)store->ttl_s,
            .content_type = content_type,
        };
        url = wa_sigv4_presign_url(&ps, errbuf, errsz);
    } else {
        snprintf(errbuf, errsz, "S3_PUBLIC_ENDPOINT is not a URL");
    }
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_url_cleanup(u);
    return url;
}

enum wa_result wa_send_refuse_channel(struct wa_sender *s, const rd_kafka_message_t *m,
                                      const struct wa_outbound *o, struct wa_send_counters *c,
                                      const char *setting)
{
    char why[200];
    snprintf(why, sizeof why, "%s is not one of this sender's numbers (%s)",
             o->channel ? o->channel : "(none)", setting);
    wa_metric_add(c->failed, 1);
    return wa_send_refuse(s, m, o, "channel_unknown", why);
}
