/* wa_window.c - the 24-hour customer-service window; pure. */
#include "wa_window.h"

int64_t wa_window_closes_ms(int64_t last_inbound_ms)
{
    return last_inbound_ms > 0 ? last_inbound_ms + WA_WINDOW_MS : 0;
}

int wa_window_open(int64_t last_inbound_ms, int64_t now_ms)
{
    return last_inbound_ms > 0 && now_ms < wa_window_closes_ms(last_inbound_ms);
}
