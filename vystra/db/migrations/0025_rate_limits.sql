-- Requests per tenant and minute, counted across every API process (fixed windows).
-- Unlogged: after a database crash every window starts again at zero.
CREATE UNLOGGED TABLE rate_windows (
    tenant       text NOT NULL,
    window_start timestamptz NOT NULL,
    requests     integer NOT NULL,
    PRIMARY KEY (tenant, window_start)
);
