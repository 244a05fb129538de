/* fuzz_parked.c - libFuzzer harness: any bytes as the bridge's report of a parked outbox entry. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ingress.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *rec = NULL, key[ING_PARKED_KEY_MAX], err[256];
    if (ing_parked_normalize((const char *)data, size, &rec, key, err, sizeof err) != 0) {
        if (rec) abort(); /* a refusal makes nothing */
        return 0;
    }
    /* An accepted report is a wa.error any reader can decode, and loses none of the payload. */
    json_t *o = json_loads(rec, JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_object(o)) abort();
    const char *stage = json_string_value(json_object_get(o, "stage"));
    const char *code = json_string_value(json_object_get(o, "code"));
    if (!stage || strcmp(stage, "baileys-bridge") != 0) abort();
    if (!code ||
        (strcmp(code, "rejected_by_ingress") != 0 && strcmp(code, "unreadable_entry") != 0))
        abort();
    if (!json_is_string(json_object_get(o, "text"))) abort();
    json_t *parked = json_object_get(o, "parked");
    json_t *payload = json_object_get(o, "payload");
    if (!json_is_object(parked) || !json_is_string(payload)) abort();
    if (json_object_get(o, "payload_base64")) abort(); /* it came through JSON: always UTF-8 */
    json_int_t whole = json_integer_value(json_object_get(parked, "payload_bytes"));
    int truncated = json_is_true(json_object_get(parked, "truncated"));
    if (truncated ? whole <= (json_int_t)json_string_length(payload)
                  : whole != (json_int_t)json_string_length(payload))
        abort();
    /* The key: the contact's digits (then named in contact.phone), else the file's name. */
    size_t kl = strlen(key);
    if (kl == 0 || kl >= ING_PARKED_KEY_MAX) abort();
    const char *phone = json_string_value(json_object_get(json_object_get(o, "contact"), "phone"));
    const char *file = json_string_value(json_object_get(parked, "file"));
    if (phone ? strcmp(phone + 1, key) != 0 : !file || strcmp(file, key) != 0) abort();
    json_decref(o);
    free(rec);
    return 0;
}
