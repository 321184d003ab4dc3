"""Stripe's webhook: signatures checked with the endpoint secret, events applied once, in order."""

from __future__ import annotations

import time
from typing import Any

import pytest
from api_helpers import Caller
from billing_helpers import WEBHOOK_SECRET, StripeMock, encode, event, fixture_object, sign
from fastapi.testclient import TestClient

from vystra.billing.accounts import Account, get_account
from vystra.db import Database

HOOK = "/v1/billing/webhook"


def post(client: TestClient, evt: dict[str, Any], secret: str = WEBHOOK_SECRET, **kw: Any):
    payload = encode(evt)
    return client.post(
        HOOK,
        content=payload,
        headers={
            "Stripe-Signature": sign(payload, secret, **kw),
            "Content-Type": "application/json",
        },
    )


def account(db: Database, tenant: str) -> Account | None:
    with db.connect() as conn:
        return get_account(conn, tenant)


def events_seen(db: Database) -> int:
    with db.connect() as conn:
        return conn.execute("SELECT count(*) FROM billing_events").fetchone()[0]


def subscription(
    mock: StripeMock, tenant: str, status: str, prices: list[str], customer: str
) -> dict[str, Any]:
    """A subscription shaped by Stripe's own fixture, with our tenant, prices and period."""
    sub = fixture_object(mock.url, "/v1/subscriptions/sub_123")
    sub.update(id=f"sub_{tenant}", customer=customer, status=status, metadata={"tenant": tenant})
    template = sub["items"]["data"][0]
    start = int(time.time()) - 86400
    sub["items"]["data"] = [
        {
            **template,
            "price": {**template["price"], "id": price},
            "current_period_start": start,
            "current_period_end": start + 30 * 86400,
        }
        for price in prices
    ]
    return sub


def checkout_completed(mock: StripeMock, tenant: str, plan: str, customer: str) -> dict[str, Any]:
    session = fixture_object(mock.url, "/v1/checkout/sessions/cs_123")
    session.update(
        client_reference_id=tenant,
        customer=customer,
        subscription=f"sub_{tenant}",
        metadata={"tenant": tenant, "plan": plan},
        payment_status="paid",
        status="complete",
        mode="subscription",
    )
    return session


@pytest.mark.parametrize(
    "signature",
    [
        None,
        "",
        "t=1,v1=deadbeef",
        "garbage",
        "wrong secret",
        "too old",
    ],
)
def test_bad_or_missing_signature_is_400_and_changes_nothing(
    billing_client: TestClient, caller: Caller, db: Database, stripe_mock: StripeMock, signature
) -> None:
    evt = event(
        "checkout.session.completed", checkout_completed(stripe_mock, caller.tenant, "pro", "cus_x")
    )
    payload = encode(evt)
    headers = {"Content-Type": "application/json"}
    if signature == "wrong secret":
        headers["Stripe-Signature"] = sign(payload, "whsec_not_ours")
    elif signature == "too old":  # a captured request replayed later: outside the tolerance
        headers["Stripe-Signature"] = sign(payload, WEBHOOK_SECRET, int(time.time()) - 3600)
    elif signature is not None:
        headers["Stripe-Signature"] = signature
    before = events_seen(db)
    answer = billing_client.post(HOOK, content=payload, headers=headers)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"] in ("InvalidSignature", "BadRequest")
    assert events_seen(db) == before and account(db, caller.tenant) is None


def test_a_signed_payload_changed_in_transit_is_refused(
    billing_client: TestClient, caller: Caller, db: Database, stripe_mock: StripeMock
) -> None:
    evt = event(
        "checkout.session.completed", checkout_completed(stripe_mock, caller.tenant, "pro", "cus_y")
    )
    header = sign(encode(evt), WEBHOOK_SECRET)
    evt["data"]["object"]["metadata"]["plan"] = "short"
    answer = billing_client.post(HOOK, content=encode(evt), headers={"Stripe-Signature": header})
    assert answer.status_code == 400 and account(db, caller.tenant) is None


def test_subscription_lifecycle_sets_plan_and_status(
    billing_client: TestClient, caller: Caller, db: Database, stripe_mock: StripeMock
) -> None:
    tenant, customer = caller.tenant, f"cus_{caller.tenant}"
    now = int(time.time())
    done = post(
        billing_client,
        event(
            "checkout.session.completed",
            checkout_completed(stripe_mock, tenant, "pro", customer),
            created=now - 50,
        ),
    )
    assert done.status_code == 200 and done.json()["outcome"] == "applied", done.text
    got = account(db, tenant)
    assert got and (got.plan, got.status, got.stripe_customer_id) == ("pro", "active", customer)
    assert got.stripe_subscription_id == f"sub_{tenant}"

    # created: the plan comes from the subscription's prices, the period from its items
    sub = subscription(
        stripe_mock, tenant, "active", ["price_pro_base", "price_pro_seconds"], customer
    )
    assert (
        post(
            billing_client, event("customer.subscription.created", sub, created=now - 40)
        ).status_code
        == 200
    )
    got = account(db, tenant)
    assert got and got.plan == "pro" and got.period_start and got.period_end
    assert (got.period_end - got.period_start).days == 30

    # updated: a plan change to `short` (its price) is applied
    sub = subscription(stripe_mock, tenant, "active", ["price_short_base"], customer)
    post(billing_client, event("customer.subscription.updated", sub, created=now - 30))
    assert account(db, tenant).plan == "short"

    # invoice.payment_failed names only the customer: found through the stored customer id
    invoice = fixture_object(stripe_mock.url, "/v1/invoices/in_123")
    invoice.update(customer=customer, metadata={})
    failed = post(billing_client, event("invoice.payment_failed", invoice, created=now - 20))
    assert failed.json()["outcome"] == "applied" and account(db, tenant).status == "past_due"

    # invoice.paid ends the lapse
    paid = post(billing_client, event("invoice.paid", invoice, created=now - 18))
    assert paid.json()["outcome"] == "applied" and account(db, tenant).status == "active"

    sub = subscription(stripe_mock, tenant, "active", ["price_short_base"], customer)
    post(billing_client, event("customer.subscription.updated", sub, created=now - 15))
    assert account(db, tenant).status == "active"  # paid: back in good standing

    sub = subscription(stripe_mock, tenant, "canceled", ["price_short_base"], customer)
    post(billing_client, event("customer.subscription.deleted", sub, created=now - 10))
    got = account(db, tenant)
    assert got and got.status == "canceled" and got.plan == "short"
    # a final invoice paid after cancellation does not revive the subscription
    late = post(billing_client, event("invoice.paid", invoice, created=now - 5))
    assert late.json()["outcome"].startswith("ignored") and account(db, tenant).status == "canceled"


def test_replayed_and_late_events_change_nothing(
    billing_client: TestClient, caller: Caller, db: Database, stripe_mock: StripeMock
) -> None:
    tenant, customer = caller.tenant, f"cus_{caller.tenant}"
    now = int(time.time())
    active = event(
        "customer.subscription.updated",
        subscription(stripe_mock, tenant, "active", ["price_pro_base"], customer),
        created=now - 100,
    )
    deleted = event(
        "customer.subscription.deleted",
        subscription(stripe_mock, tenant, "canceled", ["price_pro_base"], customer),
        created=now - 50,
    )
    assert post(billing_client, active).json()["outcome"] == "applied"
    assert post(billing_client, deleted).json()["outcome"] == "applied"
    before = events_seen(db)
    # the same event again (Stripe retries deliveries): acknowledged, nothing changes
    replay = post(billing_client, active)
    assert replay.status_code == 200 and replay.json()["outcome"] == "duplicate"
    assert events_seen(db) == before and account(db, tenant).status == "canceled"
    # a different event that is older than the state (delivered late) is recorded, not applied
    late = event(
        "customer.subscription.updated",
        subscription(stripe_mock, tenant, "active", ["price_pro_base"], customer),
        created=now - 75,
    )
    assert post(billing_client, late).json()["outcome"] == "stale"
    assert account(db, tenant).status == "canceled"


def test_events_for_unknown_tenants_and_types_are_acknowledged(
    billing_client: TestClient, db: Database, stripe_mock: StripeMock
) -> None:
    stranger = subscription(stripe_mock, "nobody-here", "active", ["price_pro_base"], "cus_nobody")
    answer = post(billing_client, event("customer.subscription.updated", stranger))
    assert answer.status_code == 200 and answer.json()["outcome"].startswith("ignored")
    assert account(db, "nobody-here") is None
    other = post(
        billing_client, event("plan.created", fixture_object(stripe_mock.url, "/v1/plans/p"))
    )
    assert other.status_code == 200 and other.json()["outcome"] == "ignored"
