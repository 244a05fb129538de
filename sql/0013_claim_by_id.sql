-- 0013_claim_by_id.sql - the senders' claim finds its row by primary key again.
-- messages_sending (updated_at, over the rows queued or sending) was read by no query, but its
-- predicate matches the claim's "status = 'queued'" (and release's and failover's 'sending'), and
-- the planner chose it over the primary key: each claim scanned every queued row for its id.
-- With a backlog of thousands of commands each claim took milliseconds, more as the backlog
-- grew (EXPLAIN ANALYZE: Index Scan using messages_sending, Rows Removed by Filter: 504, for one
-- row). Without it, every statement of the claim protocol uses messages_pkey, and each update
-- of a message writes one index less.
DROP INDEX IF EXISTS messages_sending;
