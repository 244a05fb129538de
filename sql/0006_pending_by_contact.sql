-- 0006_pending_by_contact.sql - the router finds a contact's latest outbound message still on its
-- way (queued or sending) before it routes the next one (rule 7, order): a small index of only
-- those rows, so a contact with a long history costs no more than a new one.
CREATE INDEX messages_pending_by_contact ON messages (contact_id, created_at DESC)
    WHERE direction = 'outbound' AND status IN ('queued', 'sending');
