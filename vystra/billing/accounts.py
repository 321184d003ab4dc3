"""A tenant's billing account: plan, Stripe customer and subscription, status, period."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import psycopg
from psycopg.rows import class_row

# Stripe subscription statuses in which the tenant may not start work until it pays
LAPSED = frozenset({"past_due", "unpaid", "canceled", "incomplete", "incomplete_expired", "paused"})

_COLUMNS = (
    "tenant, plan, status, stripe_customer_id, stripe_subscription_id, period_start,"
    " period_end, state_as_of"
)


@dataclass(frozen=True)
class Account:
    tenant: str
    plan: str | None
    status: str  # 'none' until a subscription exists, then Stripe's subscription status
    stripe_customer_id: str | None
    stripe_subscription_id: str | None
    period_start: datetime | None
    period_end: datetime | None
    state_as_of: datetime | None

    @property
    def lapsed(self) -> bool:
        return self.status in LAPSED


def get_account(conn: psycopg.Connection, tenant: str) -> Account | None:
    with conn.cursor(row_factory=class_row(Account)) as cur:
        cur.execute(f"SELECT {_COLUMNS} FROM billing_accounts WHERE tenant = %s", (tenant,))
        return cur.fetchone()


def tenant_for_customer(conn: psycopg.Connection, customer_id: str) -> str | None:
    row = conn.execute(
        "SELECT tenant FROM billing_accounts WHERE stripe_customer_id = %s", (customer_id,)
    ).fetchone()
    return row[0] if row else None


def tenant_exists(conn: psycopg.Connection, tenant: str) -> bool:
    row = conn.execute(
        "SELECT 1 FROM tenants WHERE name = %s AND revoked_at IS NULL", (tenant,)
    ).fetchone()
    return row is not None


def set_customer(conn: psycopg.Connection, tenant: str, customer_id: str) -> str:
    """Remember the tenant's Stripe customer; the one already stored wins (returned)."""
    row = conn.execute(
        "INSERT INTO billing_accounts (tenant, stripe_customer_id) VALUES (%s, %s)"
        " ON CONFLICT (tenant) DO UPDATE SET stripe_customer_id ="
        "   coalesce(billing_accounts.stripe_customer_id, EXCLUDED.stripe_customer_id),"
        "   updated_at = now()"
        " RETURNING stripe_customer_id",
        (tenant, customer_id),
    ).fetchone()
    assert row is not None
    return str(row[0])


def apply_state(
    conn: psycopg.Connection,
    tenant: str,
    *,
    as_of: datetime,
    status: str | None = None,
    plan: str | None = None,
    customer_id: str | None = None,
    subscription_id: str | None = None,
    period: tuple[datetime, datetime] | None = None,
) -> bool:
    """Apply what one Stripe event says, unless a newer event was applied already.

    Stripe does not deliver events in order; ``as_of`` (the event's ``created``) keeps a late
    ``subscription.updated`` from undoing a later ``deleted``. None leaves a field as it is.
    Returns whether anything was written.
    """
    start, end = period or (None, None)
    cur = conn.execute(
        "INSERT INTO billing_accounts AS a (tenant, plan, status, stripe_customer_id,"
        "  stripe_subscription_id, period_start, period_end, state_as_of)"
        " VALUES (%(tenant)s, %(plan)s, coalesce(%(status)s, 'none'), %(customer)s,"
        "  %(subscription)s, %(start)s, %(end)s, %(as_of)s)"
        " ON CONFLICT (tenant) DO UPDATE SET"
        "  plan = coalesce(%(plan)s, a.plan),"
        "  status = coalesce(%(status)s, a.status),"
        "  stripe_customer_id = coalesce(%(customer)s, a.stripe_customer_id),"
        "  stripe_subscription_id = coalesce(%(subscription)s, a.stripe_subscription_id),"
        "  period_start = coalesce(%(start)s, a.period_start),"
        "  period_end = coalesce(%(end)s, a.period_end),"
        "  state_as_of = greatest(%(as_of)s, a.state_as_of), updated_at = now()"
        " WHERE a.state_as_of IS NULL OR a.state_as_of <= %(as_of)s",
        {
            "tenant": tenant,
            "plan": plan,
            "status": status,
            "customer": customer_id,
            "subscription": subscription_id,
            "start": start,
            "end": end,
            "as_of": as_of,
        },
    )
    return cur.rowcount > 0


def from_timestamp(value: int | float | None) -> datetime | None:
    return datetime.fromtimestamp(value, UTC) if value else None
