/* wa_tls.h - TLS on a service's own HTTP port: a certificate and key from two files, checked at
 * start, handed to libmicrohttpd (MHD_USE_TLS, MHD_OPTION_HTTPS_MEM_CERT / _KEY). */
#ifndef WA_TLS_H
#define WA_TLS_H

#include <microhttpd.h>
#include <stddef.h>

/* GnuTLS priorities: TLS 1.2 and 1.3 only, the library's default ciphers within them. */
#define WA_TLS_PRIORITIES "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"

struct wa_tls {
    char *cert, *key; /* PEM text; both NULL when TLS is off */
    struct MHD_OptionItem opts[4];
};

/* The two table entries of a service's TLS files: PREFIX_TLS_CERT and PREFIX_TLS_KEY, both
 * optional. cert_out and key_out are const char * variables of the service's config. */
#define WA_TLS_CFG(prefix, cert_out, key_out)                                                      \
    {prefix "_TLS_CERT",                                                                           \
     "",                                                                                           \
     WA_CFG_STR,                                                                                   \
     0,                                                                                            \
     0,                                                                                            \
     NULL,                                                                                         \
     "PEM certificate (chain) file: serve HTTPS; needs " prefix "_TLS_KEY",                        \
     &(cert_out),                                                                                  \
     NULL},                                                                                        \
    {                                                                                              \
        prefix "_TLS_KEY", "", WA_CFG_STR, 0, 0, NULL,                                             \
            "PEM private key file of " prefix "_TLS_CERT", &(key_out), NULL                        \
    }

/* A CA file to trust (PEM): 0 when path reads and holds a certificate, else -1 with err naming
 * var and the path. */
int wa_tls_check_ca(const char *var, const char *path, char *err, size_t errsz);

/* Loads the pair. prefix names the variables in the errors ("INGRESS" for INGRESS_TLS_CERT);
 * cert_path and key_path are their values (NULL or "" when unset). Both unset: TLS is off, 0.
 * Both set: the files are read and checked (a PEM certificate, a PEM private key, the key is the
 * certificate's, libmicrohttpd has TLS), 0. Otherwise -1 with err saying which variable and what
 * is wrong. An expired certificate only warns (the log says so): a restart must not take the
 * service down for it. */
int wa_tls_load(struct wa_tls *t, const char *prefix, const char *cert_path, const char *key_path,
                char *err, size_t errsz);

static inline int wa_tls_on(const struct wa_tls *t)
{
    return t->cert != NULL;
}

/* What to add to MHD_start_daemon's flags: MHD_USE_TLS when on, else 0. */
unsigned wa_tls_flags(const struct wa_tls *t);

/* The options for MHD_OPTION_ARRAY: the certificate, key and priorities when on; just
 * MHD_OPTION_END when off. They point into t, which must outlive the daemon. */
const struct MHD_OptionItem *wa_tls_options(struct wa_tls *t);

/* "https" or "http", for the logs. */
const char *wa_tls_scheme(const struct wa_tls *t);

/* Forgets the key (zeroed) and the certificate. */
void wa_tls_free(struct wa_tls *t);

#endif
