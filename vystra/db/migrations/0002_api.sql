-- The API service: tenants and their keys, uploads, and local mode's ingest queue.

CREATE TABLE tenants (
    name       text PRIMARY KEY,
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz
);

-- Only a hash of each key is stored; keys are 256 random bits, so a plain sha256 suffices.
CREATE TABLE api_keys (
    key_hash   text PRIMARY KEY,
    tenant     text NOT NULL REFERENCES tenants (name) ON DELETE CASCADE,
    prefix     text NOT NULL,   -- the first characters, to tell keys apart in listings
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX api_keys_tenant ON api_keys (tenant);

CREATE TABLE uploads (
    id           text PRIMARY KEY,
    tenant       text NOT NULL,
    object_key   text NOT NULL UNIQUE,
    filename     text NOT NULL,
    content_type text NOT NULL,
    size_bytes   bigint NOT NULL CHECK (size_bytes > 0),
    multipart_id text,            -- S3 multipart upload id, for large files
    status       text NOT NULL CHECK (status IN ('pending', 'complete')),
    expires_at   timestamptz NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    completed_at timestamptz
);
CREATE INDEX uploads_tenant_created ON uploads (tenant, created_at DESC);

-- Local mode's durable work queue; in a cluster the VideoIngest resources play this part.
CREATE TABLE ingests (
    id                text PRIMARY KEY,
    tenant            text NOT NULL,
    source            text NOT NULL,
    upload_id         text,
    spec              jsonb NOT NULL,
    phase             text NOT NULL
                      CHECK (phase IN ('Pending', 'Queued', 'Running', 'Succeeded', 'Failed')),
    reason            text,
    message           text,
    video_id          text,
    stage             text,
    processed_seconds double precision NOT NULL DEFAULT 0,
    duration_seconds  double precision NOT NULL DEFAULT 0,
    segments          integer NOT NULL DEFAULT 0,
    attempts          integer NOT NULL DEFAULT 0,
    priority          integer NOT NULL DEFAULT 0,
    heartbeat_at      timestamptz,  -- a Running row whose heartbeat stops was orphaned
    created_at        timestamptz NOT NULL DEFAULT now(),
    started_at        timestamptz,
    finished_at       timestamptz
);
CREATE INDEX ingests_tenant_created ON ingests (tenant, created_at DESC, id);
CREATE INDEX ingests_queue ON ingests (priority DESC, created_at) WHERE phase = 'Queued';
