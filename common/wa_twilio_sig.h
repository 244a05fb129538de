/* wa_twilio_sig.h - X-Twilio-Signature: HMAC-SHA1 over the URL and sorted form parameters. */
#ifndef WA_TWILIO_SIG_H
#define WA_TWILIO_SIG_H

#include <stddef.h>

#include "wa_form.h"

/* A signature is 28 base64 characters; with NUL, 29. */
#define WA_TWILIO_SIG_LEN 29

/* Computes base64(HMAC-SHA1(token, url + sorted params)) into out. Parameters
 * are sorted by key in byte order; for a repeated key each distinct value is
 * appended once, values sorted, as Twilio's own SDKs do. */
void wa_twilio_sign(const char *token, const char *url, const struct wa_form *params,
                    char out[WA_TWILIO_SIG_LEN]);

/* Writes the two URL variants Twilio's SDKs accept: without the port, and with
 * the scheme's default port added when none is given (an explicit port is kept
 * there). Returns -1 when url has no scheme://host. */
int wa_twilio_url_variants(const char *url, char *no_port, char *with_port, size_t sz);

/* 1 when sig matches for either URL variant; compared in constant time. */
int wa_twilio_valid(const char *token, const char *url, const struct wa_form *params,
                    const char *sig);

/* JSON bodies: the URL carries bodySHA256=<hex sha256(body)>; the HMAC covers
 * the URL alone. 1 when both the hash and the signature match. */
int wa_twilio_valid_json(const char *token, const char *url, const char *body, size_t len,
                         const char *sig);

#endif
