/* test_normalize.c - Twilio's inbound form to the wa.inbound event, and back through the codec. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ingress.h"

#define SID "SM0123456789abcdef0123456789abcdef"

struct out {
    struct wa_inbound ev;
    char phone[17], to[17];
    json_t *raw;
    int fixed;
    struct wa_form form;
};

static int run(struct out *o, const char *body, char *err, size_t errsz)
{
    char perr[64];
    assert_int_equal(wa_form_parse(body, strlen(body), &o->form, perr, sizeof perr), 0);
    return ing_twilio_normalize(&o->form, 1700000000000LL, &o->ev, o->phone, o->to, &o->raw,
                                &o->fixed, err, errsz);
}

static void done(struct out *o)
{
    json_decref(o->raw);
    wa_form_free(&o->form);
}

static void test_text_message(void **state)
{
    (void)state;
    struct out o;
    char err[128];
    assert_int_equal(
        run(&o,
            "SmsMessageSid=" SID "&NumMedia=0&ProfileName=Dana+K&MessageType=text"
            "&WaId=972501234567&Body=%D7%A9%D7%9C%D7%95%D7%9D&To=whatsapp%3A%2B14155238886"
            "&MessageSid=" SID "&AccountSid=AC00000000000000000000000000000000"
            "&From=whatsapp%3A%2B972501234567&ApiVersion=2010-04-01&NewField=surprise",
            err, sizeof err),
        0);
    assert_string_equal(o.ev.provider, "twilio");
    assert_string_equal(o.ev.provider_message_id, SID);
    assert_string_equal(o.ev.phone, "+972501234567");
    assert_string_equal(o.ev.to, "+14155238886");
    assert_string_equal(o.ev.wa_id, "972501234567");
    assert_string_equal(o.ev.profile_name, "Dana K");
    assert_string_equal(o.ev.type, "text");
    assert_int_equal(o.ev.text_len, 8);
    assert_memory_equal(o.ev.text, "\xd7\xa9\xd7\x9c\xd7\x95\xd7\x9d", 8);
    /* Unknown fields are kept in raw. */
    assert_string_equal(json_string_value(json_object_get(o.raw, "NewField")), "surprise");

    /* Through the codec and back: what the router reads is what ingress wrote. */
    size_t len;
    char *json = wa_inbound_encode(&o.ev, &len);
    assert_non_null(json);
    struct wa_inbound back;
    char derr[128];
    json_t *root = wa_inbound_decode(json, len, &back, derr, sizeof derr);
    assert_non_null(root);
    assert_string_equal(back.phone, "+972501234567");
    assert_int_equal(back.text_len, 8);
    assert_memory_equal(back.text, o.ev.text, 8);
    assert_string_equal(json_string_value(json_object_get(back.raw, "NewField")), "surprise");
    json_decref(root);
    free(json);
    done(&o);
}

static void test_media_location_button(void **state)
{
    (void)state;
    struct out o;
    char err[128];
    assert_int_equal(
        run(&o,
            "MessageSid=" SID "&From=whatsapp%3A%2B14155550100&NumMedia=2"
            "&MediaUrl0=https%3A%2F%2Fapi.twilio.com%2Fm0&MediaContentType0=image%2Fjpeg"
            "&MediaUrl1=https%3A%2F%2Fapi.twilio.com%2Fm1&MediaContentType1=application%2Fpdf",
            err, sizeof err),
        0);
    assert_int_equal(o.ev.nmedia, 2);
    assert_string_equal(o.ev.media[1].url, "https://api.twilio.com/m1");
    assert_string_equal(o.ev.media[1].mime, "application/pdf");
    assert_string_equal(o.ev.type, "image");
    done(&o);

    assert_int_equal(run(&o,
                         "MessageSid=" SID "&From=whatsapp%3A%2B14155550100&Latitude=32.0853"
                         "&Longitude=34.781768&Address=Tel+Aviv&Label=Office",
                         err, sizeof err),
                     0);
    assert_string_equal(o.ev.type, "location");
    assert_string_equal(o.ev.latitude, "32.0853");
    assert_string_equal(o.ev.label, "Office");
    done(&o);

    assert_int_equal(run(&o,
                         "MessageSid=" SID "&From=whatsapp%3A%2B14155550100&Body=Yes&ButtonText=Yes"
                         "&ButtonPayload=confirm_42",
                         err, sizeof err),
                     0);
    assert_string_equal(o.ev.type, "button");
    assert_string_equal(o.ev.button_payload, "confirm_42");
    done(&o);
}

static void test_refusals(void **state)
{
    (void)state;
    static const struct {
        const char *body, *reason;
    } cases[] = {
        {"From=whatsapp%3A%2B14155550100&Body=x", "MessageSid is missing"},
        {"MessageSid=SM123&From=whatsapp%3A%2B14155550100", "not a Twilio message id"},
        {"MessageSid=" SID, "From is missing"},
        {"MessageSid=" SID "&From=whatsapp%3Aabc", "E.164"},
        {"MessageSid=" SID "&From=%2B14155550100&NumMedia=11", "NumMedia"},
        {"MessageSid=" SID "&From=%2B14155550100&NumMedia=1", "MediaUrl0 is missing"},
        {"MessageSid=" SID "&From=%2B14155550100&NumMedia=-1", "NumMedia"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct out o;
        char err[128] = "";
        print_message("body=%s\n", cases[i].body);
        assert_int_equal(run(&o, cases[i].body, err, sizeof err), -1);
        assert_non_null(strstr(err, cases[i].reason));
        done(&o);
    }
}

static void test_invalid_utf8_replaced(void **state)
{
    (void)state;
    struct out o;
    char err[128];
    assert_int_equal(
        run(&o, "MessageSid=" SID "&From=%2B14155550100&Body=ok%FFok", err, sizeof err), 0);
    assert_int_equal(o.fixed, 1);
    assert_string_equal(o.ev.text, "ok\xef\xbf\xbdok");
    size_t len;
    char *json = wa_inbound_encode(&o.ev, &len);
    assert_non_null(json); /* it is valid JSON now */
    free(json);
    done(&o);
    /* A NUL byte would cut C strings short and Postgres refuses it in JSON: replaced too. */
    assert_int_equal(run(&o, "MessageSid=" SID "&From=%2B14155550100&Body=a%00b", err, sizeof err),
                     0);
    assert_int_equal(o.fixed, 1);
    assert_string_equal(o.ev.text, "a\xef\xbf\xbd"
                                   "b");
    done(&o);
}

static void test_decode_refusals(void **state)
{
    (void)state;
    static const char *bad[] = {
        "",
        "not json",
        "[]",
        "{\"v\":1}",
        "{\"v\":2,\"provider\":\"twilio\",\"provider_message_id\":\"x\",\"type\":\"text\","
        "\"contact\":{\"phone\":\"+14155550100\"}}",
        "{\"v\":1,\"provider\":\"fax\",\"provider_message_id\":\"x\",\"type\":\"text\",\"contact\":"
        "{\"phone\":\"+14155550100\"}}",
        "{\"v\":1,\"provider\":\"twilio\",\"provider_message_id\":\"x\",\"type\":\"text\","
        "\"contact\":{\"phone\":\"14155550100\"}}",
        "{\"v\":1,\"provider\":\"twilio\",\"provider_message_id\":\"x\",\"type\":\"text\","
        "\"contact\":{\"phone\":\"+14155550100\"},\"text\":5}",
        "{\"v\":1,\"provider\":\"twilio\",\"provider_message_id\":\"x\",\"type\":\"text\","
        "\"contact\":{\"phone\":\"+14155550100\"},\"v\":1}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct wa_inbound in;
        char err[128] = "";
        print_message("json=%s\n", bad[i]);
        assert_null(wa_inbound_decode(bad[i], strlen(bad[i]), &in, err, sizeof err));
        assert_true(err[0] != '\0');
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text_message),    cmocka_unit_test(test_media_location_button),
        cmocka_unit_test(test_refusals),        cmocka_unit_test(test_invalid_utf8_replaced),
        cmocka_unit_test(test_decode_refusals),
    };
    return cmocka_run_group_tests_name("twilio_normalize", tests, NULL, NULL);
}
