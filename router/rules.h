/* rules.h - the routing decision of docs/architecture.md §3.1 as a pure function: which
 * provider sends a message. */
#ifndef ROUTER_RULES_H
#define ROUTER_RULES_H

enum rtr_provider { RTR_NONE = 0, RTR_TWILIO, RTR_BAILEYS };
enum rtr_mode { RTR_MODE_AUTO = 0, RTR_MODE_TWILIO, RTR_MODE_BAILEYS };

struct rtr_route_in {
    enum rtr_mode mode;             /* WHATSAPP_PROVIDER */
    enum rtr_provider forced;       /* the request's own "provider", RTR_NONE when absent */
    int window_open;                /* an inbound message from the contact in the last 24 h */
    enum rtr_provider last_inbound; /* the provider of that message; RTR_NONE if never */
    int baileys_up;                 /* from wa.provider */
    int has_template;               /* a Twilio ContentSid is given */
    /* Where the contact's latest earlier message still on its way (queued or sending) is;
     * RTR_NONE when none is. Each provider's topic keeps one contact's order, two paths do not. */
    enum rtr_provider pending;
    /* The contact wrote to the Twilio number that takes over from Baileys (its failover
     * channel) in the last 24 h: WhatsApp keeps the window per business number. */
    int twilio_window_open;
    /* A re-engagement template is configured: free text no open window can carry is held
     * while the template invites the contact to write (§3.2). */
    int reengage;
    /* The contact wrote in the last 24 h to the Baileys number that would send (router/plan.c):
     * a message may follow an earlier one onto Baileys only then. */
    int baileys_window_open;
};

struct rtr_route {
    enum rtr_provider provider; /* RTR_NONE: nothing may be sent */
    /* The channel: the one the contact last wrote to (reply via source), else the provider's
     * default (for Twilio, the failover channel). */
    int via_source;
    int failover;       /* Twilio instead of the Baileys the rules preferred */
    int outside_window; /* refused: no open window on the channel that would send it */
    int hold;           /* held for Twilio's default number, behind a re-engagement template */
    const char *reason; /* for the log, wa.error and the timeline */
};

/* Pure: no I/O, no clock. The 24-hour rule wins over every preference: outside
 * the window only Twilio sends, and only a template. A forced provider is never
 * swapped for the other one. */
struct rtr_route rtr_route(const struct rtr_route_in *in);

const char *rtr_provider_name(enum rtr_provider p);

#endif
