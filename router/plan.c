/* plan.c - the channel around the provider (plan.h); pure, table-tested in
 * tests/unit/test_plan.c. */
#include "plan.h"
#include "wa_window.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* channel is one of provider's: its bare name or "<provider>:+E164". */
static int of_provider(const char *channel, const char *provider)
{
    size_t n = strlen(provider);
    return strncmp(channel, provider, n) == 0 && (channel[n] == '\0' || channel[n] == ':');
}

static const char *default_of(const struct rtr_channels *cfg, const char *channel)
{
    return of_provider(channel, "twilio") ? cfg->twilio_default : cfg->baileys_default;
}

/* A bare provider name stands for that provider's default channel. */
static const char *resolve(const struct rtr_channels *cfg, const char *channel)
{
    return strchr(channel, ':') ? channel : default_of(cfg, channel);
}

static int listed(const char (*ids)[WA_CHANNEL_MAX], int n, const char *channel)
{
    for (int i = 0; i < n; i++)
        if (strcmp(ids[i], channel) == 0) return 1;
    return 0;
}

int64_t rtr_window_until(const struct rtr_seen *seen, size_t n, const char *channel,
                         const struct rtr_channels *cfg, int64_t now_ms)
{
    if (!channel) return 0;
    int64_t last = 0;
    /* The same number however it is named (a bare provider name, one bridge without
     * BAILEYS_CHANNELS): as for opt-outs and refusals. */
    for (size_t i = 0; i < n; i++)
        if (rtr_same_channel(cfg, seen[i].channel, channel) && seen[i].last_ms > last)
            last = seen[i].last_ms;
    return wa_window_open(last, now_ms) ? wa_window_closes_ms(last) : 0;
}

const char *rtr_failover_of(const struct rtr_channels *cfg, const char *b)
{
    for (int i = 0; i < cfg->n_pairs; i++)
        if (strcmp(cfg->pair_from[i], b) == 0) return cfg->pair_to[i];
    return cfg->twilio_default;
}

static enum rtr_provider provider_of(const char *s)
{
    if (!s) return RTR_NONE;
    if (of_provider(s, "twilio")) return RTR_TWILIO;
    if (of_provider(s, "baileys")) return RTR_BAILEYS;
    return RTR_NONE;
}

/* The contact's latest channel of the provider, with its window open when open_only. */
static const char *latest(const struct rtr_plan_in *in, const char *provider, int open_only)
{
    for (size_t i = 0; i < in->n_seen; i++) {
        const char *c = in->seen[i].channel;
        if (!of_provider(c, provider)) continue;
        if (open_only && !wa_window_open(in->seen[i].last_ms, in->now_ms)) continue;
        return resolve(in->cfg, c);
    }
    return NULL;
}

/* 1 when this installation has the channel a request names. Without BAILEYS_CHANNELS there is
 * one bridge, whatever its number: any Baileys number is taken to be it. */
static int known(const struct rtr_channels *cfg, const char *channel)
{
    if (of_provider(channel, "twilio"))
        return strcmp(channel, cfg->twilio_default) == 0 ||
               listed(cfg->twilio, cfg->n_twilio, channel);
    return cfg->n_baileys == 0 || strcmp(channel, cfg->baileys_default) == 0 ||
           listed(cfg->baileys, cfg->n_baileys, channel);
}

int rtr_channel_known(const struct rtr_channels *cfg, const char *channel)
{
    if (!channel || !channel[0]) return 0;
    if (!of_provider(channel, "twilio") && !of_provider(channel, "baileys")) return 0;
    return known(cfg, resolve(cfg, channel));
}

int rtr_same_channel(const struct rtr_channels *cfg, const char *a, const char *b)
{
    if (!a || !b) return 0;
    if (strcmp(resolve(cfg, a), resolve(cfg, b)) == 0) return 1;
    if (of_provider(a, "twilio") && of_provider(b, "twilio")) return cfg->n_twilio == 0;
    if (of_provider(a, "baileys") && of_provider(b, "baileys")) return cfg->n_baileys == 0;
    return 0;
}

static const struct rtr_optout *optout_on(const struct rtr_plan_in *in, const char *channel)
{
    for (size_t i = 0; i < in->n_optouts; i++)
        if (rtr_same_channel(in->cfg, in->optouts[i].channel, channel)) return &in->optouts[i];
    return NULL;
}

static int refused_on(const struct rtr_plan_in *in, const char *channel)
{
    for (size_t i = 0; i < in->n_refused; i++)
        if (rtr_same_channel(in->cfg, in->refused[i], channel)) return 1;
    return 0;
}

/* Consent (§3.5) over the rules' answer: nothing goes through a number the contact asked to
 * stop (but the one confirmation of that opt-out), nor a template refused there; the plan does
 * not look for another number instead. */
static void consent(const struct rtr_plan_in *in, struct rtr_plan *p)
{
    if (p->route.provider == RTR_NONE) return;
    const struct rtr_optout *o = optout_on(in, p->channel);
    if (o && o->id != in->confirms) {
        p->opted_out = 1;
        p->route = (struct rtr_route){.provider = RTR_NONE,
                                      .reason = "opted out: the contact asked this number to stop "
                                                "messaging them"};
    } else if (in->has_template && refused_on(in, p->channel)) {
        p->template_refused = 1;
        p->route = (struct rtr_route){.provider = RTR_NONE,
                                      .reason = "marketing template refused: Twilio reported that "
                                                "this contact does not receive it from this "
                                                "number (63049); it is not sent again"};
    }
    if (p->route.provider == RTR_NONE) {
        p->failover_channel = NULL;
        p->failover_window_until_ms = 0;
    } else if (p->route.provider == RTR_BAILEYS && optout_on(in, p->failover_channel)) {
        p->failover_opted_out = 1;
        p->failover_window_until_ms = 0;
    }
}

struct rtr_plan rtr_plan(const struct rtr_plan_in *in)
{
    const struct rtr_channels *cfg = in->cfg;
    struct rtr_plan p = {0};
    const char *named = in->channel ? resolve(cfg, in->channel) : NULL;
    if (named && !known(cfg, named)) {
        p.channel_unknown = 1;
        p.code = "channel_unknown";
        p.route.provider = RTR_NONE;
        p.route.reason = "the request names a channel this installation does not have";
        return p;
    }
    enum rtr_provider forced = named ? provider_of(named) : provider_of(in->provider);
    if (forced == RTR_NONE && in->mode == RTR_MODE_TWILIO) forced = RTR_TWILIO;
    if (forced == RTR_NONE && in->mode == RTR_MODE_BAILEYS) forced = RTR_BAILEYS;

    /* The Baileys channel that would send: the named one, the one the contact last wrote to
     * (reply via source), else the default session; and the Twilio channel that takes over. */
    const char *b = forced == RTR_BAILEYS && named ? named : latest(in, "baileys", 0);
    if (!b) b = cfg->baileys_default;
    const char *f = rtr_failover_of(cfg, b);
    /* A Twilio send that is not a failover goes where the contact's window is open, latest
     * first; else through the Twilio channel paired with the contact's Baileys one. */
    const char *t = forced == RTR_TWILIO && named ? named : latest(in, "twilio", 1);
    if (!t) t = f;

    /* The window that matters is the one of the channel that would send: when the provider is
     * forced, that provider's channel; otherwise any, since the contact is answered where it
     * last wrote. */
    const char *last = in->n_seen ? resolve(cfg, in->seen[0].channel) : NULL;
    const char *window_of = forced == RTR_TWILIO ? t : forced == RTR_BAILEYS ? b : last;
    struct rtr_route_in ri = {
        .mode = in->mode,
        .forced = forced,
        .window_open = rtr_window_until(in->seen, in->n_seen, window_of, cfg, in->now_ms) > 0,
        .last_inbound = provider_of(last),
        .baileys_up = in->up(b, in->ctx),
        .has_template = in->has_template,
        .pending = in->pending,
        .twilio_window_open = rtr_window_until(in->seen, in->n_seen, f, cfg, in->now_ms) > 0,
        .reengage = in->reengage,
        .baileys_window_open = rtr_window_until(in->seen, in->n_seen, b, cfg, in->now_ms) > 0,
    };
    p.route = rtr_route(&ri);
    if (p.route.provider == RTR_BAILEYS) {
        p.channel = b;
        p.failover_channel = f;
        p.failover_window_until_ms = rtr_window_until(in->seen, in->n_seen, f, cfg, in->now_ms);
    } else if (p.route.provider == RTR_TWILIO) {
        /* A failover and a hold go where the rules looked: the Baileys channel's pair. */
        p.channel = named ? named : p.route.failover || p.route.hold ? f : t;
    }
    p.window_until_ms = rtr_window_until(in->seen, in->n_seen, p.channel, cfg, in->now_ms);
    consent(in, &p);
    return p;
}

int rtr_channels_load(struct rtr_channels *c, const char *twilio_from, const char *baileys_channels,
                      const char *failover_to, char *err, size_t errsz)
{
    char why[300];
    memset(c, 0, sizeof *c);
    snprintf(c->twilio_default, sizeof c->twilio_default, "twilio");
    snprintf(c->baileys_default, sizeof c->baileys_default, "baileys");
    if (twilio_from && twilio_from[0]) {
        c->n_twilio =
            wa_channel_list("twilio", twilio_from, c->twilio, WA_CHANNELS_MAX, why, sizeof why);
        if (c->n_twilio < 0) {
            snprintf(err, errsz, "TWILIO_WA_FROM: %s", why);
            return -1;
        }
        memcpy(c->twilio_default, c->twilio[0], WA_CHANNEL_MAX);
    }
    struct wa_channel_entry e[WA_CHANNELS_MAX];
    if (baileys_channels && baileys_channels[0]) {
        c->n_baileys =
            wa_channel_entries("baileys", baileys_channels, e, WA_CHANNELS_MAX, 1, why, sizeof why);
        if (c->n_baileys < 0) {
            snprintf(err, errsz, "BAILEYS_CHANNELS: %s", why);
            return -1;
        }
        for (int i = 0; i < c->n_baileys; i++)
            memcpy(c->baileys[i], e[i].id, WA_CHANNEL_MAX);
        memcpy(c->baileys_default, c->baileys[0], WA_CHANNEL_MAX);
    }
    if (failover_to && failover_to[0]) {
        c->n_pairs =
            wa_channel_entries("baileys", failover_to, e, WA_CHANNELS_MAX, 1, why, sizeof why);
        if (c->n_pairs < 0) {
            snprintf(err, errsz, "BAILEYS_FAILOVER_TO: %s", why);
            return -1;
        }
        for (int i = 0; i < c->n_pairs; i++) {
            memcpy(c->pair_from[i], e[i].id, WA_CHANNEL_MAX);
            if (c->n_baileys && !listed(c->baileys, c->n_baileys, e[i].id)) {
                snprintf(err, errsz, "BAILEYS_FAILOVER_TO: %s is not in BAILEYS_CHANNELS", e[i].id);
                return -1;
            }
            if (wa_channel_id("twilio", e[i].value, c->pair_to[i], WA_CHANNEL_MAX) < 0 ||
                !listed(c->twilio, c->n_twilio, c->pair_to[i])) {
                snprintf(err, errsz,
                         "BAILEYS_FAILOVER_TO: %s takes over from %s, but it is not a number of "
                         "TWILIO_WA_FROM",
                         e[i].value, e[i].id);
                return -1;
            }
        }
    }
    return 0;
}

enum rtr_mode rtr_mode_of(const char *s)
{
    if (s && strcmp(s, "twilio") == 0) return RTR_MODE_TWILIO;
    if (s && strcmp(s, "baileys") == 0) return RTR_MODE_BAILEYS;
    return RTR_MODE_AUTO;
}

/* "<channel>=<number>,..." into ch and val, or "<channel>,..." when val is NULL. */
static size_t parse_entries(const char *s, char (*ch)[WA_CHANNEL_MAX], int64_t *val)
{
    size_t n = 0;
    while (s && *s && n < RTR_SEEN_MAX) {
        size_t len = strcspn(s, ",");
        const char *end = val ? memchr(s, '=', len) : s + len;
        size_t clen = end ? (size_t)(end - s) : 0;
        if (end && clen < WA_CHANNEL_MAX && (val || clen > 0)) {
            snprintf(ch[n], WA_CHANNEL_MAX, "%.*s", (int)clen, s);
            if (val) val[n] = strtoll(end + 1, NULL, 10);
            n++;
        }
        s += len + (s[len] == ',');
    }
    return n;
}

void rtr_contact_parse(struct rtr_contact *c, const char *seen, int64_t last_ms,
                       const char *last_provider, const char *optouts, const char *refused)
{
    char ch[RTR_SEEN_MAX][WA_CHANNEL_MAX];
    int64_t val[RTR_SEEN_MAX];
    memset(c, 0, sizeof *c);
    c->n_seen = parse_entries(seen, ch, val);
    for (size_t i = 0; i < c->n_seen; i++) {
        memcpy(c->seen[i].channel, ch[i], WA_CHANNEL_MAX);
        c->seen[i].last_ms = val[i];
    }
    if (c->n_seen == 0 && last_ms && last_provider) {
        /* A contact whose channels were never recorded: its provider's default channel. */
        snprintf(c->seen[0].channel, sizeof c->seen[0].channel, "%s", last_provider);
        c->seen[0].last_ms = last_ms;
        c->n_seen = 1;
    }
    c->n_optouts = parse_entries(optouts, ch, val);
    for (size_t i = 0; i < c->n_optouts; i++) {
        memcpy(c->optouts[i].channel, ch[i], WA_CHANNEL_MAX);
        c->optouts[i].id = val[i];
    }
    c->n_refused = parse_entries(refused, c->refused, NULL);
}

const char *rtr_plan_code(const struct rtr_plan *p)
{
    if (p->route.provider != RTR_NONE) return NULL;
    return p->code                   ? p->code
           : p->opted_out            ? "opted_out"
           : p->template_refused     ? "marketing_refused"
           : p->route.outside_window ? "outside_window"
                                     : "provider_refused";
}

int rtr_template_check(struct rtr_plan *p, const char *catalogue, const char *sid, char *reason,
                       size_t reasonsz)
{
    if (!catalogue || !catalogue[0] || strncmp(catalogue, "approved|", 9) == 0) return 0;
    /* Twilio would take it and WhatsApp refuse it: refused before anything is sent. */
    char tpl[512];
    snprintf(tpl, sizeof tpl, "%s", catalogue);
    char *name = strchr(tpl, '|'), *why = name ? strchr(name + 1, '|') : NULL;
    if (name) *name++ = '\0';
    if (why) *why++ = '\0';
    snprintf(reason, reasonsz, "template %s (%s) is %s for WhatsApp%s%s: not sent", sid ? sid : "?",
             name ? name : "?", tpl, why && why[0] ? ": " : "", why ? why : "");
    *p = (struct rtr_plan){.route = {.provider = RTR_NONE, .reason = reason},
                           .code = "template_not_approved"};
    return 1;
}

int rtr_channel_judge(enum rtr_health_now own, enum rtr_health_now provider_default)
{
    return own != RTR_NOW_NONE ? own == RTR_NOW_UP : provider_default == RTR_NOW_UP;
}

int rtr_channel_judged_up(const char *channel,
                          enum rtr_health_now (*now)(const char *id, void *ctx), void *ctx)
{
    char provider[16];
    snprintf(provider, sizeof provider, "%.*s", (int)strcspn(channel, ":"), channel);
    return rtr_channel_judge(now(channel, ctx), now(provider, ctx));
}
