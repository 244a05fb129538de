/* test_tls.c - a service's TLS files: both or neither, readable, a certificate and its own key. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "wa_tls.h"

static char dir[64];
static char cert_a[128], key_a[128], key_b[128], junk[128], missing[128];

/* A self-signed certificate for a fresh P-256 key, valid for days (negative: expired). */
static X509 *self_signed(EVP_PKEY *pk, long days)
{
    X509 *x = X509_new();
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), -2 * 86400);
    X509_gmtime_adj(X509_getm_notAfter(x), days * 86400);
    X509_set_pubkey(x, pk);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
                               (const unsigned char *)"localhost", -1, -1, 0);
    X509_set_issuer_name(x, X509_get_subject_name(x));
    X509_sign(x, pk, EVP_sha256());
    return x;
}

static void write_key(const char *path, EVP_PKEY *pk)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(PEM_write_PrivateKey(f, pk, NULL, NULL, 0, NULL, NULL), 1);
    fclose(f);
}

static void write_cert(const char *path, X509 *x)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(PEM_write_X509(f, x), 1);
    fclose(f);
}

static int setup(void **state)
{
    (void)state;
    strcpy(dir, "/tmp/wa-test-tls-XXXXXX");
    if (!mkdtemp(dir)) return -1;
    snprintf(cert_a, sizeof cert_a, "%s/a.pem", dir);
    snprintf(key_a, sizeof key_a, "%s/a.key", dir);
    snprintf(key_b, sizeof key_b, "%s/b.key", dir);
    snprintf(junk, sizeof junk, "%s/junk.pem", dir);
    snprintf(missing, sizeof missing, "%s/none.pem", dir);
    EVP_PKEY *a = EVP_EC_gen("P-256"), *b = EVP_EC_gen("P-256");
    X509 *x = self_signed(a, 30);
    write_cert(cert_a, x);
    write_key(key_a, a);
    write_key(key_b, b);
    FILE *f = fopen(junk, "w");
    fputs("not a certificate\n", f);
    fclose(f);
    X509_free(x);
    EVP_PKEY_free(a);
    EVP_PKEY_free(b);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    const char *files[] = {cert_a, key_a, key_b, junk};
    for (size_t i = 0; i < 4; i++)
        unlink(files[i]);
    rmdir(dir);
    return 0;
}

static void test_neither_is_plain_http(void **state)
{
    (void)state;
    struct wa_tls t;
    char err[512] = "";
    assert_int_equal(wa_tls_load(&t, "INGRESS", NULL, "", err, sizeof err), 0);
    assert_false(wa_tls_on(&t));
    assert_int_equal(wa_tls_flags(&t), 0);
    assert_string_equal(wa_tls_scheme(&t), "http");
    assert_int_equal(wa_tls_options(&t)[0].option, MHD_OPTION_END);
    wa_tls_free(&t);
}

static void test_one_without_the_other(void **state)
{
    (void)state;
    struct wa_tls t;
    char err[512];
    assert_int_equal(wa_tls_load(&t, "INGRESS", cert_a, "", err, sizeof err), -1);
    assert_string_equal(err, "INGRESS_TLS_CERT is set but INGRESS_TLS_KEY is not: set both "
                             "(HTTPS) or neither");
    assert_int_equal(wa_tls_load(&t, "DASHBOARD", NULL, key_a, err, sizeof err), -1);
    assert_string_equal(err, "DASHBOARD_TLS_KEY is set but DASHBOARD_TLS_CERT is not: set both "
                             "(HTTPS) or neither");
    assert_false(wa_tls_on(&t));
}

static void test_unreadable_file_names_variable_and_path(void **state)
{
    (void)state;
    struct wa_tls t;
    char err[512], want[512];
    assert_int_equal(wa_tls_load(&t, "INGRESS", missing, key_a, err, sizeof err), -1);
    snprintf(want, sizeof want, "INGRESS_TLS_CERT=%s: cannot read it: No such file or directory",
             missing);
    assert_string_equal(err, want);
    assert_int_equal(wa_tls_load(&t, "INGRESS", cert_a, dir, err, sizeof err), -1);
    snprintf(want, sizeof want, "INGRESS_TLS_KEY=%s: cannot read it: Is a directory", dir);
    assert_string_equal(err, want);
}

static void test_wrong_contents(void **state)
{
    (void)state;
    struct wa_tls t;
    char err[512], want[512];
    assert_int_equal(wa_tls_load(&t, "INGRESS", junk, key_a, err, sizeof err), -1);
    snprintf(want, sizeof want,
             "INGRESS_TLS_CERT=%s: no PEM certificate in it (-----BEGIN CERTIFICATE-----)", junk);
    assert_string_equal(err, want);
    /* The two swapped: a key is no certificate. */
    assert_int_equal(wa_tls_load(&t, "INGRESS", key_a, cert_a, err, sizeof err), -1);
    assert_non_null(strstr(err, "INGRESS_TLS_CERT="));
    assert_non_null(strstr(err, "no PEM certificate"));
    assert_int_equal(wa_tls_load(&t, "INGRESS", cert_a, junk, err, sizeof err), -1);
    assert_non_null(strstr(err, "INGRESS_TLS_KEY="));
    assert_non_null(strstr(err, "no PEM private key"));
    assert_false(wa_tls_on(&t));
}

static void test_key_of_another_certificate(void **state)
{
    (void)state;
    struct wa_tls t;
    char err[512], want[512];
    assert_int_equal(wa_tls_load(&t, "DASHBOARD", cert_a, key_b, err, sizeof err), -1);
    snprintf(want, sizeof want,
             "DASHBOARD_TLS_KEY=%s is not the key of the certificate in DASHBOARD_TLS_CERT=%s",
             key_b, cert_a);
    assert_string_equal(err, want);
}

static void test_good_pair_gives_mhd_options(void **state)
{
    (void)state;
    struct wa_tls t;
    char err[512] = "";
    assert_int_equal(wa_tls_load(&t, "INGRESS", cert_a, key_a, err, sizeof err), 0);
    assert_true(wa_tls_on(&t));
    assert_int_equal(wa_tls_flags(&t), MHD_USE_TLS);
    assert_string_equal(wa_tls_scheme(&t), "https");
    const struct MHD_OptionItem *o = wa_tls_options(&t);
    assert_int_equal(o[0].option, MHD_OPTION_HTTPS_MEM_CERT);
    assert_non_null(strstr(o[0].ptr_value, "-----BEGIN CERTIFICATE-----"));
    assert_int_equal(o[1].option, MHD_OPTION_HTTPS_MEM_KEY);
    assert_non_null(strstr(o[1].ptr_value, "PRIVATE KEY-----"));
    assert_int_equal(o[2].option, MHD_OPTION_HTTPS_PRIORITIES);
    assert_int_equal(o[3].option, MHD_OPTION_END);
    wa_tls_free(&t);
    assert_false(wa_tls_on(&t));
    assert_int_equal(wa_tls_options(&t)[0].option, MHD_OPTION_END);
}

static enum MHD_Result no_requests(void *cls, struct MHD_Connection *c, const char *url,
                                   const char *method, const char *version, const char *data,
                                   size_t *size, void **req)
{
    (void)cls, (void)c, (void)url, (void)method, (void)version, (void)data, (void)size, (void)req;
    return MHD_NO;
}

/* A real daemon takes the options: the certificate, the key and the priorities string. */
static void test_daemon_starts_with_them(void **state)
{
    (void)state;
    if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) skip();
    struct wa_tls t;
    char err[512] = "";
    assert_int_equal(wa_tls_load(&t, "INGRESS", cert_a, key_a, err, sizeof err), 0);
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_NO_LISTEN_SOCKET | wa_tls_flags(&t), 0, NULL,
        NULL, no_requests, NULL, MHD_OPTION_ARRAY, wa_tls_options(&t), MHD_OPTION_END);
    assert_non_null(d);
    MHD_stop_daemon(d);
    wa_tls_free(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_neither_is_plain_http),
        cmocka_unit_test(test_one_without_the_other),
        cmocka_unit_test(test_unreadable_file_names_variable_and_path),
        cmocka_unit_test(test_wrong_contents),
        cmocka_unit_test(test_key_of_another_certificate),
        cmocka_unit_test(test_good_pair_gives_mhd_options),
        cmocka_unit_test(test_daemon_starts_with_them),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
