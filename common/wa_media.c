/* wa_media.c - what stored media is, decided from its bytes (pure): the type they announce, the
 * type it is stored and served with, its object key; media-worker (inbound) and the dashboard (the
 * operator's uploads) both store by it. Table-tested in tests/unit/test_media.c. */
#include "wa_media.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

const char *wa_media_sniff(const unsigned char *b, size_t n)
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

int wa_media_mime_agrees(const char *declared, const char *sniffed)
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

void wa_media_object_key(char *out, size_t n, const char *message_id, int idx, const char *mime)
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

int wa_media_inline(const char *mime)
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

const char *wa_media_stored_mime(const char *declared, const char *sniffed)
{
    if (sniffed) {
        /* An Office document: the zip says less than the label. */
        if (strcmp(sniffed, "application/zip") == 0 && declared &&
            wa_media_mime_agrees(declared, sniffed) && passive(declared))
            return declared;
        return sniffed;
    }
    /* The bytes say nothing: the sender's word is kept only for a type that cannot run in the
     * storage origin (text/html or image/svg+xml from a contact would). */
    if (declared && passive(declared)) return declared;
    return "application/octet-stream";
}

const char *wa_media_sendable(const char *declared, const unsigned char *head, size_t n, char *err,
                              size_t errsz)
{
    /* What the bytes must be: the types WhatsApp (and Twilio's WhatsApp API) send as media. */
    static const char *const carried[] = {
        "image/jpeg", "image/png",       "image/webp",         "audio/ogg",
        "audio/mpeg", "audio/amr",       "video/mp4",          "application/pdf",
        "text/vcard", "application/zip", "application/msword", NULL,
    };
    if (declared && !*declared) declared = NULL;
    const char *sniffed = wa_media_sniff(head, n);
    int known = 0;
    for (const char *const *c = carried; sniffed && *c; c++)
        known |= strcmp(sniffed, *c) == 0;
    if (!known) {
        snprintf(err, errsz,
                 "the file is not an image (JPEG, PNG, WebP), audio (OGG, MP3, AMR), video (MP4), "
                 "PDF or Office document: its bytes are %s",
                 sniffed ? sniffed : "none of these");
        return NULL;
    }
    /* An Office document is a zip that says so (wa_media_mime_agrees keeps the label). */
    if (strcmp(sniffed, "application/zip") == 0 &&
        !(declared && strncasecmp(declared, "application/vnd.openxmlformats", 30) == 0)) {
        snprintf(err, errsz,
                 "a zip archive is not sent: only an Office document (.docx, .xlsx, "
                 ".pptx) may be one");
        return NULL;
    }
    if (!wa_media_mime_agrees(declared, sniffed)) {
        snprintf(err, errsz, "the file says it is %.100s but its bytes are %s", declared, sniffed);
        return NULL;
    }
    return wa_media_stored_mime(declared, sniffed);
}
