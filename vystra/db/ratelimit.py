"""Per-tenant request counts in fixed one-minute windows, shared by every API process."""

from __future__ import annotations

from dataclasses import dataclass

import psycopg

WINDOW_SECONDS = 60


@dataclass(frozen=True)
class Window:
    requests: int  # counted in this window, this request included
    reset_seconds: int  # until the window ends


def count(conn: psycopg.Connection, tenant: str) -> Window:
    """Count one request of ``tenant`` in the current window."""
    row = conn.execute(
        "WITH w AS (SELECT to_timestamp(floor(extract(epoch FROM now()) / %(w)s) * %(w)s) AS s)"
        " INSERT INTO rate_windows (tenant, window_start, requests)"
        " SELECT %(tenant)s, s, 1 FROM w"
        " ON CONFLICT (tenant, window_start)"
        " DO UPDATE SET requests = rate_windows.requests + 1"
        " RETURNING requests,"
        " ceil(extract(epoch FROM window_start - now()) + %(w)s)::int",
        {"tenant": tenant, "w": WINDOW_SECONDS},
    ).fetchone()
    assert row is not None
    requests, reset = row
    if requests == 1:  # a new window: the tenant's earlier ones are done with
        conn.execute(
            "DELETE FROM rate_windows WHERE tenant = %s AND window_start < now() - %s * interval"
            " '1 second'",
            (tenant, WINDOW_SECONDS),
        )
    return Window(requests, max(1, reset))
