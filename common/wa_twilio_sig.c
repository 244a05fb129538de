/* wa_twilio_sig.c - Twilio request signatures on OpenSSL's HMAC; pure. */
#include "wa_twilio_sig.h"
#include "wa_util.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>

static int bytecmp(const char *a, size_t al, const char *b, size_t bl)
{
    int c = memcmp(a, b, al < bl ? al : bl);
    if (c) return c;
    return al < bl ? -1 : al > bl;
}

static int pair_cmp(const void *x, const void *y)
{
    const struct wa_pair *a = *(const struct wa_pair *const *)x;
    const struct wa_pair *b = *(const struct wa_pair *const *)y;
    int c = bytecmp(a->key, a->key_len, b->key, b->key_len);
    return c ? c : bytecmp(a->value, a->value_len, b->value, b->value_len);
}

void wa_twilio_sign(const char *token, const char *url, const struct wa_form *params,
                    char out[WA_TWILIO_SIG_LEN])
{
    const struct wa_pair **sorted = wa_xcalloc(params->n + 1, sizeof *sorted);
    for (size_t i = 0; i < params->n; i++)
        sorted[i] = &params->pairs[i];
    qsort(sorted, params->n, sizeof *sorted, pair_cmp);

    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    struct wa_buf data = {0};
    wa_buf_append(&data, url, strlen(url));
    for (size_t i = 0; i < params->n; i++) {
        /* Same key and same value as the previous pair: the SDKs de-duplicate. */
        if (i > 0 && pair_cmp(&sorted[i - 1], &sorted[i]) == 0) continue;
        wa_buf_append(&data, sorted[i]->key, sorted[i]->key_len);
        wa_buf_append(&data, sorted[i]->value, sorted[i]->value_len);
    }
    HMAC(EVP_sha1(), token, (int)strlen(token), (const unsigned char *)data.data, data.len, mac,
         &maclen);
    EVP_EncodeBlock((unsigned char *)out, mac, (int)maclen);
    wa_buf_free(&data);
    free(sorted);
}

int wa_twilio_url_variants(const char *url, char *no_port, char *with_port, size_t sz)
{
    const char *sep = strstr(url, "://");
    if (!sep || sep == url) return -1;
    size_t scheme_len = (size_t)(sep - url);
    const char *host = sep + 3;
    size_t host_end = strcspn(host, "/?");
    const char *rest = host + host_end;
    /* A ':' inside the authority (after any userinfo) marks the port. */
    const char *at = memchr(host, '@', host_end);
    const char *hp = at ? at + 1 : host;
    const char *colon = memchr(hp, ':', (size_t)(host + host_end - hp));
    size_t name_len = colon ? (size_t)(colon - host) : host_end;
    const char *def = NULL;
    if (scheme_len == 5 && strncmp(url, "https", 5) == 0)
        def = "443";
    else if (scheme_len == 4 && strncmp(url, "http", 4) == 0)
        def = "80";
    size_t need = strlen(url) + 8;
    if (need > sz) return -1;
    memcpy(no_port, url, scheme_len + 3 + name_len);
    strcpy(no_port + scheme_len + 3 + name_len, rest);
    if (colon || !def) {
        strcpy(with_port, url);
    } else {
        memcpy(with_port, url, scheme_len + 3 + name_len);
        with_port[scheme_len + 3 + name_len] = ':';
        strcpy(with_port + scheme_len + 4 + name_len, def);
        strcat(with_port, rest);
    }
    return 0;
}

int wa_twilio_valid(const char *token, const char *url, const struct wa_form *params,
                    const char *sig)
{
    if (!sig || !token) return 0;
    size_t sz = strlen(url) + 16;
    char *a = wa_xmalloc(sz), *b = wa_xmalloc(sz);
    int ok = 0;
    if (wa_twilio_url_variants(url, a, b, sz) == 0) {
        char s1[WA_TWILIO_SIG_LEN], s2[WA_TWILIO_SIG_LEN];
        wa_twilio_sign(token, a, params, s1);
        wa_twilio_sign(token, b, params, s2);
        size_t sl = strlen(sig);
        /* Evaluate both, so the time taken does not say which variant matched. */
        int m1 = wa_ct_equal(sig, sl, s1, 28);
        int m2 = wa_ct_equal(sig, sl, s2, 28);
        ok = m1 | m2;
    }
    free(a);
    free(b);
    return ok;
}

int wa_twilio_valid_json(const char *token, const char *url, const char *body, size_t len,
                         const char *sig)
{
    const char *q = strchr(url, '?');
    const char *h = NULL;
    for (const char *p = q; p; p = strchr(p + 1, '&')) {
        if (strncmp(p + 1, "bodySHA256=", 11) == 0) {
            h = p + 12;
            break;
        }
    }
    if (!h) return 0;
    unsigned char dig[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)body, len, dig);
    char hex[SHA256_DIGEST_LENGTH * 2 + 1];
    for (int i = 0; i < SHA256_DIGEST_LENGTH; i++) {
        static const char x[] = "0123456789abcdef";
        hex[2 * i] = x[dig[i] >> 4];
        hex[2 * i + 1] = x[dig[i] & 15];
    }
    hex[64] = '\0';
    size_t hl = strcspn(h, "&");
    if (!wa_ct_equal(h, hl, hex, 64)) return 0;
    struct wa_form none = {0};
    return wa_twilio_valid(token, url, &none, sig);
}
