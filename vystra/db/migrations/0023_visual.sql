-- Issue #15: the visual index. Text read on screen is a search unit like speech, in the same
-- table and indexes, told apart by `modality`. Screen units are numbered -1, -2, ... so that
-- (video_id, ordinal) stays the one key of a unit everywhere, and the speech units keep the
-- 0..segment_count-1 range that resuming an ingest relies on.
ALTER TABLE segments ADD COLUMN modality text NOT NULL DEFAULT 'speech',
    ADD CONSTRAINT segments_modality CHECK (
        modality IN ('speech', 'screen') AND (modality = 'speech') = (ordinal >= 0));

-- One keyframe per shot, and one at least every `interval` seconds within a long shot, with a
-- JPEG thumbnail (320 px wide, about 10 kB). Thumbnails live here rather than in the object
-- store: a cluster worker holds a database login of its own tenant and no bucket credentials.
CREATE TABLE keyframes (
    video_id text NOT NULL REFERENCES videos (id) ON DELETE CASCADE,
    tenant   text NOT NULL,
    t        double precision NOT NULL,  -- seconds
    shot     boolean NOT NULL,           -- starts a shot (else: sampled within one)
    jpeg     bytea NOT NULL,
    PRIMARY KEY (video_id, t)
);

-- The visual stages' own outcome: a damaged video stream fails them alone.
ALTER TABLE videos
    ADD COLUMN visual_status text CHECK (
        visual_status IN ('processing', 'ready', 'failed', 'disabled', 'none')),
    ADD COLUMN visual_error text,
    ADD COLUMN visual_seconds double precision NOT NULL DEFAULT 0,
    ADD COLUMN keyframe_count integer NOT NULL DEFAULT 0,
    ADD COLUMN screen_count integer NOT NULL DEFAULT 0;

GRANT SELECT, INSERT, UPDATE, DELETE ON keyframes TO vystra_worker;
ALTER TABLE keyframes ENABLE ROW LEVEL SECURITY;
CREATE POLICY worker_tenant ON keyframes TO vystra_worker
    USING (tenant = (SELECT vystra_worker_tenant()));

-- How far a cluster worker's visual stages have read, for the VideoIngest's status.
ALTER TABLE ingest_reports ADD COLUMN visual_seconds double precision;
