-- Billing: each tenant's plan and Stripe subscription, processed seconds (the usage outbox), and
-- the Stripe events already applied.

-- One row per tenant that has been to Checkout; a tenant without a row is on the default plan.
CREATE TABLE billing_accounts (
    tenant                 text PRIMARY KEY REFERENCES tenants (name) ON DELETE CASCADE,
    plan                   text,
    -- Stripe's subscription status: active, trialing, past_due, unpaid, canceled, incomplete...
    status                 text NOT NULL DEFAULT 'none',
    stripe_customer_id     text UNIQUE,
    stripe_subscription_id text,
    period_start           timestamptz,
    period_end             timestamptz,
    -- `created` of the newest Stripe event applied: an older event delivered late changes nothing
    state_as_of            timestamptz,
    updated_at             timestamptz NOT NULL DEFAULT now()
);

-- Processed seconds, recorded once per ingest by whoever first sees it succeed (the local
-- backend, or the operator for VideoIngests); the unique key makes a second sighting a no-op.
-- It doubles as the outbox: rows stay 'pending' until Stripe has accepted them.
CREATE TABLE usage_records (
    id             bigserial PRIMARY KEY,
    tenant         text NOT NULL,  -- not a foreign key: the CLI's tenant need not be registered
    ingest_key     text NOT NULL,  -- local ingest id, or the VideoIngest's uid (names are reused)
    ingest_id      text NOT NULL,
    video_id       text,
    seconds        double precision NOT NULL CHECK (seconds >= 0),
    recorded_at    timestamptz NOT NULL DEFAULT now(),
    status         text NOT NULL DEFAULT 'pending'
                   CHECK (status IN ('pending', 'reported', 'unbilled')),
    attempts       integer NOT NULL DEFAULT 0,
    next_report_at timestamptz NOT NULL DEFAULT now(),
    last_error     text,
    reported_at    timestamptz,
    UNIQUE (tenant, ingest_key)
);
CREATE INDEX usage_records_tenant_time ON usage_records (tenant, recorded_at);
CREATE INDEX usage_records_outbox ON usage_records (next_report_at) WHERE status = 'pending';
CREATE INDEX usage_records_video ON usage_records (tenant, video_id);

-- Stripe delivers events at least once: an id seen before is acknowledged and ignored.
CREATE TABLE billing_events (
    id          text PRIMARY KEY,
    type        text NOT NULL,
    created     timestamptz NOT NULL,
    outcome     text NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now()
);

-- Local mode: the plan's video-length limit when the ingest was accepted, enforced once the
-- probe has measured the video (NULL: no limit).
ALTER TABLE ingests ADD COLUMN max_video_seconds double precision;
