"""Every call Vystra makes to Stripe, through one configured :class:`stripe.StripeClient`.

Metering uses Billing Meter Events (``POST /v1/billing/meter_events``): the installed stripe
library (16.x, API version 2026-10-28) and stripe-mock's spec only offer those; legacy usage
records were removed from Stripe's API in 2025-03-31.basil.
"""

from __future__ import annotations

import stripe
from stripe.params.checkout import SessionCreateParamsLineItem

from vystra.billing.plans import Plan
from vystra.errors import VystraError
from vystra.settings import Settings

NETWORK_RETRIES = 2  # the library retries connection errors and 409/429/5xx with the same key


class BillingNotConfigured(VystraError):
    reason = "BillingNotConfigured"


def make_client(settings: Settings, *, api_base: str | None = None) -> stripe.StripeClient:
    """A client with the key from the environment; ``api_base`` overrides the address."""
    if settings.stripe_api_key is None:
        raise BillingNotConfigured(
            "billing is not enabled on this service (STRIPE_API_KEY is unset)"
        )
    base = api_base or settings.stripe_api_base
    return stripe.StripeClient(
        settings.stripe_api_key.get_secret_value(),
        base_addresses={"api": base} if base else None,
        max_network_retries=NETWORK_RETRIES,
    )


def create_customer(client: stripe.StripeClient, tenant: str) -> str:
    customer = client.v1.customers.create(
        params={"description": f"Vystra tenant {tenant}", "metadata": {"tenant": tenant}},
        options={"idempotency_key": f"vystra-customer-{tenant}"},
    )
    return customer.id


def create_checkout_session(
    client: stripe.StripeClient,
    *,
    tenant: str,
    customer_id: str,
    plan: Plan,
    success_url: str,
    cancel_url: str,
) -> stripe.checkout.Session:
    line_items: list[SessionCreateParamsLineItem] = []
    if plan.stripe_price_id:
        line_items.append({"price": plan.stripe_price_id, "quantity": 1})
    if plan.stripe_metered_price_id:  # metered prices take no quantity: the meter sets it
        line_items.append({"price": plan.stripe_metered_price_id})
    # the tenant and plan travel in the session and the subscription, so every later event
    # (checkout.session.completed, customer.subscription.*) names them without a lookup
    metadata = {"tenant": tenant, "plan": plan.name}
    return client.v1.checkout.sessions.create(
        params={
            "mode": "subscription",
            "customer": customer_id,
            "client_reference_id": tenant,
            "line_items": line_items,
            "metadata": metadata,
            "subscription_data": {"metadata": metadata},
            "success_url": success_url,
            "cancel_url": cancel_url,
        }
    )


def send_meter_event(
    client: stripe.StripeClient,
    *,
    event_name: str,
    customer_id: str,
    value: int,
    identifier: str,
    timestamp: int,
) -> None:
    """Report ``value`` processed seconds; ``identifier`` makes a resend count once."""
    client.v1.billing.meter_events.create(
        params={
            "event_name": event_name,
            "identifier": identifier,
            "timestamp": timestamp,
            "payload": {"stripe_customer_id": customer_id, "value": str(value)},
        },
        options={"idempotency_key": identifier},
    )
