-- 0015_media_uploads.sql - a file the operator uploads from the dashboard's reply box, to send as
-- media.mediaId. It is stored before its message exists (the send API makes that from the reply),
-- so its row has no message: it is named by the reply's idempotency key instead, which makes a
-- second upload of the same reply (a double click, a retry) the same row. contact_id: the lead it
-- was uploaded for. filename: the name the operator's file had, which a document keeps on the
-- contact's phone (the bridge sends it; NULL: the object key's).
ALTER TABLE media ALTER COLUMN message_id DROP NOT NULL;
ALTER TABLE media
    ADD COLUMN upload_key text UNIQUE,
    ADD COLUMN contact_id bigint REFERENCES contacts (id),
    ADD COLUMN filename text,
    ADD CONSTRAINT media_message_or_upload CHECK (message_id IS NOT NULL OR upload_key IS NOT NULL);
