-- Cluster-mode workers log in as a role of their own ingest (made by the operator, valid until
-- the Job's deadline, a member of vystra_worker) and see only their tenant's rows: a worker
-- compromised by hostile media can neither read nor write another tenant's index. The API and
-- the operator connect as the schema's owner, which row-level security does not apply to.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'vystra_worker') THEN
        CREATE ROLE vystra_worker NOLOGIN;
    END IF;
END
$$;

CREATE TABLE worker_grants (
    role       name PRIMARY KEY,
    uid        text NOT NULL UNIQUE,  -- the VideoIngest's metadata.uid
    tenant     text NOT NULL,
    password   text NOT NULL,         -- handed out again when a Job create is retried
    expires_at timestamptz NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- The grant of the logged-in role, read with the owner's rights (workers cannot read the
-- table); session_user, since current_user is the owner inside a SECURITY DEFINER function.
CREATE FUNCTION vystra_worker_tenant() RETURNS text
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public
    AS $$ SELECT tenant FROM worker_grants WHERE role = session_user AND expires_at > now() $$;
CREATE FUNCTION vystra_worker_uid() RETURNS text
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public
    AS $$ SELECT uid FROM worker_grants WHERE role = session_user AND expires_at > now() $$;
REVOKE ALL ON FUNCTION vystra_worker_tenant(), vystra_worker_uid() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION vystra_worker_tenant(), vystra_worker_uid() TO vystra_worker;

GRANT SELECT, INSERT, UPDATE ON videos, cluster_origins TO vystra_worker;
GRANT SELECT, INSERT, UPDATE, DELETE ON segments TO vystra_worker;  -- a shorter re-run trims

ALTER TABLE videos ENABLE ROW LEVEL SECURITY;
ALTER TABLE segments ENABLE ROW LEVEL SECURITY;
ALTER TABLE cluster_origins ENABLE ROW LEVEL SECURITY;
-- (SELECT f()) is evaluated once per statement, not per row
CREATE POLICY worker_tenant ON videos TO vystra_worker
    USING (tenant = (SELECT vystra_worker_tenant()));
CREATE POLICY worker_tenant ON segments TO vystra_worker
    USING (tenant = (SELECT vystra_worker_tenant()));
CREATE POLICY worker_ingest ON cluster_origins TO vystra_worker
    USING (uid = (SELECT vystra_worker_uid()) AND tenant = (SELECT vystra_worker_tenant()));
