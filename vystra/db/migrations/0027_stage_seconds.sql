-- Wall seconds a cluster worker's ingest spent in each stage (fetch, probe, audio, transcribe,
-- visual, insights), written with its outcome; the operator exports them as a histogram.
ALTER TABLE ingest_reports ADD COLUMN stage_seconds jsonb;
