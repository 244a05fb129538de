/* wa_event.h - JSON codecs for the topic schemas of docs/events.md (all carry "v": 1). */
#ifndef WA_EVENT_H
#define WA_EVENT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define WA_EVENT_VERSION 1

/* Outside JSON, parsed strictly (a repeated key is an error), or NULL with errbuf naming the
 * line and column. */
json_t *wa_json_load(const char *buf, size_t len, char *errbuf, size_t errsz);
#define WA_MAX_MEDIA 10

/* One media item. Exactly one of url and unavailable is set: the provider's URL to fetch it
 * from, or why it cannot be had (the bridge could not download it, or it is over the limit);
 * such a message is still stored, with its text and caption. */
struct wa_media_ref {
    const char *url;
    const char *mime; /* NULL when not declared */
    int64_t size;     /* -1 when unknown */
    const char *unavailable;
};

/* A normalized inbound message (topic wa.inbound). Strings are borrowed. */
struct wa_inbound {
    const char *provider;            /* "twilio" | "baileys" */
    const char *provider_message_id; /* Twilio MessageSid; Baileys key.id */
    const char *account;             /* Twilio AccountSid; Baileys device */
    const char *phone;               /* contact, E.164 with '+' */
    const char *wa_id;               /* WhatsApp id, digits */
    const char *lid;                 /* Baileys LID when known */
    const char *profile_name;
    const char *to;   /* our number, E.164 */
    const char *type; /* text, image, audio, video, document, sticker, location, button, ... */
    const char *text;
    size_t text_len;
    int64_t timestamp_ms; /* when the provider says it was sent */
    int64_t received_ms;  /* when ingress accepted it */
    size_t nmedia;
    struct wa_media_ref media[WA_MAX_MEDIA];
    const char *button_text, *button_payload;
    const char *latitude, *longitude, *address, *label; /* kept as text: no float rounding */
    const char *reply_to; /* the provider id of the message this one answers */
    json_t *raw;          /* every provider field as received (borrowed) */
};

/* Encodes to a new compact JSON string (caller frees), or NULL on invalid UTF-8. */
char *wa_inbound_encode(const struct wa_inbound *in, size_t *len);

/* Decodes and validates. Returns the parsed root (caller json_decref()s; the
 * strings in *out point into it) or NULL with errbuf saying what is wrong. */
json_t *wa_inbound_decode(const char *buf, size_t len, struct wa_inbound *out, char *errbuf,
                          size_t errsz);

/* A delivery status (topic wa.status): from a provider callback, a bridge
 * receipt, or a sender's own result. Strings are borrowed. */
struct wa_status {
    const char *provider;            /* "twilio" | "baileys" */
    const char *provider_message_id; /* may be NULL when message_id is given */
    const char *message_id;          /* our id (uuid), when the source knows it */
    const char *status;              /* queued sent delivered read failed undelivered unknown */
    const char *provider_status;     /* the provider's own word */
    const char *phone;               /* contact, E.164 */
    const char *error_code, *error_text;
    const char *source; /* "callback" | "receipt" | "sender" */
    const char *reason; /* a sender's explanation (failover, retries) */
    int64_t timestamp_ms, received_ms;
    int64_t latency_ms; /* request accepted -> provider answered; -1 when unknown */
    int attempt;        /* provider calls made so far; 0 when unknown */
    int failover;       /* Twilio carries a message meant for Baileys */
    json_t *raw;        /* the provider's body, borrowed */
};

/* Encodes (new string), or NULL on invalid UTF-8. */
char *wa_status_encode(const struct wa_status *s);

/* Decodes and validates; returns the root (caller json_decref()s) or NULL with errbuf. */
json_t *wa_status_decode(const char *buf, size_t len, struct wa_status *out, char *errbuf,
                         size_t errsz);

/* The Kafka key of a contact: E.164 digits without '+'. */
const char *wa_event_key(const char *phone);

/* wa.error: stage, code, human text, retryable, and the original payload
 * (kept as a string; as base64 too when it is not UTF-8). */
char *wa_error_encode(const char *stage, const char *code, const char *text, int retryable,
                      const char *provider, const char *topic, int32_t partition, int64_t offset,
                      const char *payload, size_t payload_len);

/* wa_error_encode plus the fields of extra (an object, borrowed; NULL: none), for errors that
 * carry more than the common ones, such as the bridge's parked entries. */
char *wa_error_encode_with(const char *stage, const char *code, const char *text, int retryable,
                           const char *provider, const char *topic, int32_t partition,
                           int64_t offset, const char *payload, size_t payload_len, json_t *extra);

#endif
