/* wa_tls.c - a service's certificate and key: read, checked with OpenSSL, handed to MHD. */
#include "wa_tls.h"
#include "wa_log.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A certificate chain or key is a few KiB; anything this big is the wrong file. */
#define TLS_FILE_MAX (1024 * 1024)

/* The whole file as a string, or NULL with err naming the variable and the path. */
static char *read_pem(const char *var, const char *path, char *err, size_t errsz)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errsz, "%s=%s: cannot read it: %s", var, path, strerror(errno));
        return NULL;
    }
    char *buf = malloc(TLS_FILE_MAX + 1);
    size_t n = buf ? fread(buf, 1, TLS_FILE_MAX + 1, f) : 0;
    int failed = !buf || ferror(f);
    int saved = errno;
    fclose(f);
    if (failed) {
        snprintf(err, errsz, "%s=%s: cannot read it: %s", var, path,
                 buf ? strerror(saved) : "out of memory");
        free(buf);
        return NULL;
    }
    if (n > TLS_FILE_MAX) {
        snprintf(err, errsz, "%s=%s: larger than %d bytes: not a PEM file", var, path,
                 TLS_FILE_MAX);
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    return buf;
}

/* Never asks for a passphrase (OpenSSL's default would prompt on the terminal). */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    (void)u;
    return 0;
}

/* The first certificate of pem, the key, and whether they belong together. */
static int check_pair(const char *prefix, const char *cert_path, const char *key_path,
                      const char *cert, const char *key, char *err, size_t errsz)
{
    int rc = -1;
    X509 *x = NULL;
    EVP_PKEY *pk = NULL;
    BIO *cb = BIO_new_mem_buf(cert, -1), *kb = BIO_new_mem_buf(key, -1);
    if (!cb || !kb) {
        snprintf(err, errsz, "%s_TLS_CERT: out of memory", prefix);
        goto out;
    }
    x = PEM_read_bio_X509(cb, NULL, no_passphrase, NULL);
    if (!x) {
        snprintf(err, errsz,
                 "%s_TLS_CERT=%s: no PEM certificate in it (-----BEGIN CERTIFICATE-----)", prefix,
                 cert_path);
        goto out;
    }
    pk = PEM_read_bio_PrivateKey(kb, NULL, no_passphrase, NULL);
    if (!pk) {
        snprintf(err, errsz,
                 "%s_TLS_KEY=%s: no PEM private key in it (an encrypted key is not supported: "
                 "decrypt it with `openssl pkey`)",
                 prefix, key_path);
        goto out;
    }
    if (X509_check_private_key(x, pk) != 1) {
        snprintf(err, errsz, "%s_TLS_KEY=%s is not the key of the certificate in %s_TLS_CERT=%s",
                 prefix, key_path, prefix, cert_path);
        goto out;
    }
    if (X509_cmp_current_time(X509_get0_notAfter(x)) < 0)
        wa_warn("%s_TLS_CERT=%s: the certificate has expired; clients will refuse it", prefix,
                cert_path);
    rc = 0;
out:
    ERR_clear_error();
    X509_free(x);
    EVP_PKEY_free(pk);
    BIO_free(cb);
    BIO_free(kb);
    return rc;
}

static void forget_key(char *key)
{
    if (!key) return;
    OPENSSL_cleanse(key, strlen(key));
    free(key);
}

int wa_tls_check_ca(const char *var, const char *path, char *err, size_t errsz)
{
    char *pem = read_pem(var, path, err, errsz);
    if (!pem) return -1;
    BIO *b = BIO_new_mem_buf(pem, -1);
    X509 *x = b ? PEM_read_bio_X509(b, NULL, no_passphrase, NULL) : NULL;
    if (!x)
        snprintf(err, errsz, "%s=%s: no PEM certificate in it (-----BEGIN CERTIFICATE-----)", var,
                 path);
    ERR_clear_error();
    X509_free(x);
    BIO_free(b);
    free(pem);
    return x ? 0 : -1;
}

int wa_tls_load(struct wa_tls *t, const char *prefix, const char *cert_path, const char *key_path,
                char *err, size_t errsz)
{
    memset(t, 0, sizeof *t);
    t->opts[0] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
    int has_cert = cert_path && *cert_path, has_key = key_path && *key_path;
    if (!has_cert && !has_key) return 0;
    if (!has_cert || !has_key) {
        snprintf(err, errsz, "%s_TLS_%s is set but %s_TLS_%s is not: set both (HTTPS) or neither",
                 prefix, has_cert ? "CERT" : "KEY", prefix, has_cert ? "KEY" : "CERT");
        return -1;
    }
    if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
        snprintf(err, errsz,
                 "%s_TLS_CERT is set, but this libmicrohttpd was built without TLS: install one "
                 "with GnuTLS (Debian's libmicrohttpd12) or unset %s_TLS_CERT and %s_TLS_KEY",
                 prefix, prefix, prefix);
        return -1;
    }
    char var[64];
    snprintf(var, sizeof var, "%s_TLS_CERT", prefix);
    char *cert = read_pem(var, cert_path, err, errsz);
    if (!cert) return -1;
    snprintf(var, sizeof var, "%s_TLS_KEY", prefix);
    char *key = read_pem(var, key_path, err, errsz);
    if (!key || check_pair(prefix, cert_path, key_path, cert, key, err, errsz) < 0) {
        free(cert);
        forget_key(key);
        return -1;
    }
    t->cert = cert;
    t->key = key;
    t->opts[0] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, t->cert};
    t->opts[1] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, t->key};
    t->opts[2] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_PRIORITIES, 0, (void *)WA_TLS_PRIORITIES};
    t->opts[3] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
    return 0;
}

unsigned wa_tls_flags(const struct wa_tls *t)
{
    return wa_tls_on(t) ? MHD_USE_TLS : 0;
}

const struct MHD_OptionItem *wa_tls_options(struct wa_tls *t)
{
    return t->opts;
}

const char *wa_tls_scheme(const struct wa_tls *t)
{
    return wa_tls_on(t) ? "https" : "http";
}

void wa_tls_free(struct wa_tls *t)
{
    free(t->cert);
    forget_key(t->key);
    memset(t, 0, sizeof *t);
    t->opts[0] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
}
