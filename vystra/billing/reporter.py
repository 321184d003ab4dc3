"""Sends recorded usage to Stripe (the outbox's sending side).

A row leaves ``pending`` only once Stripe has accepted it. Stripe down, slow or refusing: the
row stays pending with its error and is retried later with backoff; nothing is lost. Each row
has its own identifier (also the idempotency key), so a resend after an answer that never
arrived is counted once by Stripe.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import stripe

from vystra.billing import usage
from vystra.billing.accounts import get_account
from vystra.billing.stripe_api import send_meter_event
from vystra.db import Database
from vystra.settings import Settings

log = logging.getLogger(__name__)

# Stripe accepts meter events up to 35 days old; older usage (Stripe down that long) is billed
# now rather than dropped.
MAX_EVENT_AGE = timedelta(days=30)


@dataclass
class ReportResult:
    reported: int = 0
    failed: int = 0
    unbilled: int = 0
    errors: list[str] = field(default_factory=list)


def _event_time(recorded_at: datetime) -> int:
    now = datetime.now(UTC)
    return int((recorded_at if now - recorded_at < MAX_EVENT_AGE else now).timestamp())


def report_pending(
    db: Database, client: stripe.StripeClient, event_name: str, *, limit: int = 100
) -> ReportResult:
    """Send every due pending row (up to ``limit``) to Stripe and mark the outcome."""
    result = ReportResult()
    with db.connect() as conn:
        for record in usage.claim_due(conn, limit=limit):
            account = get_account(conn, record.tenant)
            customer = account.stripe_customer_id if account else None
            if customer is None:
                usage.mark_unbilled(conn, record.id, "the tenant has no Stripe customer")
                result.unbilled += 1
                continue
            try:
                send_meter_event(
                    client,
                    event_name=event_name,
                    customer_id=customer,
                    value=record.billable_seconds,
                    identifier=record.identifier,
                    timestamp=_event_time(record.recorded_at),
                )
            except stripe.StripeError as exc:
                # the message only: Stripe's errors never carry the key, but keep it that way
                error = f"{type(exc).__name__}: {exc.user_message or str(exc)}"[:500]
                delay = usage.mark_failed(conn, record, error)
                result.failed += 1
                result.errors.append(error)
                log.warning("usage %s not reported (%s); retry in %s", record.id, error, delay)
                continue
            usage.mark_reported(conn, record.id)
            result.reported += 1
    return result


class Reporter:
    """A thread of the API process that drains the outbox every few seconds."""

    def __init__(self, settings: Settings, db: Database, client: stripe.StripeClient) -> None:
        self.settings = settings
        self.db = db
        self.client = client
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="usage-reporter", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _loop(self) -> None:
        while not self._stop.wait(self.settings.billing_report_interval_seconds):
            try:
                report_pending(self.db, self.client, self.settings.stripe_meter_event_name)
            except Exception:  # a database hiccup must not end the loop; rows stay pending
                log.exception("usage reporting pass failed")
