"""Advice before buying credits: how much of the calls the subscriptions already cover, and how many
credits to buy (trigger and recharge of auto-recharge) from the recent spend."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_CEILING, Decimal

from django.db.models import Sum

from billing import limits
from billing.money import ZERO, to_money
from billing.selectors import credit_account

from ..choices import RecordKind
from ..models import DailyUsage
from .report import totals


@dataclass(frozen=True)
class CoverageSummary:
    days: int
    minutes: int
    covered_minutes: int
    charged: Decimal
    currency: str

    @property
    def covered_share(self):
        return None if not self.minutes else self.covered_minutes / self.minutes

    @property
    def mostly_covered(self):
        share = self.covered_share
        return share is not None and share >= 0.8

    @property
    def sentence(self):
        if not self.minutes:
            return f"No calls in the last {self.days} days: there is no usage yet to say what your subscriptions cover."
        percent = round(self.covered_share * 100)
        money = f"{self.charged:,.2f} {self.currency}"
        if self.mostly_covered:
            return (
                f"{percent}% of your call minutes in the last {self.days} days were covered by your subscriptions; "
                f"credits paid for the rest ({money}). Your calls are mostly covered already: buy credits only for "
                "what your plans leave out."
            )
        return (
            f"Only {percent}% of your call minutes in the last {self.days} days were covered by your subscriptions; "
            f"credits paid {money} for the rest."
        )


def coverage_summary(organization, *, days=90, today=None) -> CoverageSummary:
    """Whether the organization's calls are mostly covered by its subscriptions (shown before buying).

    Billing does not import usage: usage/apps.py registers `.sentence` as a billing coverage provider,
    and billing's add-funds page shows it.
    """
    today = today or datetime.now(UTC).date()
    start = today - timedelta(days=days - 1)
    result = totals(organization, RecordKind.PSTN, start, today)
    return CoverageSummary(
        days=days,
        minutes=result.units,
        covered_minutes=result.covered_units,
        charged=to_money(result.charge),
        currency=organization.currency,
    )


@dataclass(frozen=True)
class Recommendation:
    balance: Decimal
    currency: str
    burn_28: Decimal  # per day
    burn_90: Decimal
    burn_rate: Decimal
    days_left: int | None
    trigger: Decimal | None
    recharge: Decimal | None
    reasoning: str
    coverage: CoverageSummary



def coverage_sentence(organization) -> str | None:
    """How much of the last 90 days' calls the subscriptions covered, for billing's add-funds page."""
    summary = coverage_summary(organization)
    return summary.sentence if summary.minutes else None

def _round_up(amount, step):
    step = Decimal(step)
    return (amount / step).to_integral_value(rounding=ROUND_CEILING) * step


def recommendation(organization, *, today=None) -> Recommendation:
    """How many credits to buy: burn rate of the last 28 and 90 days, days left, trigger and recharge."""
    today = today or datetime.now(UTC).date()
    charged = {}
    for days in (28, 90):
        start = today - timedelta(days=days - 1)
        total = DailyUsage.objects.filter(organization=organization, day__gte=start, day__lte=today).aggregate(total=Sum("charge"))[
            "total"
        ]
        charged[days] = total or ZERO
    burn_28 = charged[28] / 28
    burn_90 = charged[90] / 90
    # The busier of the two windows: a recent rise is not averaged away, a quiet month does not hide a busy quarter.
    burn = max(burn_28, burn_90)
    account = credit_account(organization)
    balance = account.balance
    currency = account.currency
    coverage = coverage_summary(organization, today=today)
    if burn <= 0:
        return Recommendation(
            balance=balance, currency=currency, burn_28=ZERO, burn_90=ZERO, burn_rate=ZERO, days_left=None,
            trigger=limits.SUGGESTED_RECHARGE_TRIGGER, recharge=limits.SUGGESTED_RECHARGE_AMOUNT,
            reasoning=(
                "Nothing was charged to credits in the last 90 days, so start small: recharge "
                f"{limits.SUGGESTED_RECHARGE_AMOUNT} {currency} when the balance falls below "
                f"{limits.SUGGESTED_RECHARGE_TRIGGER} {currency}, and adjust after a month or two of usage."
            ),
            coverage=coverage,
        )
    days_left = int(balance / burn) if balance > 0 else 0
    # Trigger: a week of spending, so a declined card leaves time to act; recharge: a month of it.
    trigger = min(max(_round_up(burn * 7, 5), limits.RECHARGE_TRIGGER_MIN), limits.RECHARGE_TRIGGER_MAX)
    recharge = min(max(_round_up(burn * 30, 10), limits.RECHARGE_AMOUNT_MIN), limits.RECHARGE_AMOUNT_MAX)
    which = "last 28 days" if burn_28 >= burn_90 else "last 90 days"

    def lasts(amount, bound):
        days = int(amount / burn)
        note = f" ({bound})" if bound else ""
        return f"{amount:,.2f} {currency}{note}, about {days:,} day{'s' if days != 1 else ''} of spending"

    recharge_bound = "the smallest recharge allowed" if recharge == limits.RECHARGE_AMOUNT_MIN and burn * 30 < recharge else (
        "the largest recharge allowed" if recharge == limits.RECHARGE_AMOUNT_MAX else "")
    trigger_bound = "the lowest trigger allowed" if trigger == limits.RECHARGE_TRIGGER_MIN and burn * 7 < trigger else (
        "the highest trigger allowed" if trigger == limits.RECHARGE_TRIGGER_MAX else "")
    reasoning = (
        f"You spent {to_money(burn):,.2f} {currency} a day on average over the {which} (the busier of the 28- and "
        f"90-day windows). Recharge with {lasts(recharge, recharge_bound)} (we aim for a month), when the balance "
        f"falls below {lasts(trigger, trigger_bound)} (we aim for a week, time to fix a declined card)."
    )
    return Recommendation(
        balance=balance,
        currency=currency,
        burn_28=to_money(burn_28),
        burn_90=to_money(burn_90),
        burn_rate=to_money(burn),
        days_left=days_left,
        trigger=trigger,
        recharge=recharge,
        reasoning=reasoning,
        coverage=coverage,
    )
