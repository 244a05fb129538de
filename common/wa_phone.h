/* wa_phone.h - phone numbers to E.164 ("+" and 8 to 15 digits). */
#ifndef WA_PHONE_H
#define WA_PHONE_H

#include <stddef.h>

/* Accepts "whatsapp:+14155551234", "+1 (415) 555-1234", "0014155551234" and a
 * bare WhatsApp id "14155551234" (WaId carries no '+'). Writes "+14155551234"
 * into out (at least 17 bytes). Returns 0, or -1 when it is no phone number. */
int wa_phone_e164(const char *in, char *out, size_t outsz);

#endif
