/* fuzz_status.c - libFuzzer harness: any bytes as a Twilio status callback (the request target
 * it came to, whose query names our message, and its form), and as a wa.status record through
 * the router's decoder. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ingress.h"
#include "wa_event.h"
#include "wa_form.h"
#include "wa_outbound.h"

static int same(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

static int lower_uuid(const char *s, size_t n)
{
    if (n != 36) return 0;
    for (size_t i = 0; i < 36; i++) {
        int dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? s[i] != '-' : !strchr("0123456789abcdef", s[i])) return 0;
    }
    return 1;
}

/* What StatusCallback promises: the first "id" parameter of the query, when it is a UUID in the
 * lowercase form we write there, names our message; a query without one names none. */
static int expected_id(const char *uri, char *want)
{
    const char *p = strchr(uri, '?');
    if (!p) return 0;
    for (p++;; p++) {
        size_t n = strcspn(p, "&");
        if (n >= 3 && memcmp(p, "id=", 3) == 0) {
            size_t v = strcspn(p + 3, "&#");
            if (!lower_uuid(p + 3, v)) return 0;
            memcpy(want, p + 3, 36);
            want[36] = '\0';
            return 1;
        }
        p += n;
        if (!*p) return 0;
    }
}

/* What is accepted re-encodes, and decodes again to the same identity. */
static void round_trip(const struct wa_status *st)
{
    char err[256];
    char *enc = wa_status_encode(st);
    if (!enc) abort();
    struct wa_status back;
    json_t *r = wa_status_decode(enc, strlen(enc), &back, err, sizeof err);
    if (!r || !same(back.status, st->status) || !same(back.message_id, st->message_id) ||
        !same(back.provider_message_id, st->provider_message_id) ||
        !same(back.provider, st->provider) || !same(back.phone, st->phone))
        abort();
    json_decref(r);
    free(enc);
}

static void check_callback(const char *uri, const uint8_t *body, size_t len)
{
    char err[256], phone[17], id[37], want[37];
    struct wa_form form;
    if (wa_form_parse((const char *)body, len, &form, err, sizeof err) != 0) return;
    struct wa_status st;
    json_t *raw = NULL;
    if (ing_twilio_status_normalize(&form, uri, 1, &st, phone, id, &raw, err, sizeof err) == 0) {
        /* Our id is given back exactly when the query carries one, as a UUID the router can
         * match. */
        int has = expected_id(uri, want);
        if (has != (st.message_id != NULL)) abort();
        if (st.message_id && (st.message_id != id || strcmp(id, want) != 0)) abort();
        if (st.message_id && !wa_uuid_valid(st.message_id)) abort();
        if (!st.provider_message_id || !*st.provider_message_id) abort();
        /* The contact, when there is one, is E.164. */
        if (st.phone) {
            size_t n = strlen(st.phone);
            if (st.phone[0] != '+' || n < 9 || n > 16 ||
                strspn(st.phone + 1, "0123456789") != n - 1)
                abort();
        }
        /* What ingress produces, the router must read, with the same identity. */
        if (!same(st.provider, "twilio")) abort();
        round_trip(&st);
        json_decref(raw);
    }
    wa_form_free(&form);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* Before the first '\n': the request target (up to any NUL, as a C string arrives); after
     * it, the form. Without one, all of it is the form posted to the bare path. */
    const uint8_t *nl = memchr(data, '\n', size);
    if (nl) {
        size_t ul = (size_t)(nl - data);
        char *uri = malloc(ul + 1);
        memcpy(uri, data, ul);
        uri[ul] = '\0';
        check_callback(uri, nl + 1, size - ul - 1);
        free(uri);
    } else {
        check_callback("/api/whatsapp/twilio/status", data, size);
    }

    /* All of it as a wa.status record: what the router accepts re-encodes to the same status. */
    char err[256];
    struct wa_status st;
    json_t *root = wa_status_decode((const char *)data, size, &st, err, sizeof err);
    if (root) round_trip(&st);
    json_decref(root);
    return 0;
}
