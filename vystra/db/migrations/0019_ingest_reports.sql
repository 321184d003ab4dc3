-- What a cluster worker reports about its ingest: progress as segments land, the outcome, its
-- own failure reason. Written under the worker's login (its own row only), read by the
-- operator into the VideoIngest's status, so a worker needs no Kubernetes credential.
CREATE TABLE ingest_reports (
    uid               text PRIMARY KEY,  -- the VideoIngest's metadata.uid
    tenant            text NOT NULL,
    video_id          text,
    reused            boolean NOT NULL DEFAULT false,
    processed_seconds double precision NOT NULL DEFAULT 0,
    duration_seconds  double precision NOT NULL DEFAULT 0,
    segments          integer NOT NULL DEFAULT 0,
    done              boolean NOT NULL DEFAULT false,
    reason            text,  -- the pipeline's reason for bad input, e.g. NoAudioTrack
    message           text,
    updated_at        timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX ingest_reports_updated ON ingest_reports (updated_at);

GRANT SELECT, INSERT, UPDATE ON ingest_reports TO vystra_worker;
ALTER TABLE ingest_reports ENABLE ROW LEVEL SECURITY;
CREATE POLICY worker_ingest ON ingest_reports TO vystra_worker
    USING (uid = (SELECT vystra_worker_uid()) AND tenant = (SELECT vystra_worker_tenant()));
