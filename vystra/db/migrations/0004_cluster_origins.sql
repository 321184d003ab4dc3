-- Which VideoIngest produced which video, written by the worker as soon as the video id is
-- known (before its first segment). The operator removes a video when the resource that made it
-- is deleted, even one deleted while no operator was running (a sweep at each leadership start),
-- and never removes a video that an ingest only found already indexed (reused).
CREATE TABLE cluster_origins (
    uid        text PRIMARY KEY,  -- the VideoIngest's metadata.uid
    tenant     text NOT NULL,
    namespace  text NOT NULL,
    name       text NOT NULL,
    video_id   text NOT NULL,
    reused     boolean NOT NULL DEFAULT false,
    retain     boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX cluster_origins_video ON cluster_origins (tenant, video_id);
