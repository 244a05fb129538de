/* store.c - the router's SQL, one place: named prepared statements. */
#include "router.h"

const struct wa_pg_stmt rtr_statements[] = {
    /* One inbound message in one statement, so a batch can be pipelined:
     * - the contact is upserted by phone, and its window and last provider move
     *   forward only (re-applying the same message changes nothing, so a
     *   duplicate is harmless here);
     * - the message is inserted once: UNIQUE (provider, provider_message_id);
     * - only a new message writes its two events to the outbox, in the same
     *   transaction.
     * $1 phone, $2 wa_id, $3 lid, $4 profile_name, $5 provider, $6 provider id,
     * $7 type, $8 body, $9 payload, $10 message time (ms), $11 events topic,
     * $12 message event body (without id), $13 now (ms).
     * Returns the new message id, or NULL for a duplicate. */
    {"inbound_store",
     "WITH c AS ("
     "  INSERT INTO contacts AS k (phone, wa_id, lid, profile_name, last_inbound_at, "
     "    last_inbound_provider, last_message_at) "
     "  VALUES ($1, $2, $3, $4, to_timestamp($10::bigint / 1000.0), $5, "
     "    to_timestamp($10::bigint / 1000.0)) "
     "  ON CONFLICT (phone) DO UPDATE SET "
     "    wa_id = COALESCE(EXCLUDED.wa_id, k.wa_id), "
     "    lid = COALESCE(EXCLUDED.lid, k.lid), "
     "    profile_name = COALESCE(EXCLUDED.profile_name, k.profile_name), "
     "    last_inbound_provider = CASE WHEN k.last_inbound_at IS NULL "
     "      OR EXCLUDED.last_inbound_at >= k.last_inbound_at "
     "      THEN EXCLUDED.last_inbound_provider ELSE k.last_inbound_provider END, "
     "    last_inbound_at = GREATEST(k.last_inbound_at, EXCLUDED.last_inbound_at), "
     "    last_message_at = GREATEST(k.last_message_at, EXCLUDED.last_message_at), "
     "    updated_at = now() "
     "  RETURNING k.id, k.phone, k.wa_id, k.profile_name, "
     "    (extract(epoch FROM k.last_inbound_at) * 1000)::bigint AS last_ms, "
     "    k.last_inbound_provider"
     "), m AS ("
     "  INSERT INTO messages (contact_id, direction, provider, provider_message_id, type, body, "
     "    status, payload, provider_ts) "
     "  SELECT c.id, 'inbound', $5, $6, $7, $8, 'received', $9::jsonb, "
     "    to_timestamp($10::bigint / 1000.0) FROM c "
     "  ON CONFLICT (provider, provider_message_id) DO NOTHING "
     "  RETURNING id"
     "), e AS ("
     "  INSERT INTO outbox (topic, key, payload) "
     "  SELECT $11, substr(c.phone, 2), x.ev FROM c, m, LATERAL (VALUES "
     "    (1, jsonb_build_object('v', 1, 'type', 'wa.inbound', 'provider', $5::text, "
     "      'at_ms', $13::bigint, 'contact', jsonb_build_object('id', c.id, 'phone', c.phone), "
     "      'message', $12::jsonb || jsonb_build_object('id', m.id))), "
     "    (2, jsonb_build_object('v', 1, 'type', 'lead.update', 'provider', "
     "      c.last_inbound_provider, 'at_ms', $13::bigint, 'contact', jsonb_build_object("
     "        'id', c.id, 'phone', c.phone, 'wa_id', c.wa_id, 'profile_name', c.profile_name, "
     "        'last_inbound_ms', c.last_ms, 'last_inbound_provider', c.last_inbound_provider, "
     "        'window_open_until_ms', c.last_ms + 86400000)))"
     "  ) AS x(n, ev) ORDER BY x.n "
     "  RETURNING 1"
     ") "
     "SELECT (SELECT id FROM m), (SELECT count(*) FROM e)",
     13},
    {"outbox_claim",
     "SELECT id, topic, key, payload::text FROM outbox WHERE published_at IS NULL "
     "ORDER BY id LIMIT 1000 FOR UPDATE SKIP LOCKED",
     0},
    {"outbox_done", "UPDATE outbox SET published_at = now() WHERE id = ANY($1::bigint[])", 1},
};
const size_t rtr_nstatements = sizeof rtr_statements / sizeof rtr_statements[0];
