"""Plan limits checked before an ingest is created: the answer names the limit it hit.

Which plan applies: the account's plan while its subscription is in good standing; the default
plan for a tenant that never subscribed; none (refused) while a subscription is lapsed
(past_due, unpaid, canceled, ...) until it is paid or renewed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import psycopg

from vystra.billing import usage
from vystra.billing.accounts import Account, get_account
from vystra.billing.plans import Catalog, Plan
from vystra.errors import VystraError


class QuotaExceeded(VystraError):
    """The plan does not allow this ingest (an API answers 402 Payment Required)."""

    reason = "QuotaExceeded"

    def __init__(self, limit: str, message: str, **detail: object) -> None:
        super().__init__(message)
        self.limit = limit
        self.detail = {"limit": limit, **detail}


@dataclass(frozen=True)
class Standing:
    """A tenant's plan, status and usage in the current period."""

    tenant: str
    account: Account | None
    plan: Plan | None
    status: str
    period: tuple[datetime, datetime]
    used_seconds: float

    @property
    def included_seconds(self) -> float:
        return self.plan.included_minutes * 60 if self.plan else 0.0


def standing(conn: psycopg.Connection, catalog: Catalog, tenant: str) -> Standing:
    account = get_account(conn, tenant)
    subscribed = account is not None and account.status != "none"
    plan = catalog.get(account.plan) if subscribed and account else None
    if not subscribed:
        plan = catalog.default
    if account and account.period_start and account.period_end and subscribed:
        period = (account.period_start, account.period_end)
    else:
        period = usage.calendar_month()
    used = usage.seconds_between(conn, tenant, *period)
    status = account.status if account else "none"
    return Standing(tenant, account, plan, status, period, used)


def check_ingest(
    state: Standing,
    *,
    accelerator: str,
    duration_hint: float | None,
    active_ingests: int,
) -> None:
    """Raise :class:`QuotaExceeded` naming the first limit this ingest would break."""
    if state.account is not None and state.account.lapsed:
        raise QuotaExceeded(
            "subscription",
            f"the subscription is {state.status}: pay the open invoice or subscribe again"
            " (POST /v1/billing/checkout)",
            status=state.status,
        )
    plan = state.plan
    if plan is None:
        raise QuotaExceeded(
            "subscription", "no active subscription: subscribe first (POST /v1/billing/checkout)"
        )
    if accelerator == "gpu" and not plan.gpu_allowed:
        raise QuotaExceeded(
            "gpu", f"the {plan.name} plan does not include GPU processing: use accelerator cpu"
        )
    if plan.max_concurrent_ingests is not None and active_ingests >= plan.max_concurrent_ingests:
        raise QuotaExceeded(
            "max_concurrent_ingests",
            f"the {plan.name} plan runs at most {plan.max_concurrent_ingests} ingests at once;"
            f" {active_ingests} are queued or running",
            allowed=plan.max_concurrent_ingests,
            used=active_ingests,
        )
    check_duration(plan, duration_hint)
    if not plan.overage:
        wanted = state.used_seconds + (duration_hint or 0.0)
        if state.used_seconds >= state.included_seconds or wanted > state.included_seconds:
            raise QuotaExceeded(
                "included_minutes",
                f"the {plan.name} plan includes {plan.included_minutes:g} processed minutes per"
                f" period; {state.used_seconds / 60:.1f} are used",
                allowed=plan.included_minutes,
                used=round(state.used_seconds / 60, 2),
            )


def check_duration(limit: float | Plan | None, seconds: float | None) -> None:
    """The video-length limit, for a hint at creation or a probed duration while running."""
    plan_name = f"the {limit.name} plan" if isinstance(limit, Plan) else "the plan"
    allowed = limit.max_video_seconds if isinstance(limit, Plan) else limit
    if allowed is not None and seconds and seconds > allowed:
        raise QuotaExceeded(
            "max_video_seconds",
            f"{plan_name} processes videos up to {allowed:g} s; this one is {seconds:g} s",
            allowed=allowed,
            used=seconds,
        )
