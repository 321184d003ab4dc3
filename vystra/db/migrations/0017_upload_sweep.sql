-- The upload sweeper finds pending uploads past their expiry without reading complete ones.
CREATE INDEX uploads_pending_expiry ON uploads (expires_at) WHERE status = 'pending';
