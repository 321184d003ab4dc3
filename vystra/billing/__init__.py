"""Billing: plans and their quotas, metered usage (an outbox reported to Stripe), and the
Stripe webhook events that set a tenant's plan and subscription status.

Shared by the API (checkout, webhook, quotas, local-mode metering, the reporter) and the
operator (metering VideoIngests that succeed). Stripe itself is only called from
:mod:`vystra.billing.stripe_api`.
"""
