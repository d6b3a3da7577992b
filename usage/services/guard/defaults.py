"""The destination rules every organization starts with: premium-rate numbers, and the high-risk
prefixes shipped in usage/data/high_risk_prefixes.csv (international revenue share fraud). Each is
an explicit rule an admin sees, can lift, and can restore."""

import csv
from functools import cache
from pathlib import Path

from ...choices import NumberType
from ...spend_guard import GuardScope, RuleAction

DATA = Path(__file__).resolve().parents[2] / "data" / "high_risk_prefixes.csv"
PREMIUM_KEY = "premium-rate"


@cache
def default_rule_specs() -> tuple[dict, ...]:
    """The default rules as field values (the same for every organization)."""
    specs = [
        {
            "default_key": PREMIUM_KEY,
            "number_type": NumberType.PREMIUM.value,
            "prefix": "",
            "description": "Premium-rate and shared-cost numbers, in every country",
        }
    ]
    with DATA.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            specs.append({"default_key": row["key"], "number_type": "", "prefix": row["prefix"], "description": row["description"]})
    return tuple(specs)


def missing_default_rules(organization_id, existing_keys, model):
    """Unsaved rules (of `model`, the real or a migration's historical one) for the defaults not in `existing_keys`."""
    return [
        model(
            organization_id=organization_id,
            scope=GuardScope.ORGANIZATION.value,
            action=RuleAction.BLOCK.value,
            country="",
            **spec,
        )
        for spec in default_rule_specs()
        if spec["default_key"] not in existing_keys
    ]
