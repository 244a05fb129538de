-- 0017_outbox_delete.sql - the outbox holds only what is still to publish: the router deletes a
-- row once Kafka has it (it used to set published_at and keep the row for ever, so the table and
-- its index grew with every event, and each mark left a dead row version behind).
-- What was published before goes now. The table is locked first, so no row can be committed
-- between the copy and the truncate; the rows still to publish are set aside, the table is
-- truncated (instant, where deleting millions of rows is not, and it leaves no dead rows), and
-- they are put back. The id sequence is not reset, so ids keep growing. published_at stays, for
-- a router of the previous version during an upgrade; nothing new sets it.
LOCK TABLE outbox IN ACCESS EXCLUSIVE MODE;
CREATE TABLE outbox_pending_0017 AS SELECT * FROM outbox WHERE published_at IS NULL;
TRUNCATE outbox;
INSERT INTO outbox SELECT * FROM outbox_pending_0017;
DROP TABLE outbox_pending_0017;
