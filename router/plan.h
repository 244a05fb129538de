/* plan.h - which business number sends a message (docs/architecture.md §3.1): the channel
 * around the provider rules.c picks. It turns the contact's windows per channel, the channels'
 * health and the request's named channel into the rules' inputs, and the rules' answer into the
 * channel that sends, the Twilio channel that takes over and when each window closes. Pure: the
 * health comes through a function, the clock as a number; table-tested in tests/unit/test_plan.c.
 */
#ifndef ROUTER_PLAN_H
#define ROUTER_PLAN_H

#include <stddef.h>
#include <stdint.h>

#include "rules.h"
#include "wa_channel.h"

/* The configured channels. */
struct rtr_channels {
    char twilio_default[WA_CHANNEL_MAX];  /* first of TWILIO_WA_FROM, or "twilio" */
    char baileys_default[WA_CHANNEL_MAX]; /* first of BAILEYS_CHANNELS, or "baileys" */
    /* Twilio's numbers (TWILIO_WA_FROM) and the Baileys sessions (BAILEYS_CHANNELS; none: one
     * bridge, whatever its number). A request may name only these. */
    char twilio[WA_CHANNELS_MAX][WA_CHANNEL_MAX];
    char baileys[WA_CHANNELS_MAX][WA_CHANNEL_MAX];
    int n_twilio, n_baileys;
    /* BAILEYS_FAILOVER_TO: the Twilio channel that takes over from a Baileys one; a session
     * not listed fails over to twilio_default. */
    char pair_from[WA_CHANNELS_MAX][WA_CHANNEL_MAX], pair_to[WA_CHANNELS_MAX][WA_CHANNEL_MAX];
    int n_pairs;
};

/* The contact's latest inbound message on one channel. Rows from before channels name the
 * bare provider: they count as that provider's default channel. */
struct rtr_seen {
    char channel[WA_CHANNEL_MAX];
    int64_t last_ms;
};

/* A channel the contact opted out of (docs/architecture.md §3.5), with the id of that opt-out:
 * the one confirmation it allows names it. */
struct rtr_optout {
    char channel[WA_CHANNEL_MAX];
    int64_t id;
};

struct rtr_plan_in {
    enum rtr_mode mode;
    const char *provider;        /* the request's "provider", or NULL */
    const char *channel;         /* the request's "channel", or NULL */
    int has_template, reengage;  /* as in rtr_route_in */
    enum rtr_provider pending;   /* as in rtr_route_in */
    const struct rtr_seen *seen; /* every channel the contact wrote to, latest first */
    size_t n_seen;
    int64_t now_ms;
    int (*up)(const char *channel, void *ctx); /* a Baileys channel's merged health is UP */
    void *ctx;
    const struct rtr_channels *cfg;
    /* Consent (§3.5): the channels the contact opted out of; the opt-out this request confirms
     * (0: none), whose channel lets it through once; the channels where Twilio reported the
     * request's template refused (63049). */
    const struct rtr_optout *optouts;
    size_t n_optouts;
    int64_t confirms;
    const char (*refused)[WA_CHANNEL_MAX];
    size_t n_refused;
};

struct rtr_plan {
    struct rtr_route route;
    /* The channel that sends (NULL when nothing is sent, but for a refusal by consent: the
     * number that refused); for a held message, the Twilio channel its re-engagement template
     * goes through and whose reply releases it. */
    const char *channel;
    const char *failover_channel;     /* a Baileys send's Twilio channel; NULL otherwise */
    int64_t window_until_ms;          /* the contact's window on channel closes (0: closed) */
    int64_t failover_window_until_ms; /* and on failover_channel */
    /* The request named a channel this installation does not have: refused (route NONE). */
    int channel_unknown;
    /* A refusal's code when it is not the rules' own (channel_unknown, or the router's
     * template_not_approved); NULL otherwise. */
    const char *code;
    /* Refused (route NONE; channel names the number): the contact opted out of the channel
     * that would send, or Twilio reported this template refused there. */
    int opted_out, template_refused;
    /* A Baileys send whose failover channel the contact opted out of: it has no window there
     * (failover_window_until_ms 0), so it is never failed over nor held for that number. */
    int failover_opted_out;
};

/* The channels from TWILIO_WA_FROM, BAILEYS_CHANNELS ("+E164=<bridge URL>", the URLs are
 * sender-baileys's) and BAILEYS_FAILOVER_TO ("<Baileys +E164>=<Twilio +E164>"), any of them
 * empty or NULL. Returns -1 with err naming the variable and what is wrong. */
int rtr_channels_load(struct rtr_channels *c, const char *twilio_from, const char *baileys_channels,
                      const char *failover_to, char *err, size_t errsz);

/* The plan for one message. The strings returned point into in (its seen rows, its channel)
 * or in->cfg. */
struct rtr_plan rtr_plan(const struct rtr_plan_in *in);

/* When the contact's window on channel closes (0: closed), from the rows in seen. */
int64_t rtr_window_until(const struct rtr_seen *seen, size_t n, const char *channel,
                         const struct rtr_channels *cfg, int64_t now_ms);

/* a and b are the same number: equal once a bare provider name stands for its default, or both
 * of a provider with one number whatever it is (no TWILIO_WA_FROM; one bridge without
 * BAILEYS_CHANNELS). Consent rows keep the channel the contact wrote to, as it was named. */
int rtr_same_channel(const struct rtr_channels *cfg, const char *a, const char *b);

/* 1 when a request may name the channel here (a bare provider name stands for its default). */
int rtr_channel_known(const struct rtr_channels *cfg, const char *channel);

/* The Twilio channel that takes over from Baileys channel b. */
const char *rtr_failover_of(const struct rtr_channels *cfg, const char *b);

/* The code of a plan that sends nothing (route NONE): the plan's own code, else opted_out,
 * marketing_refused, outside_window or provider_refused; NULL when it sends. Each refusal the
 * operator can act on has its own: the dashboard shows a notice for it. */
const char *rtr_plan_code(const struct rtr_plan *p);

/* The catalogue's word on a request's template, as the contact query gives it ("<status>|<name>|
 * <rejection reason>", NULL or "" when the catalogue does not know it): when it is not approved,
 * p becomes a refusal (code template_not_approved) whose reason, written into reason, says why;
 * returns 1 then, else 0. A template the catalogue does not know is let through (it may be newer
 * than the last sync); Twilio's own refusal then fails it. */
int rtr_template_check(struct rtr_plan *p, const char *catalogue, const char *sid, char *reason,
                       size_t reasonsz);

/* WHATSAPP_PROVIDER ("auto", "twilio", "baileys") as a mode; anything else is auto. */
enum rtr_mode rtr_mode_of(const char *s);

/* A contact as the CRM's contact queries aggregate it (the router's outbound_contact, the
 * dashboard's reply preview): the plan's inputs about that contact. */
#define RTR_SEEN_MAX (2 * WA_CHANNELS_MAX + 2)

/* The settings the plan is made with, as entries of a service's configuration table
 * (wa_config.h): the router's, and the dashboard's reply preview, which must plan alike. Each
 * argument is the const char * that receives the value. */
// clang-format off
#define RTR_PLAN_CFG(mode, twilio_from, baileys_channels, failover_to, reengage_sid)             \
    {"WHATSAPP_PROVIDER", "auto", WA_CFG_ENUM, 0, 0, "auto|twilio|baileys",                    \
     "provider choice for outbound messages", &(mode), NULL},                                   \
    {"TWILIO_WA_FROM", "", WA_CFG_STR, 0, 0, NULL,                                              \
     "Twilio's WhatsApp numbers, comma-separated; the first takes over from Baileys",           \
     &(twilio_from), NULL},                                                                     \
    {"BAILEYS_CHANNELS", "", WA_CFG_STR, 0, 0, NULL,                                            \
     "the Baileys sessions, +E164=<bridge /send URL> comma-separated, the first the default; "  \
     "empty: one bridge (BAILEYS_OUTBOUND_URL), whatever its number",                           \
     &(baileys_channels), NULL},                                                                \
    {"BAILEYS_FAILOVER_TO", "", WA_CFG_STR, 0, 0, NULL,                                         \
     "which Twilio number takes over from a Baileys one, <Baileys +E164>=<Twilio +E164> "       \
     "comma-separated; others fail over to the first of TWILIO_WA_FROM",                        \
     &(failover_to), NULL},                                                                     \
    {"REENGAGE_CONTENT_SID", "", WA_CFG_STR, 0, 0, NULL,                                        \
     "approved template (HX...) sent to re-open a closed window; free text is held meanwhile",  \
     &(reengage_sid), NULL}
// clang-format on
struct rtr_contact {
    struct rtr_seen seen[RTR_SEEN_MAX];
    size_t n_seen;
    struct rtr_optout optouts[RTR_SEEN_MAX];
    size_t n_optouts;
    char refused[RTR_SEEN_MAX][WA_CHANNEL_MAX];
    size_t n_refused;
};

/* Fills c from the query's columns, each NULL or "": seen "<channel>=<ms>,..." (latest first),
 * optouts "<channel>=<opt-out id>,...", refused "<channel>,...". A contact whose channels were
 * never recorded but that wrote (last_ms, last_provider) counts as written to its provider's
 * default channel. At most RTR_SEEN_MAX entries each; malformed ones are left out. */
void rtr_contact_parse(struct rtr_contact *c, const char *seen, int64_t last_ms,
                       const char *last_provider, const char *optouts, const char *refused);

/* What is known of one channel's health now: nothing (no instance reports on it now), UP, or
 * not UP (DOWN). */
enum rtr_health_now { RTR_NOW_NONE, RTR_NOW_UP, RTR_NOW_NOT_UP };
/* Whether a channel is UP: by its own live reports, and with none by its provider's default
 * channel (the bare "baileys"). One bridge without BAILEYS_CHANNELS reports as "baileys" while
 * its session has a number, and a channel only history names (a session configured before)
 * says nothing about now. The router and the dashboard's preview both judge with it. */
int rtr_channel_judge(enum rtr_health_now own, enum rtr_health_now provider_default);
/* The same judgement for a channel id ("baileys:+972..."), asking now() about the channel and
 * about its provider's bare name: the router asks its live reports, the dashboard the CRM. */
int rtr_channel_judged_up(const char *channel,
                          enum rtr_health_now (*now)(const char *id, void *ctx), void *ctx);

#endif
