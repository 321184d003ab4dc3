-- Videos and their time-coded, embedded segments.
CREATE EXTENSION IF NOT EXISTS vector;

CREATE TABLE videos (
    id                text PRIMARY KEY,
    tenant            text NOT NULL,
    title             text NOT NULL,
    source            text NOT NULL,
    sha256            text NOT NULL,
    size_bytes        bigint NOT NULL,
    duration          double precision,
    language          text,
    model             text,            -- transcription backend/model that produced the text
    embedding_model   text,
    options           jsonb NOT NULL DEFAULT '{}',  -- segmenting and transcription options
    status            text NOT NULL CHECK (status IN ('processing', 'ready', 'failed')),
    error_reason      text,
    error             text,
    processed_seconds double precision NOT NULL DEFAULT 0,
    segment_count     integer NOT NULL DEFAULT 0,
    transcript        jsonb,           -- [[start, end, text], ...]: Whisper's own segments
    insights          jsonb,
    insights_status   text CHECK (insights_status IN ('ready', 'failed', 'disabled')),
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant, sha256)
);
CREATE INDEX videos_tenant_created ON videos (tenant, created_at DESC);

CREATE TABLE segments (
    video_id  text NOT NULL REFERENCES videos (id) ON DELETE CASCADE,
    ordinal   integer NOT NULL,
    tenant    text NOT NULL,  -- copied from the video so tenant filters stay on this table
    start_s   double precision NOT NULL,
    end_s     double precision NOT NULL,
    text      text NOT NULL,
    embedding vector(384) NOT NULL,
    tsv       tsvector GENERATED ALWAYS AS (to_tsvector('english', text)) STORED,
    PRIMARY KEY (video_id, ordinal),
    CHECK (end_s >= start_s)
);
CREATE INDEX segments_embedding_hnsw ON segments USING hnsw (embedding vector_cosine_ops);
CREATE INDEX segments_tsv_gin ON segments USING gin (tsv);
CREATE INDEX segments_tenant_video ON segments (tenant, video_id);
