"""Stripe events → a tenant's plan and subscription status.

The route verifies the signature first; :func:`apply_event` then runs in one transaction that
also records the event id, so a replayed event (Stripe delivers at least once) changes nothing,
and a failure leaves no trace for Stripe's retry to trip over.
"""

from __future__ import annotations

import logging
from typing import Any

import psycopg

from vystra.billing import accounts
from vystra.billing.plans import Catalog

log = logging.getLogger(__name__)

HANDLED = (
    "checkout.session.completed",
    "customer.subscription.created",
    "customer.subscription.updated",
    "customer.subscription.deleted",
    "invoice.payment_failed",
    "invoice.paid",
)
LAPSED_BY_PAYMENT = ("past_due", "unpaid")


def apply_event(conn: psycopg.Connection, catalog: Catalog, event: dict[str, Any]) -> str:
    """Apply one verified event; returns what happened (``duplicate``, ``applied``, ...)."""
    created = accounts.from_timestamp(event.get("created"))
    assert created is not None, "Stripe events always carry `created`"
    kind = str(event.get("type"))
    with conn.transaction():
        first = conn.execute(
            "INSERT INTO billing_events (id, type, created, outcome) VALUES (%s, %s, %s, '')"
            " ON CONFLICT (id) DO NOTHING RETURNING id",
            (event["id"], kind, created),
        ).fetchone()
        if first is None:
            return "duplicate"
        outcome = _dispatch(conn, catalog, kind, event["data"]["object"], created)
        conn.execute("UPDATE billing_events SET outcome = %s WHERE id = %s", (outcome, event["id"]))
    log.info("stripe event %s (%s): %s", event["id"], kind, outcome)
    return outcome


def _dispatch(conn, catalog: Catalog, kind: str, obj: dict[str, Any], created) -> str:
    if kind not in HANDLED:
        return "ignored"
    tenant = _tenant_of(conn, obj)
    if tenant is None or not accounts.tenant_exists(conn, tenant):
        return "ignored: no such tenant"
    if kind == "checkout.session.completed":
        plan = catalog.get((obj.get("metadata") or {}).get("plan"))
        paid = obj.get("payment_status") in ("paid", "no_payment_required")
        changed = accounts.apply_state(
            conn,
            tenant,
            as_of=created,
            status="active" if paid else "incomplete",
            plan=plan.name if plan else None,
            customer_id=_id(obj.get("customer")),
            subscription_id=_id(obj.get("subscription")),
        )
    elif kind.startswith("customer.subscription."):
        changed = accounts.apply_state(
            conn,
            tenant,
            as_of=created,
            status="canceled" if kind.endswith(".deleted") else str(obj.get("status")),
            plan=_plan_of(catalog, obj),
            customer_id=_id(obj.get("customer")),
            subscription_id=_id(obj.get("id")),
            period=_period(obj),
        )
    elif kind == "invoice.paid":
        # a paid invoice ends a payment lapse; it never revives a canceled subscription
        account = accounts.get_account(conn, tenant)
        if account is None or account.status not in LAPSED_BY_PAYMENT:
            return "ignored: not lapsed by payment"
        changed = accounts.apply_state(conn, tenant, as_of=created, status="active")
    else:  # invoice.payment_failed
        changed = accounts.apply_state(conn, tenant, as_of=created, status="past_due")
    return "applied" if changed else "stale"


def _id(value: Any) -> str | None:
    """An id, whether Stripe sent it bare or expanded into an object."""
    if isinstance(value, dict):
        return value.get("id")
    return value or None


def _tenant_of(conn: psycopg.Connection, obj: dict[str, Any]) -> str | None:
    # Checkout and our subscriptions carry the tenant; invoices only name the customer.
    named = (obj.get("metadata") or {}).get("tenant") or obj.get("client_reference_id")
    if named:
        return str(named)
    customer = _id(obj.get("customer"))
    return accounts.tenant_for_customer(conn, customer) if customer else None


def _plan_of(catalog: Catalog, subscription: dict[str, Any]) -> str | None:
    items = (subscription.get("items") or {}).get("data") or []
    prices = [_id(item.get("price")) for item in items]
    plan = catalog.for_prices([p for p in prices if p]) or catalog.get(
        (subscription.get("metadata") or {}).get("plan")
    )
    return plan.name if plan else None


def _period(subscription: dict[str, Any]):
    # Since API version 2025-03-31 the period lives on each item; before, on the subscription.
    items = (subscription.get("items") or {}).get("data") or []
    source = items[0] if items and items[0].get("current_period_end") else subscription
    start = accounts.from_timestamp(source.get("current_period_start"))
    end = accounts.from_timestamp(source.get("current_period_end"))
    return (start, end) if start and end else None
