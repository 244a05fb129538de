/* rules.c - routing rules (docs/architecture.md §3.1); pure, table-tested in
 * tests/unit/test_rules.c. */
#include "rules.h"

static struct rtr_route route(enum rtr_provider p, int failover, const char *reason)
{
    struct rtr_route r = {p, 0, failover, 0, 0, reason};
    return r;
}

static struct rtr_route source(struct rtr_route r)
{
    r.via_source = 1;
    return r;
}

static struct rtr_route outside(struct rtr_route r)
{
    r.outside_window = 1;
    return r;
}

/* Free text no open window can carry: held behind a re-engagement template when one is
 * configured, else refused as r says. */
static struct rtr_route held_or(const struct rtr_route_in *in, struct rtr_route r)
{
    if (!in->reengage) return r;
    struct rtr_route h = route(RTR_TWILIO, 0,
                               "outside 24h window: held until the contact replies; a "
                               "re-engagement template goes via Twilio");
    h.hold = 1;
    return h;
}

struct rtr_route rtr_route(const struct rtr_route_in *in)
{
    enum rtr_provider forced = in->forced;
    if (forced == RTR_NONE && in->mode == RTR_MODE_TWILIO) forced = RTR_TWILIO;
    if (forced == RTR_NONE && in->mode == RTR_MODE_BAILEYS) forced = RTR_BAILEYS;

    /* Rule 1: outside the window WhatsApp allows only approved templates, and
     * only Twilio sends those. Baileys never sends outside the window. */
    if (!in->window_open) {
        if (forced == RTR_BAILEYS)
            return outside(route(RTR_NONE, 0,
                                 "outside 24h window: Baileys may not send, and the provider is "
                                 "forced to Baileys"));
        if (!in->has_template)
            return held_or(in,
                           outside(route(RTR_NONE, 0, "outside 24h window: template required")));
        return route(RTR_TWILIO, 0, "outside 24h window: approved template via Twilio");
    }
    /* Templates are Twilio Content; Baileys cannot send them. */
    if (in->has_template) {
        if (forced == RTR_BAILEYS)
            return route(RTR_NONE, 0,
                         "templates are sent by Twilio only, and the provider is "
                         "forced to Baileys");
        return route(RTR_TWILIO, 0, "template via Twilio");
    }
    if (forced == RTR_TWILIO) return route(RTR_TWILIO, 0, "provider forced to Twilio");
    if (forced == RTR_BAILEYS)
        return route(RTR_BAILEYS, 0,
                     in->baileys_up ? "provider forced to Baileys"
                                    : "provider forced to Baileys, which is down: it is retried");
    /* Rule 3, reply via source; rule 4, availability; rule 5, the default. */
    struct rtr_route r;
    if (in->last_inbound == RTR_TWILIO)
        r = source(route(RTR_TWILIO, 0, "reply via source (Twilio)"));
    else if (in->baileys_up)
        r = in->last_inbound == RTR_BAILEYS
                ? source(route(RTR_BAILEYS, 0, "reply via source (Baileys)"))
                : route(RTR_BAILEYS, 0, "inside the window: Baileys by default");
    else if (in->twilio_window_open)
        r = route(RTR_TWILIO, 1, "Baileys is down: Twilio instead");
    else
        /* Free-form text to a number the contact has not written to in 24 h is refused by
         * WhatsApp (63016): say so now rather than send it to fail. */
        r = held_or(in, outside(route(RTR_NONE, 0,
                                      "Baileys is down and the contact has not written to the "
                                      "Twilio number in the last 24 h: outside 24h window there, "
                                      "template required")));
    /* Rule 7, order: a message never overtakes the contact's earlier one still on its way
     * through the other provider. Behind one on Baileys it fails over after it if it must. A
     * held message waits for the contact's reply: it is behind everything already. */
    if (r.hold) return r;
    if (in->pending == RTR_BAILEYS && r.provider != RTR_BAILEYS && in->baileys_window_open)
        return route(RTR_BAILEYS, 0,
                     "behind the contact's earlier message on Baileys (it fails over in order)");
    if (in->pending == RTR_TWILIO && r.provider != RTR_TWILIO && in->twilio_window_open)
        return route(RTR_TWILIO, 0, "behind the contact's earlier message on Twilio");
    return r;
}

const char *rtr_provider_name(enum rtr_provider p)
{
    return p == RTR_TWILIO ? "twilio" : p == RTR_BAILEYS ? "baileys" : "none";
}
