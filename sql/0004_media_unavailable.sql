-- 0004_media_unavailable.sql - a media item that could not be had (the bridge could not
-- download it, or it was over the limit) is recorded with the reason, so the timeline can say
-- so; its message is stored with its text and caption like any other.
ALTER TABLE media ADD COLUMN unavailable text;
