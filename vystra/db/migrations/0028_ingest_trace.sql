-- A local ingest carries the request that made it into its background run: the request id on
-- its log records, and the W3C traceparent its spans continue (when tracing is on).
ALTER TABLE ingests ADD COLUMN request_id text, ADD COLUMN traceparent text;
