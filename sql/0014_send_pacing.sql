-- 0014_send_pacing.sql - each sending number's pace, shared by every sender instance.
-- A send reserves the number's next slot: the later of the slot after the last one reserved and
-- now (common/wa_send.c, send_pace). Twilio takes 80 messages/s per WhatsApp sender by default;
-- two sender-twilio processes pacing on their own would send at twice that.
-- Unlogged: a reservation is written without waiting for the WAL on disk (one per send, on one
-- row per number), and a crash that empties the table only restarts each number's pace.
CREATE UNLOGGED TABLE IF NOT EXISTS send_pacing (
    channel text PRIMARY KEY,
    next_at timestamptz NOT NULL
);
