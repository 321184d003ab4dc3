-- Open event streams, one row each, so the per-tenant cap holds across every API process: the
-- process serving a stream renews its row, and a row a stopped process left expires by itself.
-- Unlogged: after a database crash no stream is open anyway.
CREATE UNLOGGED TABLE event_streams (
    id         uuid PRIMARY KEY,
    tenant     text NOT NULL,
    expires_at timestamptz NOT NULL
);
CREATE INDEX event_streams_tenant ON event_streams (tenant, expires_at);
