/* ingress.h - what the files of ingress/ share: config, the producer, metrics, the request. */
#ifndef INGRESS_H
#define INGRESS_H

#include <librdkafka/rdkafka.h>
#include <microhttpd.h>

#include "wa_event.h"
#include "wa_form.h"
#include "wa_kafka.h"
#include "wa_metrics.h"
#include "wa_outbound.h"
#include "wa_edge.h"
#include "wa_tls.h"
#include "wa_util.h"

struct ing_config {
    const char *listen;
    const char *public_base_url;
    const char *twilio_auth_token;
    const char *kafka_brokers;
    const char *topic_inbound;
    long max_body;
    long max_header;
    long kafka_deadline_ms;
    long client_timeout_s;
    long max_connections;
    long threads;
    const char *baileys_secret;
    const char *baileys_allowed_ips;
    const char *topic_status;
    const char *topic_outbound;
    const char *topic_error;
    const char *send_token;
    const char *database_url;
    const char *tls_cert, *tls_key; /* INGRESS_TLS_CERT / INGRESS_TLS_KEY: both or neither */
};
extern struct ing_config ing_cfg;
extern struct wa_tls ing_tls;   /* loaded from them at start; off when unset */
extern struct wa_edge ing_edge; /* trusted proxies, the per-address cap, the request deadline */
extern rd_kafka_t *ing_producer;

/* Outcomes of webhook requests, by provider and result. */
/* ING_PARKED: the bridge's reports of entries it parked (counted apart from its messages). */
enum ing_provider { ING_TWILIO, ING_BAILEYS, ING_API, ING_PARKED, ING_PROVIDER_COUNT };
enum ing_result {
    ING_ACCEPTED,
    ING_MISSING_AUTH, /* no signature / no secret */
    ING_BAD_AUTH,     /* wrong signature / wrong secret */
    ING_IP_REFUSED,   /* not in the allowlist */
    ING_BAD_REQUEST,
    ING_TOO_LARGE,
    ING_KAFKA_UNAVAILABLE,
    ING_RESULT_COUNT
};
void ing_metrics_init(void);
void ing_count(enum ing_provider p, enum ing_result r);
extern struct wa_metric *ing_m_ack_seconds, *ing_m_invalid_utf8, *ing_m_inflight;

/* How a send that asked to wait (Prefer: wait) ended: the router's decision came in time, the
 * deadline passed first, or the CRM could not be asked (so the wait was cut short). */
enum ing_wait_result { ING_WAIT_DECIDED, ING_WAIT_TIMED_OUT, ING_WAIT_UNAVAILABLE, ING_WAIT_COUNT };
void ing_count_wait(enum ing_wait_result w, int64_t waited_ms);
extern struct wa_metric *ing_m_waiting;

/* One HTTP request, from the first byte of its URI to the response. */
struct ing_request {
    enum ing_provider provider;
    char *uri; /* raw request target, query included: signatures cover it */
    struct wa_buf body;
    int started; /* the header-only first call was seen */
    int too_large;
    int suspended;
    struct MHD_Connection *conn;
    /* What runs when a suspended request is resumed (the Kafka ack, the CRM's answer). */
    enum MHD_Result (*resume)(struct ing_request *r);
    struct wa_delivery dlv;
    int64_t start_ms;
    const char *url; /* the parsed path */
    /* When set, a Kafka ack is answered with this status and JSON body
     * instead of 204 (the send API's 202). */
    unsigned ack_status;
    char *ack_body;
    /* When set, runs once Kafka acked instead of that answer (a send that waits). */
    enum MHD_Result (*acked)(struct ing_request *r);
    /* The seconds a send waits for the router's decision (Prefer: wait); 0: it does not. */
    int wait_s;
    /* The send API: its decoded request (borrowing from api_root), and the CRM's answer. */
    json_t *api_root;
    struct wa_outbound *api;
    char crm_id[37];
    json_t *crm_result;
    int crm_unavailable;
    int64_t crm_deadline_ms; /* a wait for the message's row ends then (wa_now_ms) */
    struct ing_request *crm_next;
};

/* crm.c: looks the message crm_id up off the HTTP threads (the request is suspended meanwhile),
 * then calls then(r) with r->crm_result (NULL: not found) and r->crm_unavailable set. */
enum MHD_Result ing_crm_lookup(struct ing_request *r, const char *id,
                               enum MHD_Result (*then)(struct ing_request *r));
/* crm.c: waits, suspended, until the message id is stored or until deadline_ms (wa_now_ms
 * clock), then calls then(r) with r->crm_result (NULL: not stored by then) and
 * r->crm_unavailable (1: the CRM could not be asked, and the wait was cut short). The CRM is
 * asked at least once, however early the deadline. */
enum MHD_Result ing_crm_wait(struct ing_request *r, const char *id, int64_t deadline_ms,
                             enum MHD_Result (*then)(struct ing_request *r));
void ing_crm_start(void);
void ing_crm_stop(void);

/* Produces value to topic with key, suspends the connection until Kafka's
 * acknowledgement, then answers 204 (acked) or 503 (not taken in time). */
enum MHD_Result ing_produce_and_suspend(struct ing_request *r, const char *topic, const char *key,
                                        const char *value, size_t len);
/* Called again on the resumed connection: queues the answer. */
enum MHD_Result ing_finish_produce(struct ing_request *r);

/* POST /api/whatsapp/twilio */
enum MHD_Result ing_twilio_inbound(struct ing_request *r);

/* POST /api/whatsapp/baileys */
enum MHD_Result ing_baileys_inbound(struct ing_request *r);

/* POST /api/whatsapp/baileys/parked: the bridge parked an entry in its outbox/rejected/. */
enum MHD_Result ing_baileys_parked(struct ing_request *r);

/* What a bridge body is: a message (wa.inbound) or a receipt (wa.status). */
enum ing_baileys_kind { ING_BAILEYS_MESSAGE, ING_BAILEYS_STATUS };

/* Pure: a bridge JSON body to the event to produce. Returns 0 with *event (a
 * new JSON string), *kind and key (phone digits, at least 17 bytes) filled; or
 * -1 with errbuf saying what is wrong. */
int ing_baileys_normalize(const char *body, size_t len, int64_t now_ms, char **event,
                          enum ing_baileys_kind *kind, char *key, char *errbuf, size_t errsz);

/* "972501234567@s.whatsapp.net" or "972501234567:12@s.whatsapp.net" to "+972501234567" in
 * out (17 bytes). Returns 0, or -1 for any other JID (a LID, a group). */
int ing_phone_from_jid(const char *jid, char *out);

/* The Kafka key of a parked report: the contact's digits, or the file's name (at most 64). */
#define ING_PARKED_KEY_MAX 65

/* Pure: the bridge's report of a parked outbox entry to the wa.error record that tells the
 * operator, with the entry's payload. Returns 0 with *record (new) and key filled, or -1 with
 * errbuf saying what is wrong. */
int ing_parked_normalize(const char *body, size_t len, char **record, char *key, char *errbuf,
                         size_t errsz);

/* Pure: a Twilio inbound form to the normalized event. Returns 0, or -1 with
 * errbuf saying what is missing or malformed. Strings in *out borrow from form
 * and from phone/to buffers (at least 17 bytes each); *raw is new. */
int ing_twilio_normalize(const struct wa_form *form, int64_t now_ms, struct wa_inbound *out,
                         char *phone, char *to, json_t **raw, int *utf8_fixed, char *errbuf,
                         size_t errsz);

/* Pure: a Twilio status callback form (and the request target, whose "id"
 * query parameter names our message) to a wa.status event. Strings borrow
 * from form and from phone (17 bytes) and id (37 bytes); *raw is new. */
int ing_twilio_status_normalize(struct wa_form *form, const char *uri, int64_t now_ms,
                                struct wa_status *out, char *phone, char *id, json_t **raw,
                                char *errbuf, size_t errsz);

/* POST /api/whatsapp/twilio/status */
enum MHD_Result ing_twilio_status(struct ing_request *r);

/* The longest wait for the router's decision a send may ask for, in seconds. */
#define ING_WAIT_MAX_S 10

/* Pure: the seconds a send's Prefer header value (RFC 7240; a request's Prefer headers joined
 * with ", ") asks to wait for the router's decision, or 0: no wait asked, or none to honour. The
 * first "wait" preference counts. Its delta-seconds above ING_WAIT_MAX_S are cut to it; 0, and a
 * value that is not delta-seconds, are ignored, as RFC 7240 asks of a preference the server
 * cannot comply with (never an error). Other preferences are ignored. */
int ing_prefer_wait(const char *value, size_t len);

/* POST /api/whatsapp/send and GET /api/whatsapp/messages/{id} (send.c). */
enum MHD_Result ing_send(struct ing_request *r);
enum MHD_Result ing_message_get(struct ing_request *r);

/* Starts the HTTP daemon. */
struct MHD_Daemon *ing_http_start(char *err, size_t errsz);

#endif
