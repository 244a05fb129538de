/* policy.c - media decisions with no I/O: the host allowlist, private addresses, MIME sniffing,
 * object keys; table-tested in tests/unit/test_media.c. */
#include "media.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int mw_host_allowed(const char *allowlist, const char *host, long port)
{
    if (!allowlist || !host || !*host) return 0;
    size_t hl = strlen(host);
    const char *p = allowlist;
    while (*p) {
        while (*p == ',' || *p == ' ')
            p++;
        size_t n = strcspn(p, ", ");
        if (n == 0) break;
        char e[256];
        if (n < sizeof e) {
            memcpy(e, p, n);
            e[n] = '\0';
            long eport = -1;
            char *colon = strrchr(e, ':');
            if (colon && !strchr(e, ']')) {
                eport = strtol(colon + 1, NULL, 10);
                *colon = '\0';
            }
            size_t el = strlen(e);
            int match;
            if (e[0] == '.')
                match = hl > el && strcasecmp(host + hl - el, e) == 0;
            else
                match = strcasecmp(host, e) == 0;
            if (match && (eport < 0 || eport == port)) return 1;
        }
        p += n;
    }
    return 0;
}

int mw_ip_private(const char *ip)
{
    unsigned char a[16];
    if (inet_pton(AF_INET, ip, a) == 1) {
        return a[0] == 0 || a[0] == 10 || a[0] == 127 || (a[0] == 169 && a[1] == 254) ||
               (a[0] == 172 && (a[1] & 0xF0) == 16) || (a[0] == 192 && a[1] == 168) ||
               (a[0] == 100 && (a[1] & 0xC0) == 64) || a[0] >= 224;
    }
    if (inet_pton(AF_INET6, ip, a) == 1) {
        static const unsigned char zero[16];
        if (memcmp(a, zero, 15) == 0 && (a[15] == 0 || a[15] == 1)) return 1; /* :: and ::1 */
        if ((a[0] & 0xFE) == 0xFC) return 1;                                  /* fc00::/7 */
        if (a[0] == 0xFE && (a[1] & 0xC0) == 0x80) return 1;                  /* fe80::/10 */
        if (a[0] == 0xFF) return 1;                                           /* multicast */
        /* ::ffff:a.b.c.d carries an IPv4 address. */
        static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF};
        if (memcmp(a, mapped, 12) == 0) {
            char v4[16];
            snprintf(v4, sizeof v4, "%u.%u.%u.%u", a[12], a[13], a[14], a[15]);
            return mw_ip_private(v4);
        }
        return 0;
    }
    return 1; /* not an address at all: refuse */
}

int mw_size_ok(int64_t announced, uint64_t so_far, uint64_t chunk, uint64_t max)
{
    if (announced >= 0 && (uint64_t)announced > max) return 0;
    return so_far <= max && chunk <= max - so_far;
}

const char *mw_sniff(const unsigned char *b, size_t n)
{
    static const struct {
        size_t off;
        const char *magic;
        size_t len;
        const char *mime;
    } sigs[] = {
        {0, "\xFF\xD8\xFF", 3, "image/jpeg"},
        {0, "\x89PNG\r\n\x1A\n", 8, "image/png"},
        {0, "GIF8", 4, "image/gif"},
        {0, "%PDF-", 5, "application/pdf"},
        {0, "OggS", 4, "audio/ogg"},
        {0, "ID3", 3, "audio/mpeg"},
        {0, "#!AMR", 5, "audio/amr"},
        {4, "ftyp", 4, "video/mp4"},
        {0, "PK\x03\x04", 4, "application/zip"},
        {0, "BEGIN:VCARD", 11, "text/vcard"},
        {0, "\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1", 8, "application/msword"},
    };
    if (n >= 12 && memcmp(b, "RIFF", 4) == 0 && memcmp(b + 8, "WEBP", 4) == 0) return "image/webp";
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        if (n >= sigs[i].off + sigs[i].len &&
            memcmp(b + sigs[i].off, sigs[i].magic, sigs[i].len) == 0)
            return sigs[i].mime;
    return NULL;
}

static size_t type_len(const char *m)
{
    return strcspn(m, "; ");
}

int mw_mime_agrees(const char *declared, const char *sniffed)
{
    if (!declared || !sniffed) return 1; /* nothing to compare */
    size_t dl = type_len(declared), sl = strlen(sniffed);
    if (dl == sl && strncasecmp(declared, sniffed, dl) == 0) return 1;
    /* Office documents are zip files; 3GPP and QuickTime are MP4 boxes; an
     * audio/mp4 voice note is an MP4 too. */
    if (strcmp(sniffed, "application/zip") == 0)
        return strncasecmp(declared, "application/vnd.openxmlformats", 30) == 0;
    if (strcmp(sniffed, "video/mp4") == 0)
        return strncasecmp(declared, "video/", 6) == 0 || strncasecmp(declared, "audio/", 6) == 0;
    if (strcmp(sniffed, "application/msword") == 0)
        return strncasecmp(declared, "application/vnd.ms-", 19) == 0;
    return 0;
}

int mw_inline(const char *mime)
{
    static const char *const exact[] = {"image/jpeg", "image/png",       "image/gif",
                                        "image/webp", "application/pdf", NULL};
    if (!mime) return 0;
    size_t n = type_len(mime);
    if ((strncasecmp(mime, "audio/", 6) == 0 || strncasecmp(mime, "video/", 6) == 0) && n > 6 &&
        !memchr(mime, '+', n)) /* no "+xml" kinds of either */
        return 1;
    for (const char *const *e = exact; *e; e++)
        if (n == strlen(*e) && strncasecmp(mime, *e, n) == 0) return 1;
    return 0;
}

void mw_object_key(char *out, size_t n, const char *message_id, int idx, const char *mime)
{
    static const char *const ext[][2] = {
        {"image/jpeg", ".jpg"}, {"image/png", ".png"}, {"image/webp", ".webp"},
        {"image/gif", ".gif"},  {"audio/ogg", ".ogg"}, {"audio/mpeg", ".mp3"},
        {"audio/amr", ".amr"},  {"video/mp4", ".mp4"}, {"application/pdf", ".pdf"},
        {"text/vcard", ".vcf"}, {"audio/mp4", ".m4a"}, {"video/3gpp", ".3gp"},
    };
    const char *e = "";
    for (size_t i = 0; mime && i < sizeof ext / sizeof ext[0]; i++)
        if (strlen(ext[i][0]) == type_len(mime) &&
            strncasecmp(mime, ext[i][0], type_len(mime)) == 0)
            e = ext[i][1];
    snprintf(out, n, "media/%s/%d%s", message_id, idx, e);
}

/* Types a browser shows or plays but never runs: a declared type from this list is kept when
 * the bytes do not say what they are. */
static int passive(const char *m)
{
    static const char *const prefixes[] = {"audio/", "video/", "application/vnd.", NULL};
    static const char *const exact[] = {"text/plain",
                                        "text/csv",
                                        "text/vcard",
                                        "text/x-vcard",
                                        "application/pdf",
                                        "application/zip",
                                        "application/msword",
                                        "application/ogg",
                                        "image/jpeg",
                                        "image/png",
                                        "image/gif",
                                        "image/webp",
                                        NULL};
    size_t n = type_len(m);
    for (const char *const *p = prefixes; *p; p++)
        if (strncasecmp(m, *p, strlen(*p)) == 0) return 1;
    for (const char *const *e = exact; *e; e++)
        if (n == strlen(*e) && strncasecmp(m, *e, n) == 0) return 1;
    return 0;
}

const char *mw_stored_mime(const char *declared, const char *sniffed)
{
    if (sniffed) {
        /* An Office document: the zip says less than the label. */
        if (strcmp(sniffed, "application/zip") == 0 && declared &&
            mw_mime_agrees(declared, sniffed) && passive(declared))
            return declared;
        return sniffed;
    }
    /* The bytes say nothing: the sender's word is kept only for a type that cannot run in the
     * storage origin (text/html or image/svg+xml from a contact would). */
    if (declared && passive(declared)) return declared;
    return "application/octet-stream";
}
