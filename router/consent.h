/* consent.h - opt-out and opt-in (docs/architecture.md §3.5): which inbound texts are a stop or
 * a start keyword, and which Twilio failures mean the contact refused our messages. Pure:
 * table-tested in tests/unit/test_consent.c. */
#ifndef ROUTER_CONSENT_H
#define ROUTER_CONSENT_H

#include <stddef.h>
#include <stdint.h>

#define RTR_KEYWORDS_MAX 32
#define RTR_KEYWORD_MAX 64 /* bytes of a keyword, folded or as configured */

enum rtr_consent { RTR_CONSENT_NONE = 0, RTR_CONSENT_OPTOUT, RTR_CONSENT_OPTIN };

/* The keywords of OPTOUT_KEYWORDS and OPTIN_KEYWORDS. */
struct rtr_keywords {
    struct {
        char folded[RTR_KEYWORD_MAX]; /* what a text is compared with */
        char shown[RTR_KEYWORD_MAX];  /* as configured, trimmed: for the event and the row */
        enum rtr_consent action;
    } w[RTR_KEYWORDS_MAX];
    int n;
};

/* Both lists, comma-separated. Returns -1 with err naming the variable and the entry that is
 * wrong: empty, too long, more than RTR_KEYWORDS_MAX in all, not UTF-8, or in both lists. */
int rtr_keywords_load(struct rtr_keywords *kw, const char *optout, const char *optin, char *err,
                      size_t errsz);

/* What an inbound text says: exactly one keyword, once the whitespace and invisible marks
 * around it are trimmed and its case folded (Latin letters; Hebrew has no case, and its vowel
 * points are ignored). "stop by tomorrow?" is no keyword. *keyword gets the keyword as
 * configured (NULL when none). text may be NULL. */
enum rtr_consent rtr_consent_match(const struct rtr_keywords *kw, const char *text, size_t len,
                                   const char **keyword);

/* The idempotency key of the one confirmation an opt-out sends (OPTOUT_CONFIRMATION): this
 * prefix and the opt-out's id (consent_changes.id), made by the SQL that records the opt-out. A
 * replay of the STOP makes no new opt-out, so no second confirmation. */
#define RTR_CONFIRMATION_KEY "optout-confirmation:"

/* The opt-out a request's idempotency key confirms, or 0 when it is no confirmation's key. */
int64_t rtr_confirmation_of(const char *key);

/* The contact.optout or contact.optin event (docs/events.md) without what the database knows:
 * the SQL that records the change adds contact {id, phone}, message_id, and channel when NULL
 * here. source is "keyword" (detail: the keyword as configured) or "twilio_error" (detail:
 * Twilio's error code). New string. */
char *rtr_consent_event(enum rtr_consent action, const char *provider, const char *channel,
                        const char *source, const char *detail, int64_t at_ms);

/* What a provider's failed status means for consent. */
enum rtr_refusal {
    RTR_REFUSED_NOTHING = 0,
    RTR_REFUSED_ALL,     /* Twilio 63033: the contact refused messages from this number */
    RTR_REFUSED_TEMPLATE /* Twilio 63049: this marketing template is not delivered to them */
};
enum rtr_refusal rtr_refusal_of(const char *provider, const char *status, const char *error_code);

#endif
