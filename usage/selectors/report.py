"""The report's reads: the records of a range, the per-day totals, and the report's state (range,
filters, rows, totals) read from a query string, shared by the page and the exports.

One selector (`records`) feeds the on-screen table and every export, with the same FilterSet on top,
so an export always holds the rows on screen. The chart and totals come from the per-day totals the
import keeps (`DailyUsage`), so a year-long range costs a few hundred rows, not a million; only a
username filter, which those totals do not carry, reads the records (through their user index).
"""

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from functools import cached_property

from django.core.cache import cache
from django.db.models import Count, F, Q, Sum
from django.db.models.functions import TruncDate
from django.http import QueryDict

from billing.money import ZERO

from ..choices import COVERED_RATINGS, Rating, RecordKind
from ..filters import CallRecordFilter, SmsRecordFilter
from ..forms import ReportRangeForm
from ..models import CallRecord, DailyUsage, RatingState, ReportPreference, SmsRecord

MODELS = {RecordKind.PSTN: CallRecord, RecordKind.SMS: SmsRecord}
TIME_FIELDS = {RecordKind.PSTN: "start_time", RecordKind.SMS: "sent_time"}
FILTERSETS = {RecordKind.PSTN: CallRecordFilter, RecordKind.SMS: SmsRecordFilter}


def today_utc():
    return datetime.now(UTC).date()


def day_bounds(start: date, end: date):
    """[start 00:00 UTC, the day after end 00:00 UTC): whole UTC days, as the report shows them."""
    return datetime.combine(start, time.min, tzinfo=UTC), datetime.combine(end + timedelta(days=1), time.min, tzinfo=UTC)


def records(organization, kind, start: date, end: date):
    model = MODELS[kind]
    low, high = day_bounds(start, end)
    time_field = TIME_FIELDS[kind]
    return model.objects.filter(organization=organization, **{f"{time_field}__gte": low, f"{time_field}__lt": high})


def apply_filters(organization, kind, start: date, end: date, data):
    """The report's FilterSet on the records of the range, bound to `data`, and the rows it lets
    through (none when the filters are not valid)."""
    base = records(organization, kind, start, end)
    filterset = FILTERSETS[kind](data, queryset=base, organization=organization)
    return filterset, (filterset.qs if filterset.is_valid() else base.none())


# Chart and totals --------------------------------------------------------------------------------


# How long a range's figures stay in the cache when nothing is imported (the key changes with every import).
SUMMARY_KEPT_SECONDS = 3600


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


def usage_version(organization_id):
    """The organization's usage version, raised in the transaction of every import and retention purge
    (the only writers of its records and per-day totals); 0 before its first import."""
    version = RatingState.objects.filter(organization_id=organization_id).values_list("usage_version", flat=True).first()
    return version or 0


def summary_key(organization, kind, start, end, filters=None) -> str:
    """The cache key of a range's figures under the organization's current usage version: the same range
    and filters give the same figures until an import or a purge commits, which raises the version."""
    filters = filters or {}
    shown = sorted((name, str(value)) for name, value in filters.items() if value not in (None, ""))
    key = json.dumps([organization.pk, kind, start.isoformat(), end.isoformat(), usage_version(organization.pk), shown])
    return "usage-summary:" + hashlib.sha256(key.encode()).hexdigest()


def kept_summary(organization, kind, start, end, filters=None, *, filtered_records=None, key=None) -> Summary:
    """summary(), kept in the cache under `summary_key` (a year's range sums about 1,900 per-day rows,
    half of the report page's time). A reader that saw the old version while an import committed can
    only store figures under a key that no one asks for afterwards."""
    return cache.get_or_set(
        key or summary_key(organization, kind, start, end, filters),
        lambda: summary(organization, kind, start, end, filters, filtered_records=filtered_records),
        SUMMARY_KEPT_SECONDS,
    )


def totals(organization, kind, start, end) -> Summary:
    """The range's totals without its per-day points: one row per rating rather than per day and
    rating (what the credits and add-funds pages' coverage sentence needs, on every view of them)."""
    result = Summary(start=start, end=end, days=[], currency=organization.currency)
    rows = (
        DailyUsage.objects.filter(organization=organization, kind=kind, day__gte=start, day__lte=end)
        .values("rating")
        .annotate(n=Sum("records"), seconds=Sum("seconds"), units=Sum("units"), charged=Sum("charged_units"), charge=Sum("charge"))
    )
    for row in rows:
        _add(result, {}, None, row["rating"], row["n"], row["seconds"], row["units"], row["charged"], row["charge"], list(COVERED_RATINGS))
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


# The report's state, and the exports of it -------------------------------------------------------


class ReportState:
    """The report's range, filters, rows and totals, read from a query string; shared by the page and
    the exports, so that an export holds the rows on screen."""

    def __init__(self, organization, kind, data):
        self.kind = kind
        self.organization = organization
        has_range = any(data.get(k) for k in ("range", "start", "end"))
        self.range_form = ReportRangeForm(data if has_range else None, today=today_utc())
        self.start, self.end = self.range_form.period()
        self.filterset, self.rows = apply_filters(organization, kind, self.start, self.end, data)
        filters_valid = self.filterset.is_valid()
        self.valid = filters_valid and (not self.range_form.is_bound or self.range_form.is_valid())
        self.filters = self.filterset.form.cleaned_data if filters_valid else {}
        self.summary_key = summary_key(organization, kind, self.start, self.end, self.filters)
        self.summary = kept_summary(organization, kind, self.start, self.end, self.filters, filtered_records=self.rows, key=self.summary_key)

    @cached_property
    def sort_rows(self):
        """How many records a sort by a column without an index reads for one page: with a username,
        the user's records in the range (what the totals counted, read through the person index);
        otherwise every record of the range, since the other filters have no index of their own and
        the rows they drop are read too (usage.paging)."""
        if self.filters.get("user") or not any(self.filters.get(k) for k in ("call_type", "direction", "destination", "charged")):
            return self.summary.records
        return records_in_range(self.organization, self.kind, self.start, self.end)

    def export_parameters(self):
        return parameters_for(self.kind, self.start, self.end, self.filters)


def records_in_range(organization, kind, start, end):
    """The number of records of the range, whatever the filters, from the per-day totals."""
    daily = DailyUsage.objects.filter(organization=organization, kind=kind, day__gte=start, day__lte=end)
    return daily.aggregate(n=Sum("records"))["n"] or 0


def parameters_for(kind, start, end, filters):
    """What an export keeps of the report: its kind, range and filters (stored with a background export)."""
    return {
        "kind": kind,
        "start": start.isoformat(),
        "end": end.isoformat(),
        "filters": {k: v for k, v in filters.items() if v not in (None, "")},
    }


def export_queryset(organization, parameters):
    """The export's rows: the report's selector and FilterSet, with the stored range and filters,
    oldest first (the order in which they were rated)."""
    kind = parameters["kind"]
    start, end = date.fromisoformat(parameters["start"]), date.fromisoformat(parameters["end"])
    data = QueryDict(mutable=True)
    for key, value in parameters.get("filters", {}).items():
        data[key] = value
    _, rows = apply_filters(organization, kind, start, end, data)
    return rows.order_by(TIME_FIELDS[kind], "pk")


def hidden_columns(user, organization, kind, default):
    """The columns a person hid in a report (Edit columns), or the table's default."""
    pref = ReportPreference.objects.filter(user=user, organization=organization, report=kind).only("hidden_columns").first()
    return list(default) if pref is None else list(pref.hidden_columns)
