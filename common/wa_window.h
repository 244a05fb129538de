/* wa_window.h - WhatsApp's customer-service window, defined once: for 24 hours after a contact's
 * last message to a business number, that number may send the contact free-form messages; after
 * that only approved templates. Pure; table-tested in tests/unit/test_window.c. */
#ifndef WA_WINDOW_H
#define WA_WINDOW_H

#include <stdint.h>

#define WA_WINDOW_MS (24LL * 60 * 60 * 1000)

/* When the window opened by a message at last_inbound_ms closes; 0 when there was none
 * (last_inbound_ms <= 0). */
int64_t wa_window_closes_ms(int64_t last_inbound_ms);

/* The window is open at now_ms: a message came and its 24 hours have not passed. */
int wa_window_open(int64_t last_inbound_ms, int64_t now_ms);

#endif
