/* store.c - the router's SQL, one place: named prepared statements. */
#include "router.h"

const struct wa_pg_stmt rtr_statements[] = {
    /* Identity is the phone number; a duplicate delivery changes nothing here
     * because its transaction is rolled back when the message insert is a no-op. */
    {"contact_upsert",
     "INSERT INTO contacts (phone, wa_id, lid, profile_name) VALUES ($1, $2, $3, $4) "
     "ON CONFLICT (phone) DO UPDATE SET "
     "  wa_id = COALESCE(EXCLUDED.wa_id, contacts.wa_id), "
     "  lid = COALESCE(EXCLUDED.lid, contacts.lid), "
     "  profile_name = COALESCE(EXCLUDED.profile_name, contacts.profile_name), "
     "  updated_at = now() "
     "RETURNING id",
     4},
    {"message_insert_inbound",
     "INSERT INTO messages (contact_id, direction, provider, provider_message_id, type, body, "
     "  status, payload, provider_ts) "
     "VALUES ($1, 'inbound', $2, $3, $4, $5, 'received', $6::jsonb, "
     "  to_timestamp($7::bigint / 1000.0)) "
     "ON CONFLICT (provider, provider_message_id) DO NOTHING "
     "RETURNING id",
     7},
    /* The window and reply-via-source follow the newest inbound message, even
     * when an older one is delivered late. */
    {"contact_touch_inbound",
     "UPDATE contacts SET "
     "  last_inbound_provider = CASE WHEN last_inbound_at IS NULL OR to_timestamp($2::bigint / "
     "1000.0) >= last_inbound_at "
     "    THEN $3 ELSE last_inbound_provider END, "
     "  last_inbound_at = GREATEST(last_inbound_at, to_timestamp($2::bigint / 1000.0)), "
     "  last_message_at = GREATEST(last_message_at, to_timestamp($2::bigint / 1000.0)), "
     "  updated_at = now() "
     "WHERE id = $1 "
     "RETURNING phone, wa_id, profile_name, "
     "  (extract(epoch FROM last_inbound_at) * 1000)::bigint, last_inbound_provider",
     3},
    {"outbox_insert", "INSERT INTO outbox (topic, key, payload) VALUES ($1, $2, $3::jsonb)", 3},
    {"outbox_claim",
     "SELECT id, topic, key, payload::text FROM outbox WHERE published_at IS NULL "
     "ORDER BY id LIMIT 200 FOR UPDATE SKIP LOCKED",
     0},
    {"outbox_done", "UPDATE outbox SET published_at = now() WHERE id = ANY($1::bigint[])", 1},
};
const size_t rtr_nstatements = sizeof rtr_statements / sizeof rtr_statements[0];
