/* wa_phone.c - E.164 normalization; pure. */
#include "wa_phone.h"

#include <string.h>
#include <strings.h>

int wa_phone_e164(const char *in, char *out, size_t outsz)
{
    if (!in || outsz < 17) return -1;
    if (strncasecmp(in, "whatsapp:", 9) == 0) in += 9;
    char digits[32];
    size_t n = 0;
    int plus = 0;
    for (const char *p = in; *p; p++) {
        char c = *p;
        if (c >= '0' && c <= '9') {
            if (n == sizeof digits - 1) return -1;
            digits[n++] = c;
        } else if (c == '+' && n == 0 && !plus) {
            plus = 1;
        } else if (c == ' ' || c == '-' || c == '(' || c == ')' || c == '.') {
            continue; /* common human separators */
        } else {
            return -1;
        }
    }
    digits[n] = '\0';
    const char *d = digits;
    /* "00" is the international prefix in most of the world. */
    if (!plus && n > 2 && d[0] == '0' && d[1] == '0') {
        d += 2;
        n -= 2;
    }
    if (n < 8 || n > 15 || d[0] == '0') return -1;
    out[0] = '+';
    memcpy(out + 1, d, n + 1);
    return 0;
}
