/* wa_outbound.h - the send request (wa.outbound, POST /api/whatsapp/send) and the routed send
 * command (wa.send.twilio, wa.send.baileys): one validated codec for every producer and reader. */
#ifndef WA_OUTBOUND_H
#define WA_OUTBOUND_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define WA_KEY_MAX 200   /* idempotencyKey, bytes */
#define WA_TEXT_MAX 4096 /* WhatsApp's longest text, characters */
#define WA_URL_MAX 2048
#define WA_VARIABLES_MAX 100 /* template variables, as Twilio Content allows */

/* Which fields a decoder accepts: the public API body, a wa.outbound record
 * (adds v, id, requestedAtMs), or a routed command (adds the routing fields). */
enum wa_outbound_form { WA_OUT_API, WA_OUT_RECORD, WA_OUT_COMMAND };

/* Strings are borrowed from the decoded JSON (or from the caller, to encode). */
struct wa_outbound {
    char id[37]; /* our message id, derived from the key */
    const char *idempotency_key;
    char to[17];      /* E.164 */
    const char *type; /* text | media | template */
    const char *text;
    const char *media_url, *media_id, *caption, *mimetype;
    char media_id_digits[24]; /* media_id when the request gave it as a number (wa.media's form) */
    const char *content_sid;
    json_t *variables;    /* template variables, an object of strings, or NULL */
    const char *provider; /* forced provider, or NULL */
    int64_t requested_ms; /* when the request was accepted */
    /* The command only: */
    const char *route;       /* the provider the router chose */
    int failover;            /* Twilio carries a message meant for Baileys */
    int64_t window_until_ms; /* the contact's 24 h window closes then (0: closed) */
    int64_t routed_ms;
    const char *reason; /* why this provider */
    /* The business number that sends it ("twilio:+1..."): in a request, the one its caller
     * names (NULL: the router chooses); in a command, the one the router chose (NULL: the
     * provider's default). */
    const char *channel;
    /* Where a Baileys send may fail over to, and when the contact's window on that Twilio
     * number closes (0: closed): WhatsApp keeps the window per business number. */
    const char *failover_channel;
    int64_t failover_window_until_ms;
    /* Re-engagement is on (ms a hold lasts; 0: off): a failover that window cannot carry is held
     * for that number until the contact writes to it, rather than failed. */
    int64_t failover_hold_ms;
};

/* Decodes and validates; on success returns the root (the caller json_decref()s
 * it; out borrows from it). On failure returns NULL with errbuf naming the
 * field and what is wrong with it. */
json_t *wa_outbound_decode(const char *buf, size_t len, enum wa_outbound_form form,
                           struct wa_outbound *out, char *errbuf, size_t errsz);

/* Encodes as a record (WA_OUT_RECORD) or a command (WA_OUT_COMMAND). New string. */
char *wa_outbound_encode(const struct wa_outbound *o, enum wa_outbound_form form);

/* The message id for an idempotency key: a UUID made from its SHA-256, so
 * every repeat of a request, through any edge, names the same message. */
void wa_outbound_id(const char *key, char out[37]);

/* 1 when s looks like a UUID in canonical lowercase/uppercase hex form. */
int wa_uuid_valid(const char *s);

#endif
