/* test_media.c - media decisions: media-worker's allowed hosts, private addresses and size cap;
 * common/wa_media.c's sniffing, stored types, keys, and what an operator's upload may be. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "media.h"
#include "wa_media.h"

struct mw_config mw_cfg; /* policy.c reads none of it; fetch.c, not linked here, does */

static void test_hosts(void **state)
{
    (void)state;
    const char *list = "api.twilio.com, .twiliocdn.com,127.0.0.1:3001,Bridge.Local";
    static const struct {
        const char *host;
        long port;
        int want;
    } cases[] = {
        {"api.twilio.com", 443, 1},
        {"API.TWILIO.COM", 443, 1},
        {"media.twiliocdn.com", 443, 1},
        {"mms.twiliocdn.com", 80, 1},
        {"twiliocdn.com", 443, 0},     /* ".domain" means its subdomains */
        {"eviltwiliocdn.com", 443, 0}, /* not a subdomain */
        {"api.twilio.com.evil.example", 443, 0},
        {"127.0.0.1", 3001, 1},
        {"127.0.0.1", 3002, 0}, /* the port is part of the entry */
        {"bridge.local", 8080, 1},
        {"169.254.169.254", 80, 0},
        {"", 80, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        print_message("%s:%ld\n", cases[i].host, cases[i].port);
        assert_int_equal(mw_host_allowed(list, cases[i].host, cases[i].port), cases[i].want);
    }
    assert_int_equal(mw_host_allowed("", "api.twilio.com", 443), 0);
    assert_int_equal(mw_host_allowed(NULL, "api.twilio.com", 443), 0);
}

static void test_private_addresses(void **state)
{
    (void)state;
    static const struct {
        const char *ip;
        int want;
    } cases[] = {
        {"127.0.0.1", 1},
        {"10.1.2.3", 1},
        {"172.16.0.1", 1},
        {"172.31.255.255", 1},
        {"172.32.0.1", 0},
        {"192.168.1.1", 1},
        {"169.254.169.254", 1},
        {"100.64.0.1", 1},
        {"100.128.0.1", 0},
        {"0.0.0.0", 1},
        {"224.0.0.1", 1},
        {"8.8.8.8", 0},
        {"54.172.60.1", 0},
        {"::1", 1},
        {"::", 1},
        {"fd00::1", 1},
        {"fe80::1", 1},
        {"2600:1f18::1", 0},
        {"::ffff:127.0.0.1", 1},
        {"::ffff:8.8.8.8", 0},
        {"not-an-ip", 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        print_message("%s\n", cases[i].ip);
        assert_int_equal(mw_ip_private(cases[i].ip), cases[i].want);
    }
}

static void test_sniff_and_keys(void **state)
{
    (void)state;
    static const struct {
        const char *bytes;
        size_t n;
        const char *want;
    } cases[] = {
        {"\xFF\xD8\xFF\xE0\x00\x10JFIF", 10, "image/jpeg"},
        {"\x89PNG\r\n\x1A\n\0\0", 10, "image/png"},
        {"RIFF\x10\0\0\0WEBPVP8 ", 16, "image/webp"},
        {"%PDF-1.4\n", 9, "application/pdf"},
        {"OggS\0\2", 6, "audio/ogg"},
        {"\0\0\0\x18"
         "ftypmp42",
         12, "video/mp4"},
        {"PK\x03\x04\x14\0", 6, "application/zip"},
        {"BEGIN:VCARD\r\n", 13, "text/vcard"},
        {"hello", 5, NULL},
        {"\xFF\xD8", 2, NULL}, /* too short to tell */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *got = wa_media_sniff((const unsigned char *)cases[i].bytes, cases[i].n);
        if (cases[i].want)
            assert_string_equal(got, cases[i].want);
        else
            assert_null(got);
    }
    assert_true(wa_media_mime_agrees("image/jpeg", "image/jpeg"));
    assert_true(wa_media_mime_agrees("audio/ogg; codecs=opus", "audio/ogg"));
    assert_true(wa_media_mime_agrees(
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/zip"));
    assert_true(wa_media_mime_agrees("video/3gpp", "video/mp4"));
    assert_false(wa_media_mime_agrees("image/jpeg", "application/pdf"));
    assert_false(wa_media_mime_agrees("application/pdf", "application/zip"));
    assert_true(wa_media_mime_agrees(NULL, "image/png"));

    char key[256];
    wa_media_object_key(key, sizeof key, "0d4c0a52-6a6b-8f5e-9d2c-6c3e2e7b9a11", 0, "image/jpeg");
    assert_string_equal(key, "media/0d4c0a52-6a6b-8f5e-9d2c-6c3e2e7b9a11/0.jpg");
    wa_media_object_key(key, sizeof key, "0d4c0a52-6a6b-8f5e-9d2c-6c3e2e7b9a11", 3,
                        "audio/ogg; codecs=opus");
    assert_string_equal(key, "media/0d4c0a52-6a6b-8f5e-9d2c-6c3e2e7b9a11/3.ogg");
    wa_media_object_key(key, sizeof key, "0d4c0a52-6a6b-8f5e-9d2c-6c3e2e7b9a11", 1,
                        "application/x-unknown");
    assert_string_equal(key, "media/0d4c0a52-6a6b-8f5e-9d2c-6c3e2e7b9a11/1");
}

/* What storage serves media as: never a type that runs in the storage origin on the sender's
 * word alone. */
static void test_stored_mime(void **state)
{
    (void)state;
    static const struct {
        const char *declared, *sniffed, *want;
    } cases[] = {
        {"image/png", "image/png", "image/png"},
        {"text/html", "image/png", "image/png"}, /* the bytes win */
        {"text/html", NULL, "application/octet-stream"},
        {"text/html; charset=utf-8", NULL, "application/octet-stream"},
        {"image/svg+xml", NULL, "application/octet-stream"},
        {"application/xhtml+xml", NULL, "application/octet-stream"},
        {"application/javascript", NULL, "application/octet-stream"},
        {"text/xml", NULL, "application/octet-stream"},
        {NULL, NULL, "application/octet-stream"},
        {"audio/aac", NULL, "audio/aac"},
        {"video/3gpp", NULL, "video/3gpp"},
        {"text/plain", NULL, "text/plain"},
        {"application/pdf", NULL, "application/pdf"},
        {"application/vnd.openxmlformats-officedocument.wordprocessingml.document",
         "application/zip",
         "application/vnd.openxmlformats-officedocument.wordprocessingml.document"},
        {"text/html", "application/zip", "application/zip"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *got = wa_media_stored_mime(cases[i].declared, cases[i].sniffed);
        print_message("%s / %s -> %s\n", cases[i].declared ? cases[i].declared : "-",
                      cases[i].sniffed ? cases[i].sniffed : "-", got);
        assert_string_equal(got, cases[i].want);
    }
}

/* What storage may show in a browser; the rest is downloaded (issue: a contact's text or document
 * opened from the dashboard's link was served with its own type). */
static void test_inline(void **state)
{
    (void)state;
    static const char *const shown[] = {
        "image/jpeg", "image/png",  "image/gif",      "image/webp",
        "IMAGE/PNG",  "audio/ogg",  "audio/mpeg",     "audio/ogg; codecs=opus",
        "video/mp4",  "video/3gpp", "application/pdf"};
    static const char *const downloaded[] = {
        "text/plain",
        "text/csv",
        "text/vcard",
        "text/html",
        "image/svg+xml",
        "application/zip",
        "application/msword",
        "application/octet-stream",
        "audio/",
        "video/x+xml",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/pdfx",
        "image/jpegx",
        ""};
    for (size_t i = 0; i < sizeof shown / sizeof shown[0]; i++) {
        print_message("inline: %s\n", shown[i]);
        assert_true(wa_media_inline(shown[i]));
    }
    for (size_t i = 0; i < sizeof downloaded / sizeof downloaded[0]; i++) {
        print_message("attachment: %s\n", downloaded[i]);
        assert_false(wa_media_inline(downloaded[i]));
    }
    assert_false(wa_media_inline(NULL));
}

static void test_size_limit(void **state)
{
    (void)state;
    const uint64_t max = 1000;
    assert_true(mw_size_ok(1000, 0, 0, max));  /* exactly the limit is allowed */
    assert_false(mw_size_ok(1001, 0, 0, max)); /* refused before any byte */
    assert_true(mw_size_ok(-1, 0, 0, max));    /* no Content-Length: count the bytes */
    assert_true(mw_size_ok(-1, 900, 100, max));
    assert_false(mw_size_ok(-1, 900, 101, max)); /* the chunk that crosses it stops the transfer */
    assert_false(mw_size_ok(-1, 1001, 0, max));
    assert_false(mw_size_ok(-1, 10, UINT64_MAX, max)); /* no overflow */
    assert_true(mw_size_ok(0, 0, 0, 0));
}

static void test_sendable(void **state)
{
    (void)state;
    static const struct {
        const char *declared, *bytes;
        size_t n;
        const char *want; /* NULL: refused */
    } cases[] = {
        {"image/jpeg", "\xFF\xD8\xFF\xE0", 4, "image/jpeg"},
        {"", "\x89PNG\r\n\x1A\n", 8, "image/png"}, /* no declared type: the bytes decide */
        {NULL, "%PDF-1.7", 8, "application/pdf"},
        {"audio/ogg; codecs=opus", "OggS\0\2", 6, "audio/ogg"},
        {"video/mp4",
         "\0\0\0\x20"
         "ftypisom",
         12, "video/mp4"},
        {"application/vnd.openxmlformats-officedocument.wordprocessingml.document", "PK\3\4", 4,
         "application/vnd.openxmlformats-officedocument.wordprocessingml.document"},
        {"application/zip", "PK\3\4", 4, NULL},    /* a bare zip is not a document */
        {"image/png", "%PDF-1.7", 8, NULL},        /* the label lies */
        {"image/jpeg", "MZ\x90\0", 4, NULL},       /* a program named .jpg */
        {"text/html", "<html><script>", 14, NULL}, /* nothing the bytes announce */
        {"image/gif", "GIF89a", 6, NULL},          /* WhatsApp does not send GIFs */
        {"image/jpeg", "", 0, NULL},               /* an empty file */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char err[256] = "";
        const char *got = wa_media_sendable(
            cases[i].declared, (const unsigned char *)cases[i].bytes, cases[i].n, err, sizeof err);
        print_message("%zu: %s -> %s (%s)\n", i, cases[i].declared ? cases[i].declared : "-",
                      got ? got : "refused", err);
        if (cases[i].want) {
            assert_non_null(got);
            assert_string_equal(got, cases[i].want);
        } else {
            assert_null(got);
            assert_true(err[0] != '\0');
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hosts),          cmocka_unit_test(test_private_addresses),
        cmocka_unit_test(test_sniff_and_keys), cmocka_unit_test(test_size_limit),
        cmocka_unit_test(test_stored_mime),    cmocka_unit_test(test_inline),
        cmocka_unit_test(test_sendable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
