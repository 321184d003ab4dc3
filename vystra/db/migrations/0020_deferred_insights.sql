-- Cluster workers hold no LLM key: they store a finished video's insights as 'pending', and an
-- API process claims them ('generating'; updated_at is the claim's time, so a claim left by a
-- stopped process is taken again) and writes them with the platform's key.
ALTER TABLE videos DROP CONSTRAINT videos_insights_status_check;
ALTER TABLE videos ADD CONSTRAINT videos_insights_status_check
    CHECK (insights_status IN ('ready', 'failed', 'disabled', 'pending', 'generating'));
CREATE INDEX videos_insights_waiting ON videos (updated_at)
    WHERE insights_status IN ('pending', 'generating');
