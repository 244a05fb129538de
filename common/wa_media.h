/* wa_media.h - stored media's type and key, decided from its bytes (pure). */
#ifndef WA_MEDIA_H
#define WA_MEDIA_H

#include <stddef.h>

/* The MIME type the first bytes announce, or NULL when unknown. */
const char *wa_media_sniff(const unsigned char *b, size_t n);
/* 1 when a declared type and a sniffed one agree (same type, or same family
 * where WhatsApp's own labels are looser, e.g. audio/ogg vs audio/ogg; codecs=opus). */
int wa_media_mime_agrees(const char *declared, const char *sniffed);
/* The type media is stored (and served) with: what the bytes say (sniffed), else the declared
 * type when it is one a browser cannot run (no text/html, image/svg+xml, xml, scripts), else
 * application/octet-stream. */
const char *wa_media_stored_mime(const char *declared, const char *sniffed);
/* 1 when storage may serve a type inline: images (JPEG, PNG, GIF, WebP), audio, video and PDF.
 * Anything else is stored as application/octet-stream with Content-Disposition: attachment, so a
 * browser that opens the link downloads it and never shows or runs it. */
int wa_media_inline(const char *mime);
/* One key scheme for every stored item: media/<message id>/<index><.ext>. */
void wa_media_object_key(char *out, size_t n, const char *message_id, int idx, const char *mime);

/* An operator's upload (dashboard): the type it is stored and sent with when its bytes are an
 * image, audio, video, PDF or Office document WhatsApp carries and agree with the declared type
 * (declared may be NULL or empty: the bytes decide); NULL with err saying why not. */
const char *wa_media_sendable(const char *declared, const unsigned char *head, size_t n, char *err,
                              size_t errsz);

#endif
