"""Billing: Stripe Checkout for a plan, Stripe's webhook, and usage against the plan."""

from __future__ import annotations

import json
import logging
from typing import Annotated, Any

import stripe
from fastapi import APIRouter, Header, Request, Response
from fastapi.concurrency import run_in_threadpool

from vystra.billing import accounts, quota, stripe_api, usage, webhooks
from vystra.billing.plans import Plan
from vystra_api.deps import PUBLIC, StateDep, TenantDep
from vystra_api.errors import ApiError
from vystra_api.idempotency import IdempotencyKey, idempotent
from vystra_api.models import CheckoutCreate, CheckoutPublic, PlanPublic, UsagePublic
from vystra_api.state import AppState

log = logging.getLogger(__name__)
router = APIRouter(prefix="/v1/billing", tags=["billing"])


def plan_public(plan: Plan) -> PlanPublic:
    return PlanPublic(
        name=plan.name,
        included_minutes=plan.included_minutes,
        overage=plan.overage,
        max_video_seconds=plan.max_video_seconds,
        max_concurrent_ingests=plan.max_concurrent_ingests,
        gpu_allowed=plan.gpu_allowed,
        purchasable=plan.purchasable,
    )


@router.get("/plans", summary="The plans on offer and their limits")
def list_plans(_: TenantDep, state: StateDep) -> list[PlanPublic]:
    return [plan_public(p) for p in state.billing.catalog.plans.values()]


def _client(state: AppState) -> stripe.StripeClient:
    if state.billing.client is None:
        raise stripe_api.BillingNotConfigured(
            "billing is not enabled on this service (STRIPE_API_KEY is unset)"
        )
    return state.billing.client


@router.post("/checkout", status_code=201, summary="Start a Stripe Checkout for a plan")
def create_checkout(
    body: CheckoutCreate,
    tenant: TenantDep,
    state: StateDep,
    response: Response,
    key: IdempotencyKey = None,
) -> CheckoutPublic:
    return idempotent(
        state,
        tenant,
        key,
        body,
        response,
        (201, CheckoutPublic),
        lambda: _create_checkout(body, tenant, state),
    )


def _create_checkout(body: CheckoutCreate, tenant: str, state: AppState) -> CheckoutPublic:
    client = _client(state)
    plan = state.billing.catalog.get(body.plan)
    if plan is None or not plan.purchasable:
        on_sale = [p.name for p in state.billing.catalog.plans.values() if p.purchasable]
        raise ApiError(422, f"no plan {body.plan!r} to buy; plans on sale: {on_sale}")
    try:
        with state.db.connect() as conn:
            account = accounts.get_account(conn, tenant)
        customer = account.stripe_customer_id if account else None
        if customer is None:
            # the customer exists before payment, so every event names a customer we know
            created = stripe_api.create_customer(client, tenant)
            with state.db.connect() as conn:
                customer = accounts.set_customer(conn, tenant, created)
        session = stripe_api.create_checkout_session(
            client,
            tenant=tenant,
            customer_id=customer,
            plan=plan,
            success_url=body.success_url or state.settings.billing_success_url,
            cancel_url=body.cancel_url or state.settings.billing_cancel_url,
        )
    except stripe.StripeError as exc:
        log.warning("checkout for %s failed: %s", tenant, type(exc).__name__)
        raise ApiError(502, "the payment provider is unavailable; try again", "BadGateway") from exc
    return CheckoutPublic(id=session.id, url=session.url, plan=plan.name)


@router.post(
    "/webhook",
    summary="Stripe's webhook (signed with the endpoint's secret; no API key)",
    openapi_extra=PUBLIC,
)
async def stripe_webhook(
    request: Request,
    state: StateDep,
    stripe_signature: Annotated[str | None, Header(alias="Stripe-Signature")] = None,
) -> dict[str, Any]:
    secret = state.settings.stripe_webhook_secret
    if secret is None:
        raise stripe_api.BillingNotConfigured(
            "billing is not enabled on this service (STRIPE_WEBHOOK_SECRET is unset)"
        )
    payload = await request.body()
    if not stripe_signature:
        raise ApiError(400, "missing Stripe-Signature header", "InvalidSignature")
    try:  # checks the HMAC over "<t>.<payload>" and that t is within 5 minutes
        stripe.Webhook.construct_event(payload, stripe_signature, secret.get_secret_value())
    except stripe.SignatureVerificationError as exc:
        raise ApiError(400, "the Stripe-Signature does not verify", "InvalidSignature") from exc
    except ValueError as exc:
        raise ApiError(400, "the event is not valid JSON", "MalformedJSON") from exc
    event = json.loads(payload)
    if not isinstance(event, dict) or not {"id", "type", "created", "data"} <= event.keys():
        raise ApiError(400, "not a Stripe event", "BadRequest")

    def apply() -> str:
        with state.db.connect() as conn:
            return webhooks.apply_event(conn, state.billing.catalog, event)

    outcome = await run_in_threadpool(apply)
    return {"received": True, "outcome": outcome}


@router.get("/usage", summary="Processed minutes this period against the plan")
def get_usage(tenant: TenantDep, state: StateDep) -> UsagePublic:
    with state.db.connect() as conn:
        standing = quota.standing(conn, state.billing.catalog, tenant)
        by_status = usage.counts(conn, tenant, *standing.period)
    active = state.backend.active_count(tenant)
    included = standing.plan.included_minutes if standing.plan else 0.0
    used_minutes = standing.used_seconds / 60
    return UsagePublic(
        plan=plan_public(standing.plan) if standing.plan else None,
        status=standing.status,
        enforced=state.settings.billing_enabled,
        period_start=standing.period[0],
        period_end=standing.period[1],
        used_seconds=round(standing.used_seconds, 3),
        used_minutes=round(used_minutes, 3),
        included_minutes=included,
        remaining_minutes=round(max(0.0, included - used_minutes), 3),
        active_ingests=active,
        metered_ingests=sum(by_status.values()),
        unreported_ingests=by_status.get("pending", 0),
    )
