"""The report "Where the credits go": charged spend of a range grouped by department, cost center,
person, destination country or call type, read from the totals the import keeps (SpendTotal), never
from the records: whole months from the month rows, the days at the range's edges from the day rows
(`span`), one query per grouping.

Department and cost center are the person's now (Person.department, Person.cost_center), joined to
the totals (LEFT JOIN on the person's id; a record without a person has id 0). Filters narrow any grouping to one department, cost center, person,
country or call type (the drill-down); a person's row leads to their calls in the usage report.
"""

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from django.db.models import Q, Sum

from billing.money import ZERO

from ..choices import RecordKind
from ..models import Person, SpendTotal
from .phone_numbers import country_name

GROUPS = {
    "department": "Department",
    "cost_center": "Cost center",
    "person": "Person",
    "country": "Destination country",
    "call_type": "Call type",
}
FILTERS = ("department", "cost_center", "person", "country", "call_type")
# The filter value that means "none set" (no department, no cost center, no person, no country).
NONE = "-"
NONE_LABELS = {
    "department": "No department",
    "cost_center": "No cost center",
    "person": "No user on the record",
    "country": "Unknown country",
    "call_type": "Unknown",
}


@dataclass
class AllocationRow:
    key: str  # the filter value that selects this row (NONE for "none set")
    label: str
    records: int = 0
    seconds: int = 0
    charge: Decimal = ZERO
    detail: str = ""  # e.g. a person's UPN, department and cost center
    upn: str = ""  # people only: their calls in the usage report
    kind: str = RecordKind.PSTN  # call types only: calls or SMS
    share: float = 0.0  # percent of the range's charged spend

    @property
    def minutes(self):
        return round(self.seconds / 60) if self.kind == RecordKind.PSTN else self.seconds


@dataclass
class Allocation:
    organization_id: int
    start: date
    end: date
    group: str
    filters: dict
    rows: list = field(default_factory=list)
    records: int = 0
    charge: Decimal = ZERO
    currency: str = "USD"
    filter_labels: list = field(default_factory=list)  # (name, label of the value) of the filters applied

    @property
    def group_label(self):
        return GROUPS[self.group]


def call_type_key(kind, call_type):
    return f"sms:{call_type}" if kind == RecordKind.SMS else call_type


def call_type_label(kind, call_type):
    if kind == RecordKind.SMS:
        return f"SMS {call_type}"
    return call_type or NONE_LABELS["call_type"]


def next_month(day: date) -> date:
    return (day.replace(day=1) + timedelta(days=32)).replace(day=1)


def span(start: date, end: date) -> Q:
    """The rows that add up to [start, end] exactly: month rows for the whole calendar months inside
    it, day rows for the days before the first and after the last of them."""
    first_whole = start if start.day == 1 else next_month(start)
    after_whole = next_month(end) if next_month(end) - timedelta(days=1) == end else end.replace(day=1)
    if first_whole >= after_whole:  # no whole month inside: days only
        return Q(period=SpendTotal.DAY, day__gte=start, day__lte=end)
    q = Q(period=SpendTotal.MONTH, day__gte=first_whole, day__lt=after_whole)
    if start < first_whole:
        q |= Q(period=SpendTotal.DAY, day__gte=start, day__lt=first_whole)
    if after_whole <= end:
        q |= Q(period=SpendTotal.DAY, day__gte=after_whole, day__lte=end)
    return q


def spend_totals(organization, start, end, filters):
    """The SpendTotal rows of the range that the filters let through (a queryset, not yet read)."""
    rows = SpendTotal.objects.filter(span(start, end), organization=organization)
    person = filters.get("person")
    if person:
        rows = rows.filter(person_id=0 if person == NONE else _int(person))
    country = filters.get("country")
    if country:
        rows = rows.filter(country="" if country == NONE else country)
    call_type = filters.get("call_type")
    if call_type:
        kind, _, code = call_type.rpartition(":")
        rows = rows.filter(kind=RecordKind.SMS if kind == "sms" else RecordKind.PSTN, call_type=code)
    for name in ("department", "cost_center"):  # the person's, through a join (no list of ids)
        value = filters.get(name)
        if value == NONE:
            rows = rows.filter(Q(**{f"person__{name}": ""}) | Q(**{f"person__{name}__isnull": True}))
        elif value:
            rows = rows.filter(**{f"person__{name}": value})
    return rows


def _int(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return -1


SUMS = {"n": Sum("records"), "secs": Sum("seconds"), "amount": Sum("charge")}


def allocation(organization, start: date, end: date, group: str = "department", filters=None) -> Allocation:
    filters = {k: v for k, v in (filters or {}).items() if k in FILTERS and v}
    group = group if group in GROUPS else "department"
    result = Allocation(organization.pk, start, end, group, filters, currency=organization.currency)
    base = spend_totals(organization, start, end, filters)
    rows = {}
    if group == "person":
        # One query: the sums per person with the person's names, department and cost center (LEFT JOIN).
        fields = ("person_id", "person__upn", "person__display_name", "person__department", "person__cost_center")
        for r in base.values(*fields).annotate(**SUMS).order_by():
            if r["person__upn"] is None:
                key, label, detail, upn = NONE, NONE_LABELS["person"], "", ""
            else:
                key, label, upn = str(r["person_id"]), r["person__display_name"] or r["person__upn"], r["person__upn"]
                detail = " · ".join(x for x in (upn, r["person__department"], r["person__cost_center"]) if x)
            _add(rows.setdefault(key, AllocationRow(key, label, detail=detail, upn=upn)), r)
    elif group in ("department", "cost_center"):
        for r in base.values(f"person__{group}").annotate(**SUMS).order_by():
            value = r[f"person__{group}"] or ""
            _add(rows.setdefault(value or NONE, AllocationRow(value or NONE, value or NONE_LABELS[group])), r)
    elif group == "country":
        for r in base.values("country").annotate(**SUMS).order_by():
            code = r["country"]
            row = rows.setdefault(code or NONE, AllocationRow(code or NONE, f"{country_name(code)} ({code})" if code else NONE_LABELS["country"]))
            _add(row, r)
    else:
        for r in base.values("kind", "call_type").annotate(**SUMS).order_by():
            key = call_type_key(r["kind"], r["call_type"])
            row = rows.setdefault(key, AllocationRow(key, call_type_label(r["kind"], r["call_type"]), kind=r["kind"]))
            _add(row, r)
    result.rows = sorted(rows.values(), key=lambda row: (-row.charge, row.label.lower()))
    result.records = sum(row.records for row in result.rows)
    result.charge = sum((row.charge for row in result.rows), ZERO)
    for row in result.rows:
        row.share = float(row.charge * 100 / result.charge) if result.charge else 0.0
    result.filter_labels = _filter_labels(organization, filters)
    return result


def _add(row, r):
    row.records += r["n"] or 0
    row.seconds += r["secs"] or 0
    row.charge += r["amount"] or ZERO


def _filter_labels(organization, filters):
    labels = []
    for name in FILTERS:
        value = filters.get(name)
        if not value:
            continue
        if value == NONE:
            text = NONE_LABELS[name]
        elif name == "person":
            person = Person.objects.filter(organization=organization, pk=_int(value)).values_list("display_name", "upn").first()
            text = (person[0] or person[1]) if person else "Unknown person"
        elif name == "country":
            text = f"{country_name(value)} ({value})"
        elif name == "call_type":
            kind, _, code = value.rpartition(":")
            text = call_type_label(RecordKind.SMS if kind == "sms" else RecordKind.PSTN, code)
        else:
            text = value
        labels.append((name, GROUPS[name], text))
    return labels


def ledger_total(organization, start: date, end: date) -> Decimal:
    """Everything charged in the range, for the page's total (the same rows, no grouping)."""
    return SpendTotal.objects.filter(span(start, end), organization=organization).aggregate(t=Sum("charge"))["t"] or ZERO
