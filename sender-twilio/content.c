/* content.c - one page of Twilio's Content API list (GET /v1/ContentAndApprovals) read into
 * templates; pure, fuzzed (tests/fuzz/fuzz_content.c) and unit-tested. The page is outside input:
 * every field is checked, and an item that is not a usable template is skipped, not trusted. */
#include "sender_twilio.h"
#include "wa_form.h"
#include "wa_util.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *str(json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static void copy(char *dst, size_t dstsz, const char *s)
{
    wa_utf8_copy(dst, dstsz, s ? s : "");
}

/* The text of a template: its twilio/text body, else the body of the first type that has one. */
static const char *body_of(json_t *types)
{
    const char *b = str(json_object_get(types, "twilio/text"), "body");
    if (b) return b;
    const char *k;
    json_t *v;
    json_object_foreach(types, k, v)
    {
        (void)k;
        if ((b = str(v, "body")) != NULL) return b;
    }
    return NULL;
}

void stw_template_free(struct stw_template *t)
{
    free(t->body);
    free(t->variables);
    free(t->types);
    memset(t, 0, sizeof *t);
}

int stw_content_page(const char *page, size_t len, struct stw_template *out, int max, char *next,
                     size_t nextsz, char *err, size_t errsz)
{
    next[0] = '\0';
    json_t *root = json_loadb(page, len, 0, NULL);
    json_t *contents = json_object_get(root, "contents");
    if (!json_is_array(contents)) {
        snprintf(err, errsz, "not a ContentAndApprovals page (no contents array)");
        json_decref(root);
        return -1;
    }
    const char *n = str(json_object_get(root, "meta"), "next_page_url");
    if (n) copy(next, nextsz, n);
    int count = 0;
    size_t i;
    json_t *item;
    json_array_foreach(contents, i, item)
    {
        if (count == max) break;
        const char *sid = str(item, "sid");
        const char *name = str(item, "friendly_name");
        if (!sid || !wa_twilio_sid(sid, "HX") || !name || !name[0]) continue;
        json_t *approval = json_object_get(item, "approval_requests");
        /* Older entries list approval per channel: the WhatsApp one is what counts. */
        if (json_is_object(json_object_get(approval, "whatsapp")))
            approval = json_object_get(approval, "whatsapp");
        const char *status = str(approval, "status");
        struct stw_template *t = &out[count];
        memset(t, 0, sizeof *t);
        copy(t->sid, sizeof t->sid, sid);
        copy(t->name, sizeof t->name, name);
        copy(t->language, sizeof t->language, str(item, "language"));
        copy(t->category, sizeof t->category, str(approval, "category"));
        /* Never submitted to WhatsApp: no approval to speak of. */
        copy(t->status, sizeof t->status, status && status[0] ? status : "unsubmitted");
        copy(t->rejection_reason, sizeof t->rejection_reason, str(approval, "rejection_reason"));
        json_t *types = json_object_get(item, "types");
        const char *body = json_is_object(types) ? body_of(types) : NULL;
        if (body) t->body = strdup(body);
        json_t *vars = json_object_get(item, "variables");
        /* Sample values are strings in Twilio's examples; anything else is left out. */
        json_t *clean = json_object();
        const char *k;
        json_t *v;
        json_object_foreach(vars, k, v)
        {
            if (json_is_string(v)) json_object_set(clean, k, v);
        }
        t->variables = json_dumps(clean, JSON_COMPACT | JSON_SORT_KEYS);
        json_decref(clean);
        t->types =
            json_is_object(types) ? json_dumps(types, JSON_COMPACT | JSON_SORT_KEYS) : strdup("{}");
        count++;
    }
    json_decref(root);
    return count;
}
