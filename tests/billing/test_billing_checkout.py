"""Checkout against stripe-mock; secrets from the environment, never in logs."""

from __future__ import annotations

import logging

import pytest
from api_helpers import Caller
from billing_helpers import API_KEY, WEBHOOK_SECRET
from fastapi.testclient import TestClient

from vystra.billing.accounts import get_account
from vystra.db import Database
from vystra.settings import Settings


def test_checkout_creates_a_session_for_a_plan(
    billing_client: TestClient, caller: Caller, db: Database
) -> None:
    answer = billing_client.post(
        "/v1/billing/checkout",
        headers=caller.headers,
        json={"plan": "pro", "success_url": "https://app.example/ok"},
    )
    assert answer.status_code == 201, answer.text
    session = answer.json()
    assert session["id"].startswith("cs_") and session["plan"] == "pro"
    assert session["url"].startswith("https://checkout.stripe.com/")
    with db.connect() as conn:
        account = get_account(conn, caller.tenant)
    # the customer is made before payment and kept: a second checkout reuses it
    assert account is not None and account.stripe_customer_id.startswith("cus_")
    assert account.status == "none" and account.plan is None  # nothing paid yet
    again = billing_client.post(
        "/v1/billing/checkout", headers=caller.headers, json={"plan": "pro"}
    )
    assert again.status_code == 201
    with db.connect() as conn:
        assert get_account(conn, caller.tenant).stripe_customer_id == account.stripe_customer_id


def test_checkout_refuses_unknown_and_free_plans(
    billing_client: TestClient, caller: Caller
) -> None:
    for plan in ("gold", "free"):
        answer = billing_client.post(
            "/v1/billing/checkout", headers=caller.headers, json={"plan": plan}
        )
        assert answer.status_code == 422, answer.text
        assert "pro" in answer.json()["message"]  # says what can be bought
    assert billing_client.post("/v1/billing/checkout", json={"plan": "pro"}).status_code == 401


def test_checkout_when_stripe_is_down_is_a_clear_502(
    billing_client: TestClient, caller: Caller
) -> None:
    state = billing_client.app.state.vystra  # type: ignore[attr-defined]
    working = state.billing.client
    from vystra.billing.stripe_api import make_client

    state.billing.client = make_client(state.settings, api_base="http://127.0.0.1:9")
    try:
        answer = billing_client.post(
            "/v1/billing/checkout", headers=caller.headers, json={"plan": "pro"}
        )
    finally:
        state.billing.client = working
    assert answer.status_code == 502 and "payment provider" in answer.json()["message"]


def test_plans_are_listed(billing_client: TestClient, caller: Caller) -> None:
    plans = {
        p["name"]: p for p in billing_client.get("/v1/billing/plans", headers=caller.headers).json()
    }
    assert set(plans) == {"free", "pro", "short"}
    assert plans["pro"]["purchasable"] and not plans["free"]["purchasable"]
    assert plans["free"]["max_concurrent_ingests"] == 2 and not plans["free"]["gpu_allowed"]


def test_keys_come_from_the_environment_and_are_never_shown(
    monkeypatch: pytest.MonkeyPatch,
    billing_client: TestClient,
    caller: Caller,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("STRIPE_API_KEY", API_KEY)
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET)
    from_env = Settings()
    assert from_env.stripe_api_key is not None
    assert from_env.stripe_api_key.get_secret_value() == API_KEY
    assert API_KEY not in repr(from_env) and WEBHOOK_SECRET not in str(from_env.model_dump())

    caplog.set_level(logging.DEBUG)
    state = billing_client.app.state.vystra  # type: ignore[attr-defined]
    working = state.billing.client
    from vystra.billing.stripe_api import make_client

    billing_client.post("/v1/billing/checkout", headers=caller.headers, json={"plan": "pro"})
    state.billing.client = make_client(state.settings, api_base="http://127.0.0.1:9")
    try:  # failures log too: the key must not be in them either
        billing_client.post("/v1/billing/checkout", headers=caller.headers, json={"plan": "pro"})
    finally:
        state.billing.client = working
    assert caplog.records, "nothing was logged: the check below would prove nothing"
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert API_KEY not in logged and API_KEY[-12:] not in logged
    assert WEBHOOK_SECRET not in logged
