/* store.c - the router's SQL, one place: named prepared statements. */
#include "router.h"

#define STR_(x) #x
#define STR(x) STR_(x)

/* The inbound statement. Its rows (r) are the messages it stores:
 * - the contact is upserted by phone, and its window and last provider move forward only
 *   (re-applying the same message changes nothing, so a duplicate is harmless here);
 * - the message is inserted once: UNIQUE (provider, provider_message_id);
 * - only a new message writes its two events to the outbox, in the same transaction, and
 *   releases what was held for its contact on that number.
 * It comes in two forms. "inbound_texts" stores a set of texts that are no consent keyword,
 * most messages, each of another contact (a contact's row can change once per statement), given
 * as one JSON array: Postgres starts a statement's parts once for the set, not once a message
 * (bench/README.md, "Router capacity"). "inbound_store" stores one message of any kind, and adds
 * media jobs and consent.
 * inbound_texts: $1 the records, a JSON array of objects {i: its place in the set, phone, wa_id,
 * lid, profile_name, provider, pmid: the provider's id, type, body, payload: the wa.inbound
 * record, ts: the message's time (ms), msg: the message event's body without its id, channel:
 * the number it came to (common/wa_channel.c)}, $2 events topic, $3 now (ms), $4 the window's
 * length (ms, WA_WINDOW_MS), $5 the Twilio send topic (released holds).
 * inbound_store: $1 phone, $2 wa_id, $3 lid, $4 profile_name, $5 provider, $6 provider id,
 * $7 type, $8 body, $9 payload, $10 message time (ms), $11 events topic, $12 message event body
 * (without id), $13 now (ms), $14 the window's length, $15 the Twilio send topic, $16 the
 * channel, $17 the media jobs topic; consent (docs/architecture.md §3.5): $18 what the text
 * says ('optout', 'optin' or NULL: consent.c), $19 the keyword as configured, $20 the
 * contact.optout/optin event (consent.c; without contact and message), $21 the send request
 * topic (the confirmation), $22 the confirmation's text (NULL: none), $23 its key's prefix
 * (RTR_CONFIRMATION_KEY), $24 the wa.error topic.
 * Both return a row per message, in the order given: the new message id (NULL for a duplicate),
 * counts of the events, media jobs, unavailable items and consent records it wrote (the long
 * form only), whether the contact opted out (true) or in (false) of the number (NULL: no
 * change), and how many held messages it released. */
#define INBOUND_ROWS_SET                                                                           \
    "WITH r AS ("                                                                                  \
    "  SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(i int, phone text, wa_id text, lid text, " \
    "    profile_name text, provider text, pmid text, type text, body text, payload jsonb, "       \
    "    ts bigint, msg jsonb, channel text)"
#define INBOUND_ROWS_ONE                                                                           \
    "WITH r AS ("                                                                                  \
    "  SELECT 0 AS i, $1::text AS phone, $2::text AS wa_id, $3::text AS lid, "                     \
    "    $4::text AS profile_name, $5::text AS provider, $6::text AS pmid, $7::text AS type, "     \
    "    $8::text AS body, $9::jsonb AS payload, $10::bigint AS ts, $12::jsonb AS msg, "           \
    "    $16::text AS channel"

/* Both forms, after their rows: the contact, its window on the channel, the message, and n:
 * each new message with its record and contact. */
#define INBOUND_HEAD                                                                               \
    "), c AS ("                                                                                    \
    "  INSERT INTO contacts AS k (phone, wa_id, lid, profile_name, last_inbound_at, "              \
    "    last_inbound_provider, last_message_at) "                                                 \
    "  SELECT phone, wa_id, lid, profile_name, to_timestamp(ts / 1000.0), provider, "              \
    "    to_timestamp(ts / 1000.0) FROM r ORDER BY i "                                             \
    "  ON CONFLICT (phone) DO UPDATE SET "                                                         \
    "    wa_id = COALESCE(EXCLUDED.wa_id, k.wa_id), "                                              \
    "    lid = COALESCE(EXCLUDED.lid, k.lid), "                                                    \
    "    profile_name = COALESCE(EXCLUDED.profile_name, k.profile_name), "                         \
    "    last_inbound_provider = CASE WHEN k.last_inbound_at IS NULL "                             \
    "      OR EXCLUDED.last_inbound_at >= k.last_inbound_at "                                      \
    "      THEN EXCLUDED.last_inbound_provider ELSE k.last_inbound_provider END, "                 \
    "    last_inbound_at = GREATEST(k.last_inbound_at, EXCLUDED.last_inbound_at), "                \
    "    last_message_at = GREATEST(k.last_message_at, EXCLUDED.last_message_at), "                \
    "    updated_at = now() "                                                                      \
    "  RETURNING k.id, k.phone, k.wa_id, k.profile_name, "                                         \
    "    (extract(epoch FROM k.last_inbound_at) * 1000)::bigint AS last_ms, "                      \
    "    k.last_inbound_provider"                                                                  \
    "), w AS (" /* The window per channel: the channel is our number the message came to. */       \
    "  INSERT INTO contact_channels AS k (contact_id, channel, provider, last_inbound_at) "        \
    "  SELECT c.id, r.channel, r.provider, to_timestamp(r.ts / 1000.0) "                           \
    "  FROM r JOIN c ON c.phone = r.phone "                                                        \
    "  ON CONFLICT (contact_id, channel) DO UPDATE SET "                                           \
    "    last_inbound_at = GREATEST(k.last_inbound_at, EXCLUDED.last_inbound_at) "                 \
    "  RETURNING 1"                                                                                \
    "), m AS ("                                                                                    \
    "  INSERT INTO messages (contact_id, direction, provider, provider_message_id, type, body, "   \
    "    status, payload, provider_ts, channel) "                                                  \
    "  SELECT c.id, 'inbound', r.provider, r.pmid, r.type, r.body, 'received', r.payload, "        \
    "    to_timestamp(r.ts / 1000.0), r.channel "                                                  \
    "  FROM r JOIN c ON c.phone = r.phone ORDER BY r.i "                                           \
    "  ON CONFLICT (provider, provider_message_id) DO NOTHING "                                    \
    "  RETURNING id, contact_id, provider_message_id"                                              \
    "), n AS ("                                                                                    \
    "  SELECT r.i, r.provider, r.ts, r.msg, r.channel, c.id AS contact, c.phone, c.wa_id, "        \
    "    c.profile_name, c.last_ms, c.last_inbound_provider, m.id AS message "                     \
    "  FROM r JOIN c ON c.phone = r.phone "                                                        \
    "  JOIN m ON m.contact_id = c.id AND m.provider_message_id = r.pmid"

/* The new messages' events. `ev`, `now`, `win`: the parameters of the events topic, now and the
 * window's length. */
#define INBOUND_EVENTS(ev, now, win)                                                               \
    "), e AS ("                                                                                    \
    "  INSERT INTO outbox (topic, key, payload) "                                                  \
    "  SELECT " ev "::text, substr(n.phone, 2), x.ev FROM n, LATERAL (VALUES "                     \
    "    (1, jsonb_build_object('v', 1, 'type', 'wa.inbound', 'provider', n.provider, "            \
    "      'at_ms', " now "::bigint, 'contact', jsonb_build_object('id', n.contact, "              \
    "      'phone', n.phone), 'message', n.msg || jsonb_build_object('id', n.message))), "         \
    "    (2, jsonb_build_object('v', 1, 'type', 'lead.update', 'provider', "                       \
    "      n.last_inbound_provider, 'at_ms', " now "::bigint, 'contact', jsonb_build_object("      \
    "        'id', n.contact, 'phone', n.phone, 'wa_id', n.wa_id, 'profile_name', "                \
    "        n.profile_name, 'last_inbound_ms', n.last_ms, 'last_inbound_provider', "              \
    "        n.last_inbound_provider, 'window_open_until_ms', n.last_ms + " win "::bigint)))"      \
    "  ) AS x(k, ev) ORDER BY n.i, x.k "                                                           \
    "  RETURNING 1"

/* The held messages each new message releases (sql/0018_release_held.sql: a function, so a
 * message with nothing held, nearly every one, does not start its writing parts). `release`:
 * false ends the hold period only. After e (read in its filter, so e has run to its end first):
 * the release's records follow the message's events. */
#define INBOUND_RELEASE(release, send, ev, now, win)                                               \
    "), rl AS ("                                                                                   \
    "  SELECT n.i, wa_release_held(n.contact, n.phone, n.channel, " release ", " send              \
    "::text, " ev "::text, n.ts, " win "::bigint, " now "::bigint) AS released "                   \
    "  FROM n WHERE (SELECT count(*) FROM e) >= 0"

/* The status statement's rows (r): the statuses it applies. "status_set" applies a set of
 * statuses that refuse nothing, given as one JSON array, one status of each contact (a message
 * belongs to one contact); "status_apply" one status, with what it refuses. */
#define STATUS_ROWS_SET                                                                            \
    "WITH r AS ("                                                                                  \
    "  SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(i int, message_id uuid, provider text, "   \
    "    pmid text, st text, code text, etext text, ts bigint, event jsonb, latency integer, "     \
    "    attempt integer)"
#define STATUS_ROWS_ONE                                                                            \
    "WITH r AS ("                                                                                  \
    "  SELECT 0 AS i, $1::uuid AS message_id, $2::text AS provider, $3::text AS pmid, "            \
    "    $4::text AS st, $5::text AS code, $6::text AS etext, $7::bigint AS ts, "                  \
    "    $9::jsonb AS event, $10::integer AS latency, $11::integer AS attempt"

/* Both forms, after their rows: each status's message (m, locked) with its contact's phone, its
 * history, its status, its event. `ev`: the parameter of the events topic. The phone is looked up
 * by the contact's key, one row each: joined instead, the planner took a set for the 100 rows it
 * guesses of any JSON array and read the whole contacts table for each set. */
#define STATUS_HEAD(ev)                                                                            \
    "), mi AS (" /* Both ways in by an index (a CASE here made every status a full scan). */       \
    "  SELECT r.i, COALESCE(r.message_id, (SELECT y.id FROM messages y "                           \
    "    WHERE y.provider = r.provider AND y.provider_message_id = r.pmid)) AS id FROM r"          \
    "), m AS ("                                                                                    \
    "  SELECT r.*, x.id, x.contact_id, x.status, x.channel, "                                      \
    "    x.payload -> 'template' ->> 'contentSid' AS sid, "                                        \
    "    (SELECT k.phone FROM contacts k WHERE k.id = x.contact_id) AS phone "                     \
    "  FROM r JOIN mi ON mi.i = r.i JOIN messages x ON x.id = mi.id "                              \
    "  FOR UPDATE OF x"                                                                            \
    "), h AS ("                                                                                    \
    "  INSERT INTO message_statuses (message_id, status, provider, error_code, error_text, "       \
    "    occurred_at) "                                                                            \
    "  SELECT id, st, provider, code, etext, to_timestamp(ts / 1000.0) FROM m ORDER BY i "         \
    "  ON CONFLICT (message_id, status) DO NOTHING RETURNING message_id"                           \
    "), u AS (" /* A message's furthest status, were it named twice. */                            \
    "  UPDATE messages AS x SET status = m.st, "                                                   \
    "    error_code = COALESCE(m.code, x.error_code), "                                            \
    "    error_text = COALESCE(m.etext, x.error_text), "                                           \
    "    provider_message_id = COALESCE(x.provider_message_id, m.pmid), "                          \
    "    sent_at = CASE WHEN m.st = 'sent' THEN COALESCE(x.sent_at, now()) ELSE x.sent_at END, "   \
    "    latency_ms = COALESCE(x.latency_ms, m.latency), "                                         \
    "    attempts = GREATEST(x.attempts, COALESCE(m.attempt, 0)), updated_at = now() "             \
    "  FROM (SELECT DISTINCT ON (id) * FROM m ORDER BY id, wa_status_rank(st) DESC) m "            \
    "  WHERE x.id = m.id AND wa_status_rank(m.st) > wa_status_rank(m.status) "                     \
    "  RETURNING x.id"                                                                             \
    "), e AS ("                                                                                    \
    "  INSERT INTO outbox (topic, key, payload) "                                                  \
    "  SELECT " ev "::text, substr(m.phone, 2), m.event || jsonb_build_object("                    \
    "    'contact', jsonb_build_object('id', m.contact_id, 'phone', m.phone), "                    \
    "    'message_id', m.id, 'current', EXISTS (SELECT 1 FROM u WHERE u.id = m.id)) "              \
    "  FROM m "                                                                                    \
    "  WHERE EXISTS (SELECT 1 FROM h WHERE h.message_id = m.id) ORDER BY m.i "                     \
    "  RETURNING (payload ->> 'message_id')::uuid AS message_id"

const struct wa_pg_stmt rtr_statements[] = {
    // clang-format off
    {"inbound_texts",
     INBOUND_ROWS_SET INBOUND_HEAD INBOUND_EVENTS("$2", "$3", "$4")
     INBOUND_RELEASE("true", "$5", "$2", "$3", "$4")
     ") SELECT n.message, NULL::bigint, 0::bigint, 0::bigint, 0::bigint, NULL::boolean, "
     "  rl.released FROM r LEFT JOIN n USING (i) LEFT JOIN rl USING (i) ORDER BY r.i",
     5},
    // clang-format on
    // clang-format off
    {"inbound_store",
     INBOUND_ROWS_ONE INBOUND_HEAD INBOUND_EVENTS("$11", "$13", "$14")
     /* An opt-out in this message releases nothing: it fails them (ho below). */
     INBOUND_RELEASE("$18::text IS DISTINCT FROM 'optout'", "$15", "$11", "$13", "$14")
     "), j AS ("
     /* One media job per item of a new message that has a URL, never for a duplicate. */
     "  INSERT INTO outbox (topic, key, payload) "
     "  SELECT $17, substr(c.phone, 2), jsonb_build_object('v', 1, 'type', 'job', "
     "    'message_id', m.id, 'idx', i.n - 1, 'provider', $5::text, 'url', i.item->>'url', "
     "    'mime', i.item->>'mime', 'contact', jsonb_build_object('phone', c.phone), "
     "    'at_ms', $13::bigint) "
     "  FROM c, m, jsonb_array_elements($12::jsonb -> 'media') WITH ORDINALITY AS i(item, n) "
     "  WHERE i.item ? 'url' ORDER BY i.n RETURNING 1"
     "), u AS ("
     /* An item with no URL is recorded with why it could not be had. */
     "  INSERT INTO media (message_id, idx, source, mime_declared, size, unavailable) "
     "  SELECT m.id, i.n - 1, $5, i.item->>'mime', (i.item->>'size')::bigint, "
     "    i.item->>'unavailable' "
     "  FROM m, jsonb_array_elements($12::jsonb -> 'media') WITH ORDINALITY AS i(item, n) "
     "  WHERE i.item ? 'unavailable' RETURNING 1"
     "), k AS ("
     /* A keyword changes the contact's consent on this number only when it differs from the
      * latest recorded, and only with a new message: a replayed STOP records nothing. */
     "  INSERT INTO consent_changes (contact_id, channel, opted_out, source, detail, message_id, "
     "    at) "
     "  SELECT c.id, $16, $18::text = 'optout', 'keyword', $19, m.id, "
     "    to_timestamp($13::bigint / 1000.0) "
     "  FROM c, m WHERE $18::text IS NOT NULL AND ($18::text = 'optout') <> COALESCE(("
     "    SELECT x.opted_out FROM consent_changes x WHERE x.contact_id = c.id "
     "      AND x.channel = $16 ORDER BY x.id DESC LIMIT 1), false) "
     "  RETURNING id, opted_out"
     "), ke AS ("
     /* Its event, and after an opt-out the one confirmation, a send request through the same
      * number whose key names this opt-out (the plan lets that one through). */
     "  INSERT INTO outbox (topic, key, payload) "
     "  SELECT t.topic, substr(c.phone, 2), CASE t.n WHEN 1 THEN $20::jsonb || jsonb_build_object("
     "      'contact', jsonb_build_object('id', c.id, 'phone', c.phone), 'message_id', m.id) "
     "    ELSE jsonb_build_object('v', 1, 'idempotencyKey', $23::text || k.id, 'to', c.phone, "
     "      'type', 'text', 'text', $22::text, 'channel', $16::text, "
     "      'requestedAtMs', $13::bigint) END "
     "  FROM c, m, k, (VALUES (1, $11), (2, $21)) AS t(n, topic) "
     "  WHERE t.n = 1 OR (k.opted_out AND $22::text IS NOT NULL) ORDER BY t.n RETURNING 1"
     "), ho AS ("
     /* Messages held for this number wait for the contact's reply: an opt-out fails them. */
     "  UPDATE messages h SET status = 'failed', error_code = 'opted_out', held_until = NULL, "
     "    error_text = 'the contact opted out of ' || h.channel || ' (' || $19 || '): not sent', "
     "    updated_at = now() "
     "  FROM c, k WHERE k.opted_out AND h.contact_id = c.id AND h.status = 'held' "
     "    AND h.channel = $16 "
     "  RETURNING h.id, h.payload, h.error_text"
     "), hoh AS ("
     "  INSERT INTO message_statuses (message_id, status, provider, error_code, error_text) "
     "  SELECT id, 'failed', 'twilio', 'opted_out', error_text FROM ho "
     "  ON CONFLICT DO NOTHING RETURNING 1"
     "), hoe AS ("
     "  INSERT INTO outbox (topic, key, payload) "
     "  SELECT t.topic, substr(c.phone, 2), CASE t.n WHEN 1 THEN jsonb_build_object('v', 1, "
     "      'type', 'wa.status', 'provider', 'twilio', 'at_ms', $13::bigint, 'status', 'failed', "
     "      'error_code', 'opted_out', 'error_text', ho.error_text, 'source', 'router', "
     "      'message_id', ho.id, 'current', true, "
     "      'contact', jsonb_build_object('id', c.id, 'phone', c.phone)) "
     "    ELSE jsonb_build_object('v', 1, 'stage', 'router.consent', 'code', 'opted_out', "
     "      'text', ho.error_text, 'retryable', false, 'provider', 'twilio', "
     "      'at_ms', $13::bigint, 'payload', ho.payload::text) END "
     "  FROM c, ho, (VALUES (1, $11), (2, $24)) AS t(n, topic) "
     "  ORDER BY ho.id, t.n RETURNING 1"
     ") "
     "SELECT (SELECT id FROM m), (SELECT count(*) FROM e), (SELECT count(*) FROM j), "
     "  (SELECT count(*) FROM u), (SELECT count(*) FROM ke), (SELECT opted_out FROM k), "
     "  (SELECT released FROM rl)",
     24},
    // clang-format on
    /* The contact an outbound request goes to (created when new), its window, its consent,
     * and whether this idempotency key was seen before.
     * $1 phone, $2 idempotency key, $3 the request's ContentSid (NULL: none).
     * Returns contact id, last inbound (ms, or NULL), its provider, the
     * status of the message already holding the key (NULL when none), the
     * provider of the contact's latest outbound message still queued or sending
     * (NULL when none: rule 7, order), every channel the contact wrote to with when it last
     * did, latest first ("<channel>=<ms>,...", NULL when none; router/plan.h), its
     * profile name, the numbers it opted out of with each opt-out's id ("<channel>=<id>,...",
     * NULL when none: the latest change of each number is the state), the numbers where
     * Twilio reported this ContentSid refused ("<channel>,...", NULL when none), and what the
     * template catalogue says of template $3 ("<status>|<name>|<rejection reason>"; NULL when
     * $3 is NULL or unknown, or no longer listed). */
    {"outbound_contact",
     "WITH ins AS ("
     "  INSERT INTO contacts (phone) VALUES ($1) ON CONFLICT (phone) DO NOTHING "
     "  RETURNING id, NULL::bigint AS last_ms, NULL::text AS last_provider"
     "), cur AS ("
     "  SELECT id, (extract(epoch FROM last_inbound_at) * 1000)::bigint, last_inbound_provider "
     "  FROM contacts WHERE phone = $1"
     ") "
     "SELECT x.id, x.last_ms, x.last_provider, "
     "  (SELECT status FROM messages WHERE idempotency_key = $2), "
     "  (SELECT provider FROM messages WHERE contact_id = x.id AND direction = 'outbound' "
     "     AND status IN ('queued', 'sending') ORDER BY created_at DESC LIMIT 1), "
     "  (SELECT string_agg(channel || '=' || "
     "       (extract(epoch FROM last_inbound_at) * 1000)::bigint, ',' "
     "       ORDER BY last_inbound_at DESC) "
     "     FROM contact_channels WHERE contact_id = x.id), "
     "  (SELECT profile_name FROM contacts WHERE id = x.id), "
     "  (SELECT string_agg(o.channel || '=' || o.id, ',') FROM (SELECT DISTINCT ON (cc.channel) "
     "       cc.channel, cc.id, cc.opted_out FROM consent_changes cc WHERE cc.contact_id = x.id "
     "       ORDER BY cc.channel, cc.id DESC) AS o WHERE o.opted_out), "
     "  (SELECT string_agg(t.channel, ',') FROM template_refusals t "
     "     WHERE t.contact_id = x.id AND t.content_sid = $3::text), "
     "  (SELECT status || '|' || name || '|' || coalesce(rejection_reason, '') FROM templates "
     "     WHERE sid = $3::text AND removed_at IS NULL) "
     "FROM (SELECT * FROM ins UNION ALL SELECT * FROM cur) AS x LIMIT 1",
     3},
    /* An outbound message, once per key, with its first status and up to four
     * outbox records (the send command, events, wa.error), all or nothing.
     * $1 id, $2 contact id, $3 provider (NULL: not sent), $4 key, $5 type,
     * $6 body, $7 status, $8 error code, $9 error text, $10 failover, $11 the
     * request, $12 reason, $13 requested (ms), $14 Kafka key, then
     * ($15,$16) ($17,$18) ($19,$20) ($21,$22) as (topic, payload) or NULLs, $23 the
     * channel (NULL: not sent), $24 when a held message fails (ms; NULL: not held).
     * Returns the id when inserted, NULL for a repeat. */
    {"outbound_store",
     "WITH m AS ("
     "  INSERT INTO messages (id, contact_id, direction, provider, idempotency_key, type, body, "
     "    status, error_code, error_text, failover, payload, reason, requested_at, channel, "
     "    held_until) "
     "  VALUES ($1::uuid, $2::bigint, 'outbound', $3, $4, $5, $6, $7, $8, $9, $10::boolean, "
     "    $11::jsonb, $12, to_timestamp($13::bigint / 1000.0), $23, "
     "    to_timestamp($24::bigint / 1000.0)) "
     "  ON CONFLICT DO NOTHING RETURNING id"
     "), h AS ("
     "  INSERT INTO message_statuses (message_id, status, provider, error_code, error_text) "
     "  SELECT id, $7, $3, $8, $9 FROM m RETURNING 1"
     "), e AS ("
     "  INSERT INTO outbox (topic, key, payload) "
     "  SELECT x.t, $14, x.p::jsonb FROM m, (VALUES (1, $15, $16), (2, $17, $18), "
     "    (3, $19, $20), (4, $21, $22)) AS x(n, t, p) "
     "  WHERE x.p IS NOT NULL ORDER BY x.n RETURNING 1"
     ") "
     "SELECT (SELECT id FROM m), (SELECT count(*) FROM e), (SELECT count(*) FROM h)",
     24},
    /* A status, applied once and forward only; its event only when it is new.
     * $1 our id (or NULL), $2 provider, $3 provider message id, $4 status
     * ('failover' records a reroute in the history only), $5 error code,
     * $6 error text, $7 when (ms), $8 events topic, $9 event body (SQL adds
     * contact and message ids), $10 latency ms (or NULL), $11 attempts (or NULL); consent
     * (docs/architecture.md §3.5): $12 what the failure means ('optout': the contact refused
     * messages from this number, 'template': this marketing template is not delivered to them;
     * NULL: nothing; consent.c), $13 the contact.optout event (consent.c; without contact,
     * channel and message).
     * Returns message id (NULL: no such message), history added, status moved, events written,
     * opt-outs recorded, template refusals recorded.
     * Statuses that refuse nothing ($12 NULL), nearly all of them, go in sets instead:
     * "status_set" takes $1 a JSON array of objects {i: the place in the set, message_id,
     * provider, pmid, st: the status, code, etext, ts, event, latency, attempt: $1-$7 and
     * $9-$11 above}, $2 the events topic, and returns a row per status, in their order: Postgres
     * starts a statement's parts once for the set, not once a status (see the inbound
     * statement). */
    // clang-format off
    {"status_set",
     STATUS_ROWS_SET STATUS_HEAD("$2")
     ") SELECT m.id, (h.message_id IS NOT NULL)::int, (u.id IS NOT NULL)::int, "
     "  (e.message_id IS NOT NULL)::int, 0, 0 FROM r LEFT JOIN m USING (i) "
     "  LEFT JOIN h ON h.message_id = m.id LEFT JOIN u ON u.id = m.id "
     "  LEFT JOIN e ON e.message_id = m.id ORDER BY r.i",
     2},
    // clang-format on
    // clang-format off
    {"status_apply",
     STATUS_ROWS_ONE STATUS_HEAD("$8")
     "), k AS ("
     /* The failure of a send, recorded for the first time, opts the contact out of the number
      * that sent it, unless it is out already. */
     "  INSERT INTO consent_changes (contact_id, channel, opted_out, source, detail, message_id, "
     "    at) "
     "  SELECT m.contact_id, m.channel, true, 'twilio_error', $5, m.id, "
     "    to_timestamp($7::bigint / 1000.0) "
     "  FROM m WHERE $12::text = 'optout' AND m.channel IS NOT NULL "
     "    AND EXISTS (SELECT 1 FROM h) AND NOT COALESCE((SELECT x.opted_out "
     "      FROM consent_changes x WHERE x.contact_id = m.contact_id AND x.channel = m.channel "
     "      ORDER BY x.id DESC LIMIT 1), false) "
     "  RETURNING contact_id, channel, message_id"
     "), ke AS ("
     "  INSERT INTO outbox (topic, key, payload) "
     "  SELECT $8, substr(c.phone, 2), $13::jsonb || jsonb_build_object('channel', k.channel, "
     "    'contact', jsonb_build_object('id', c.id, 'phone', c.phone), "
     "    'message_id', k.message_id) "
     "  FROM k JOIN contacts c ON c.id = k.contact_id RETURNING 1"
     "), tr AS ("
     "  INSERT INTO template_refusals (contact_id, channel, content_sid, error_code, message_id, "
     "    at) "
     "  SELECT m.contact_id, m.channel, m.sid, $5, m.id, to_timestamp($7::bigint / 1000.0) "
     "  FROM m WHERE $12::text = 'template' AND m.channel IS NOT NULL AND m.sid IS NOT NULL "
     "    AND EXISTS (SELECT 1 FROM h) "
     "  ON CONFLICT (contact_id, channel, content_sid) DO NOTHING RETURNING 1"
     ") "
     /* In this order, so the status event is in the outbox before the opt-out's. */
     "SELECT (SELECT id FROM m), (SELECT count(*) FROM h), (SELECT count(*) FROM u), "
     "  (SELECT count(*) FROM e), (SELECT count(*) FROM ke), (SELECT count(*) FROM tr)",
     13},
    // clang-format on
    /* A provider health change, recorded once across routers, with its event.
     * $1 provider, $2 state, $3 reason, $4 since (ms), $5 events topic, $6 event, $7 channel. */
    {"health_record",
     "WITH h AS ("
     "  INSERT INTO provider_health (provider, state, reason, since, channel) "
     "  VALUES ($1, $2, $3, to_timestamp($4::bigint / 1000.0), $7) "
     "  ON CONFLICT DO NOTHING RETURNING id"
     ") "
     "INSERT INTO outbox (topic, key, payload) SELECT $5, $7, $6::jsonb FROM h",
     7},
    /* One publisher at a time across all routers (held to the transaction's end): rows leave in
     * id order, so one contact's commands and events keep theirs. With SKIP LOCKED alone, a
     * second router published rows that sat behind the first one's. */
    /* And the page is read by its index (outbox_unpublished), for this transaction only. Each
     * published row is deleted, so between two vacuums the table holds far more dead rows than
     * live ones; the planner, seeing a few live rows on many pages, read every page (a seq scan:
     * 4-7 ms a page under load, the router's costliest statement) where the index finds the
     * few rows at once, its dead entries skipped once seen. The claim and the delete are
     * planned here, after this setting, whenever Postgres plans them again. */
    {"outbox_lock",
     "SELECT pg_try_advisory_xact_lock(727275), set_config('enable_seqscan', 'off', true)", 0},
    /* (published_at is set by no router since sql/0017; one of an older version may still
     * mark rows during an upgrade, and those are done.) */
    {"outbox_claim",
     "SELECT id, topic, key, payload::text FROM outbox WHERE published_at IS NULL "
     "ORDER BY id LIMIT " STR(RTR_OUTBOX_PAGE) " FOR UPDATE SKIP LOCKED",
     0},
    /* A published row is deleted: the table holds only what is still to publish. (Marking it
     * kept every event ever written, and each mark was a new row version: the table and its
     * index grew without end, and the claim scanned ever more dead entries.) */
    {"outbox_done", "DELETE FROM outbox WHERE id = ANY($1::bigint[])", 1},
    /* A hold period for (contact, channel): $1 contact id, $2 channel, $3 now (ms), $4 when
     * it ends (ms), $5 the re-engagement template's message id. Returns a row only when a new
     * period starts (none yet, or the last one ended): one template per period. */
    {"hold_start",
     "INSERT INTO holds AS h (contact_id, channel, started_at, expires_at, template_message_id) "
     "VALUES ($1::bigint, $2, to_timestamp($3::bigint / 1000.0), "
     "  to_timestamp($4::bigint / 1000.0), $5::uuid) "
     "ON CONFLICT (contact_id, channel) DO UPDATE SET started_at = EXCLUDED.started_at, "
     "  expires_at = EXCLUDED.expires_at, template_message_id = EXCLUDED.template_message_id "
     "  WHERE h.expires_at <= EXCLUDED.started_at "
     "RETURNING 1",
     5},
    /* Held messages whose time ran out fail, each once, with their events: $1 events topic,
     * $2 wa.error topic, $3 now (ms). Returns how many. */
    {"holds_expire",
     "WITH x AS ("
     "  UPDATE messages m SET status = 'failed', error_code = 'hold_expired', "
     "    error_text = 'held for a reply on ' || m.channel || ' since ' || "
     "      to_char(m.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI') || ' UTC; the contact "
     "did not write in time', updated_at = now() "
     "  WHERE m.status = 'held' AND m.held_until <= to_timestamp($3::bigint / 1000.0) "
     /* The phone by the contact's key (as in STATUS_HEAD): this runs every second. */
     "  RETURNING m.id, m.contact_id, m.channel, m.payload, m.error_text, "
     "    (SELECT k.phone FROM contacts k WHERE k.id = m.contact_id) AS phone"
     "), h AS ("
     "  INSERT INTO message_statuses (message_id, status, provider, error_code, error_text) "
     "  SELECT id, 'failed', 'twilio', 'hold_expired', error_text FROM x "
     "  ON CONFLICT DO NOTHING RETURNING 1"
     "), e AS ("
     "  INSERT INTO outbox (topic, key, payload) "
     "  SELECT t.topic, substr(x.phone, 2), CASE t.n WHEN 1 THEN jsonb_build_object('v', 1, "
     "      'type', 'wa.status', 'provider', 'twilio', 'at_ms', $3::bigint, 'status', 'failed', "
     "      'error_code', 'hold_expired', 'error_text', x.error_text, 'source', 'router', "
     "      'message_id', x.id, 'current', true, "
     "      'contact', jsonb_build_object('id', x.contact_id, 'phone', x.phone)) "
     "    ELSE jsonb_build_object('v', 1, 'stage', 'router.hold', 'code', 'hold_expired', "
     "      'text', x.error_text, 'retryable', false, 'provider', 'twilio', 'at_ms', $3::bigint, "
     "      'payload', x.payload::text) END "
     "  FROM x, (VALUES (1, $1), (2, $2)) AS t(n, topic) "
     "  ORDER BY x.id, t.n RETURNING 1"
     ") "
     "SELECT count(*) FROM x",
     3},
    /* (contact, number) pairs with held messages and no hold period running. */
    {"holds_missing",
     "SELECT DISTINCT m.contact_id, m.channel, c.phone, c.profile_name "
     "FROM messages m JOIN contacts c ON c.id = m.contact_id "
     "WHERE m.status = 'held' AND m.channel IS NOT NULL AND NOT EXISTS (SELECT 1 FROM holds h "
     "  WHERE h.contact_id = m.contact_id AND h.channel = m.channel AND h.expires_at > now()) "
     /* No re-engagement template to a number the contact opted out of (§3.5). */
     "  AND NOT COALESCE((SELECT x.opted_out FROM consent_changes x "
     "    WHERE x.contact_id = m.contact_id AND x.channel = m.channel "
     "    ORDER BY x.id DESC LIMIT 1), false) "
     "LIMIT 50",
     0},
};
const size_t rtr_nstatements = sizeof rtr_statements / sizeof rtr_statements[0];
