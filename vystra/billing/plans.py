"""Plans are configuration: a YAML list in ``VYSTRA_BILLING_PLANS_FILE`` (or inline in
``VYSTRA_BILLING_PLANS_YAML``); without either, the built-in ``free`` plan alone.

```yaml
- name: pro
  stripe_price_id: price_1Pro...          # recurring flat fee (quantity 1 in Checkout)
  stripe_metered_price_id: price_1Sec...  # usage price attached to the Billing Meter
  included_minutes: 600                   # per billing period
  overage: true                           # beyond the included minutes: billed, not refused
  max_video_seconds: 14400
  max_concurrent_ingests: 10
  gpu_allowed: true
```
"""

from __future__ import annotations

from dataclasses import dataclass

import yaml
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from vystra.errors import VystraError
from vystra.settings import Settings


class Plan(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)  # a misspelt limit must not vanish

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$", max_length=40)
    stripe_price_id: str | None = Field(
        default=None, description="Recurring flat-fee price; unset with no metered price: free."
    )
    stripe_metered_price_id: str | None = Field(
        default=None, description="Usage-based price on the meter that processed seconds feed."
    )
    included_minutes: float = Field(ge=0, description="Processed minutes per billing period.")
    overage: bool = Field(
        default=False,
        description="True: minutes beyond the included ones are billed through the meter;"
        " false: an ingest past them is refused with 402.",
    )
    max_video_seconds: float | None = Field(default=None, gt=0, description="Unset: no limit.")
    max_concurrent_ingests: int | None = Field(default=None, ge=1, description="Unset: no limit.")
    gpu_allowed: bool = False

    @property
    def prices(self) -> list[str]:
        return [p for p in (self.stripe_price_id, self.stripe_metered_price_id) if p]

    @property
    def purchasable(self) -> bool:
        return bool(self.prices)


FREE = Plan(
    name="free",
    included_minutes=60,
    max_video_seconds=30 * 60,
    max_concurrent_ingests=2,
    gpu_allowed=False,
)

_PLAN_LIST = TypeAdapter(list[Plan])


@dataclass(frozen=True)
class Catalog:
    """The configured plans, by name and by Stripe price id."""

    plans: dict[str, Plan]
    default: Plan | None  # the plan of a tenant that never subscribed; None: 402 until it does

    def get(self, name: str | None) -> Plan | None:
        return self.plans.get(name) if name else None

    def for_prices(self, price_ids: list[str]) -> Plan | None:
        """The plan a subscription's items belong to (the first plan sharing a price)."""
        wanted = set(price_ids)
        return next((p for p in self.plans.values() if wanted & set(p.prices)), None)


def load_catalog(settings: Settings) -> Catalog:
    if settings.billing_plans_yaml:
        text = settings.billing_plans_yaml
    elif settings.billing_plans_file:
        text = settings.billing_plans_file.read_text()
    else:
        text = None
    try:
        plans = _PLAN_LIST.validate_python(yaml.safe_load(text)) if text else [FREE]
    except (ValueError, yaml.YAMLError) as exc:
        raise VystraError(f"invalid billing plans: {exc}") from exc
    by_name = {p.name: p for p in plans}
    if len(by_name) != len(plans):
        raise VystraError("invalid billing plans: two plans share a name")
    default_name = settings.billing_default_plan or None
    if default_name and default_name not in by_name:
        raise VystraError(f"VYSTRA_BILLING_DEFAULT_PLAN names no plan: {default_name!r}")
    return Catalog(by_name, by_name.get(default_name) if default_name else None)
