"""Reads shared by the report, its exports and the recommendation. Every one is scoped to an organization.

One selector (`records`) feeds the on-screen table and every export, with the same FilterSet on top,
so an export always holds the rows on screen. The chart and totals come from the per-day totals the
import keeps (`DailyUsage`), so a year-long range costs a few hundred rows, not a million; only a
username filter, which those totals do not carry, reads the records (through their user index).
"""

import base64
import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_CEILING, Decimal

from django.db.models import Count, F, Q, Sum
from django.db.models.functions import TruncDate

from billing.money import ZERO, to_money
from billing.selectors import credit_account

from .choices import COVERED_RATINGS, ExportStatus, Rating, RecordKind
from .models import ApiToken, CallRecord, DailyUsage, Export, ReportPreference, SmsRecord

MODELS = {RecordKind.PSTN: CallRecord, RecordKind.SMS: SmsRecord}
TIME_FIELDS = {RecordKind.PSTN: "start_time", RecordKind.SMS: "sent_time"}


def day_bounds(start: date, end: date):
    """[start 00:00 UTC, the day after end 00:00 UTC): whole UTC days, as the report shows them."""
    return datetime.combine(start, time.min, tzinfo=UTC), datetime.combine(end + timedelta(days=1), time.min, tzinfo=UTC)


def records(organization, kind, start: date, end: date):
    model = MODELS[kind]
    low, high = day_bounds(start, end)
    time_field = TIME_FIELDS[kind]
    return model.objects.filter(organization=organization, **{f"{time_field}__gte": low, f"{time_field}__lt": high})


# Chart and totals --------------------------------------------------------------------------------


@dataclass
class DayPoint:
    day: date
    records: int = 0
    units: int = 0
    charge: Decimal = ZERO


@dataclass
class Summary:
    start: date
    end: date
    days: list
    records: int = 0
    seconds: int = 0
    units: int = 0
    charged_units: int = 0
    covered_units: int = 0
    charge: Decimal = ZERO
    charged_records: int = 0
    refused_records: int = 0
    currency: str = "USD"

    @property
    def minutes(self):
        return self.units

    @property
    def covered_share(self):
        """Share of billable minutes (or segments) paid by subscriptions or free, not by credits."""
        if not self.units:
            return None
        return self.covered_units / self.units

    @property
    def covered_percent(self):
        share = self.covered_share
        return None if share is None else round(share * 100, 1)


def _daily_filter(filters):
    q = Q()
    if filters.get("call_type"):
        q &= Q(call_type=filters["call_type"])
    if filters.get("direction"):
        q &= Q(call_type=filters["direction"])
    if filters.get("destination"):
        q &= Q(destination_context=filters["destination"])
    charged = filters.get("charged")
    if charged == "yes":
        q &= Q(rating=Rating.CHARGED)
    elif charged == "no":
        q &= ~Q(rating=Rating.CHARGED)
    return q


def summary(organization, kind, start, end, filters=None, *, filtered_records=None) -> Summary:
    """Per-day points and totals for the range. `filters` are the FilterSet's cleaned values; with a
    username in them, `filtered_records` (the filtered queryset) is aggregated instead."""
    filters = filters or {}
    points = {start + timedelta(days=i): DayPoint(start + timedelta(days=i)) for i in range((end - start).days + 1)}
    result = Summary(start=start, end=end, days=list(points.values()), currency=organization.currency)
    covered = list(COVERED_RATINGS)
    if filters.get("user") and filtered_records is not None:
        time_field = TIME_FIELDS[kind]
        if kind == RecordKind.PSTN:
            # Whole minutes rounded up per call, in integer arithmetic, as the import counts them.
            seconds, units = Sum("duration_seconds"), Sum((F("duration_seconds") + 59) / 60)
        else:
            seconds = units = Sum("segments")
        rows = (
            filtered_records.order_by()
            .annotate(day=TruncDate(time_field))
            .values("day", "rating")
            .annotate(n=Count("pk"), seconds=seconds, units=units, charged=Sum("charged_units"), charge=Sum("charge"))
        )
        for row in rows:
            _add(result, points, row["day"], row["rating"], row["n"], row["seconds"] or 0, row["units"] or 0,
                 row["charged"] or 0, row["charge"] or ZERO, covered)
        return result
    rows = (
        DailyUsage.objects.filter(organization=organization, kind=kind, day__gte=start, day__lte=end)
        .filter(_daily_filter(filters))
        .values("day", "rating")
        .annotate(n=Sum("records"), seconds=Sum("seconds"), units=Sum("units"), charged=Sum("charged_units"), charge=Sum("charge"))
    )
    for row in rows:
        _add(result, points, row["day"], row["rating"], row["n"], row["seconds"], row["units"], row["charged"], row["charge"], covered)
    return result


def _add(result, points, day, rating, n, seconds, units, charged_units, charge, covered):
    point = points.get(day)
    if point is not None:
        point.records += n
        point.units += units
        point.charge += charge
    result.records += n
    result.seconds += seconds
    result.units += units
    result.charged_units += charged_units
    result.charge += charge
    if rating in covered:
        result.covered_units += units
    elif rating == Rating.CHARGED:
        result.charged_records += n
        result.covered_units += units - charged_units
    elif rating == Rating.REFUSED:
        result.refused_records += n


# Keyset paging -----------------------------------------------------------------------------------


class Cursor:
    """Where a page starts: the sort value and id of a row, and that row's position when known."""

    @staticmethod
    def encode(value, pk, position):
        if isinstance(value, datetime):
            value = ["t", value.isoformat()]
        elif isinstance(value, Decimal):
            value = ["d", str(value)]
        raw = json.dumps([value, pk, position], separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @staticmethod
    def decode(text):
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
            value, pk, position = json.loads(raw)
            if isinstance(value, list) and len(value) == 2 and value[0] == "t":
                value = datetime.fromisoformat(value[1])
            elif isinstance(value, list) and len(value) == 2 and value[0] == "d":
                value = Decimal(value[1])
            elif not isinstance(value, (int, str)) and value is not None:
                return None
            if not isinstance(pk, int) or not (position is None or isinstance(position, int)):
                return None
            return value, pk, position
        except (ValueError, TypeError):
            return None


@dataclass
class KeysetPage:
    rows: list
    has_next: bool
    has_previous: bool
    next_cursor: str = ""
    previous_cursor: str = ""
    first_position: int | None = None  # 1-based position of the first row, when known
    total: int | None = None
    is_last: bool = False
    extra: dict = field(default_factory=dict)

    @property
    def last_position(self):
        if self.first_position is None:
            return None
        return self.first_position + len(self.rows) - 1


def keyset_page(queryset, *, sort_field, descending, per_page, after=None, before=None, last=False, total=None):
    """One page of `queryset` ordered by (sort_field, pk), without OFFSET and without COUNT.

    `after` / `before` are cursors (decoded); `last` asks for the final page. The page is fetched in
    the direction of travel with one row more than needed, which says whether there is another.
    """
    forward = not (before or last)
    sign_desc = descending if forward else not descending
    prefix = "-" if sign_desc else ""
    ordered = queryset.order_by(f"{prefix}{sort_field}", f"{prefix}pk")
    anchor = after or before
    position = None
    if anchor:
        value, pk, position = anchor
        lt = sign_desc
        op = "lt" if lt else "gt"
        inclusive = "lte" if lt else "gte"
        if value is None:
            ordered = ordered.filter(**{f"{sort_field}__isnull": True, f"pk__{op}": pk})
        else:
            ordered = ordered.filter(**{f"{sort_field}__{inclusive}": value}).filter(
                Q(**{f"{sort_field}__{op}": value}) | Q(**{f"pk__{op}": pk})
            )
    fetched = list(ordered[: per_page + 1])
    more = len(fetched) > per_page
    rows = fetched[:per_page]
    if not forward:
        rows.reverse()
    if forward:
        has_next, has_previous = more, bool(after)
        first = 1 if not after else (position + 1 if position is not None else None)
    else:
        has_next, has_previous = bool(before), more
        if last:
            first = (total - len(rows) + 1) if total is not None else None
        else:
            first = (position - len(rows)) if position is not None else None
    if first is not None and first < 1:
        first = 1
    page = KeysetPage(rows=rows, has_next=has_next, has_previous=has_previous, first_position=first, total=total)
    page.is_last = not has_next
    if rows:
        head, tail = rows[0], rows[-1]
        last_pos = page.last_position
        page.next_cursor = Cursor.encode(getattr(tail, sort_field), tail.pk, last_pos)
        page.previous_cursor = Cursor.encode(getattr(head, sort_field), head.pk, first)
    return page


# Preferences and downloads -----------------------------------------------------------------------


def hidden_columns(user, organization, kind, default):
    pref = ReportPreference.objects.filter(user=user, organization=organization, report=kind).only("hidden_columns").first()
    return list(default) if pref is None else list(pref.hidden_columns)


def exports_for(organization):
    return Export.objects.filter(organization=organization).select_related("created_by")


def live_exports(organization, now):
    return exports_for(organization).filter(expires_at__gt=now)


def running_exports(organization, now):
    return live_exports(organization, now).filter(status__in=[ExportStatus.PENDING, ExportStatus.RUNNING])


# API keys ----------------------------------------------------------------------------------------


def organization_keys(organization):
    """The organization's API keys, newest first. Every lookup of a key by id goes through this, so
    another organization's key is simply not found."""
    return ApiToken.objects.filter(organization=organization).select_related("created_by")


# Recommendation and coverage ---------------------------------------------------------------------


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
    result = summary(organization, RecordKind.PSTN, start, today)
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


def _round_up(amount, step):
    step = Decimal(step)
    return (amount / step).to_integral_value(rounding=ROUND_CEILING) * step


def recommendation(organization, *, today=None) -> Recommendation:
    """How many credits to buy: burn rate of the last 28 and 90 days, days left, trigger and recharge."""
    from billing import limits

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
