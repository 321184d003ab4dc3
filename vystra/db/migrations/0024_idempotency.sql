-- Idempotency keys: a POST that creates something, retried with the same Idempotency-Key,
-- answers what the first one answered instead of creating a second. status/body stay NULL
-- while the first request runs; a key is kept 24 hours.
CREATE TABLE idempotency_keys (
    tenant      text NOT NULL,
    key         text NOT NULL,
    fingerprint text NOT NULL,  -- sha256 of the route and the request body
    status      integer,
    body        jsonb,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, key)
);
CREATE INDEX idempotency_keys_age ON idempotency_keys (tenant, created_at);
