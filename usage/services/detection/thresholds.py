"""The thresholds of detection, read from the settings (credits_site/settings/base.py, SPEND_DETECTION_*)
each time an import finishes, so a test or an operator's override applies at once."""

from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings


@dataclass(frozen=True)
class Thresholds:
    enabled: bool = True
    baseline_days: int = 28
    min_history_days: int = 7
    burst_factor: float = 5.0
    min_calls: int = 20
    min_spend: Decimal = Decimal("10.00")
    new_country_min_calls: int = 3
    odd_hour_min_calls: int = 5

    def burst(self, calls, spend, baseline_calls, baseline_spend) -> bool:
        """Several times the baseline, and enough calls or spend to matter."""
        factor = Decimal(str(self.burst_factor))
        by_calls = calls >= self.min_calls and calls >= factor * Decimal(str(baseline_calls))
        by_spend = spend >= self.min_spend and spend >= factor * Decimal(str(baseline_spend))
        return by_calls or by_spend


def current() -> Thresholds:
    return Thresholds(
        enabled=getattr(settings, "SPEND_DETECTION_ENABLED", True),
        baseline_days=max(1, getattr(settings, "SPEND_DETECTION_BASELINE_DAYS", 28)),
        min_history_days=max(0, getattr(settings, "SPEND_DETECTION_MIN_HISTORY_DAYS", 7)),
        burst_factor=float(getattr(settings, "SPEND_DETECTION_BURST_FACTOR", 5.0)),
        min_calls=max(1, getattr(settings, "SPEND_DETECTION_MIN_CALLS", 20)),
        min_spend=Decimal(str(getattr(settings, "SPEND_DETECTION_MIN_SPEND", "10.00"))),
        new_country_min_calls=max(1, getattr(settings, "SPEND_DETECTION_NEW_COUNTRY_MIN_CALLS", 3)),
        odd_hour_min_calls=max(1, getattr(settings, "SPEND_DETECTION_ODD_HOUR_MIN_CALLS", 5)),
    )
