"""Calling plans, by capability code: what each includes (minutes, pooling, international, SMS)."""

from dataclasses import dataclass

from billing.catalog import CATALOG
from billing.models import Product

from ...choices import FULL_ALLOTMENT_COUNTRIES, PLAN_PRIORITY


@dataclass(frozen=True)
class Plan:
    capability: str
    name: str
    included_minutes: int
    included_minutes_outside_full: int | None
    pooled: bool
    international: bool
    sms_segments: int

    def minutes_for(self, country: str) -> int:
        if country in FULL_ALLOTMENT_COUNTRIES or self.included_minutes_outside_full is None:
            return self.included_minutes
        return self.included_minutes_outside_full


def load_plans() -> dict:
    """Plans by capability code: the catalog support staff maintain, the built-in one for any gap."""
    plans = {}
    for item in CATALOG:
        if item.get("capability"):
            plans[item["capability"]] = _plan_from(item)
    for product in Product.objects.exclude(capability=""):
        plans[product.capability] = _plan_from(
            dict(
                capability=product.capability,
                name=product.name,
                included_minutes=product.included_minutes,
                included_minutes_outside_us_ca_uk=product.included_minutes_outside_us_ca_uk,
                minutes_pooled=product.minutes_pooled,
                includes_international=product.includes_international,
                sms_segments=product.sms_segments,
            )
        )
    return plans


def _plan_from(item) -> Plan:
    return Plan(
        capability=item["capability"],
        name=item["name"],
        included_minutes=item.get("included_minutes", 0),
        included_minutes_outside_full=item.get("included_minutes_outside_us_ca_uk"),
        pooled=item.get("minutes_pooled", True),
        international=item.get("includes_international", False),
        sms_segments=item.get("sms_segments", 0),
    )


def plan_code(licenses):
    """The calling plan of a set of licenses: the first of PLAN_PRIORITY held, or None."""
    return next((code for code in PLAN_PRIORITY if code in licenses), None)
