"""The report "Where the credits go": charged spend of a range grouped by department, cost center,
person, destination country or call type, read from the totals the import keeps (SpendTotal), never
from the records: whole months from the month rows, the days at the range's edges from the day rows
(`span`), one query per grouping.

Department and cost center are the person's now (Person.department, Person.cost_center): the totals
are summed per person, then rolled up by the people's departments or cost centers (a filter on them
joins the person; a record without a person has id 0). Filters narrow any grouping to one department, cost center, person,
country or call type (the drill-down); a person's row leads to their calls in the usage report.
"""

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from functools import reduce
from operator import or_

from django.db.models import BigIntegerField, BooleanField, Case, DecimalField, F, Q, Sum, Value, When

from billing.money import ZERO, to_money

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


def month_days(first: date) -> int:
    return (next_month(first) - first).days


def span(start: date, end: date, month_period=SpendTotal.MONTH):
    """(rows to add, rows to take away) that sum to [start, end] exactly. A whole calendar month is its
    month row; a month the range covers in part is its days inside, or, when more than half of it is
    inside, its month row less its days outside (so that no edge reads more than half a month of day
    rows). `month_period` is MONTH, or PERSON_MONTH when the reading needs no country or call type."""
    add, take = [], []
    month = start.replace(day=1)
    while month <= end:
        after = next_month(month)
        low, high = max(start, month), min(end, after - timedelta(days=1))
        inside = (high - low).days + 1
        if inside * 2 > month_days(month):
            add.append(Q(period=month_period, day=month))
            if low > month:
                take.append(Q(period=SpendTotal.DAY, day__gte=month, day__lt=low))
            if high < after - timedelta(days=1):
                take.append(Q(period=SpendTotal.DAY, day__gt=high, day__lt=after))
        else:
            add.append(Q(period=SpendTotal.DAY, day__gte=low, day__lte=high))
        month = after
    return reduce(or_, add), (reduce(or_, take) if take else None)


def spend_totals(organization, start, end, filters, month_period=SpendTotal.MONTH):
    """The SpendTotal rows of the range that the filters let through (a queryset, not yet read), with
    `subtract` set on the rows that count negatively (see `span`)."""
    add, take = span(start, end, month_period)
    if take is None:
        rows = SpendTotal.objects.filter(add, organization=organization).annotate(subtract=Value(False))
    else:
        rows = SpendTotal.objects.filter(add | take, organization=organization).annotate(
            subtract=Case(When(take, then=Value(True)), default=Value(False), output_field=BooleanField())
        )
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


def signed(field):
    """The sum of `field` with the rows to take away counted negatively."""
    model_field = SpendTotal._meta.get_field(field)
    if isinstance(model_field, DecimalField):
        output = DecimalField(max_digits=model_field.max_digits, decimal_places=model_field.decimal_places)
    else:
        output = BigIntegerField()
    return Sum(Case(When(subtract=True, then=F(field) * -1), default=F(field), output_field=output))


def _int(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return -1


MANY_KEYS = 500
SUMS = {"n": signed("records"), "secs": signed("seconds"), "amount": signed("charge")}


def allocation(organization, start: date, end: date, group: str = "department", filters=None) -> Allocation:
    filters = {k: v for k, v in (filters or {}).items() if k in FILTERS and v}
    group = group if group in GROUPS else "department"
    result = Allocation(organization.pk, start, end, group, filters, currency=organization.currency)
    # Without a country or call type to read, whole months come from the rows per person and month.
    coarse = group in ("person", "department", "cost_center") and not filters.get("country") and not filters.get("call_type")
    base = spend_totals(organization, start, end, filters, SpendTotal.PERSON_MONTH if coarse else SpendTotal.MONTH)
    rows = {}
    if group in ("person", "department", "cost_center"):
        # Summed per person first (an integer key: the cheapest grouping of many rows), then the people
        # read once and rolled up here; joining the people before grouping costs more on a long range.
        by_person = list(base.values("person_id").annotate(**SUMS).order_by())
        keys = [r["person_id"] for r in by_person if r["person_id"]]
        people = Person.objects.filter(organization=organization)
        if len(keys) <= MANY_KEYS:
            people = people.filter(pk__in=keys)  # else all of them: cheaper than a list of thousands of ids
        fields = ("pk", "upn", "display_name", "department", "cost_center") if group == "person" else ("pk", group)
        people = {p["pk"]: p for p in people.values(*fields)}
        for r in by_person:
            person = people.get(r["person_id"])
            if group == "person":
                if person is None:
                    key, label, detail, upn = NONE, NONE_LABELS["person"], "", ""
                else:
                    key, label, upn = str(person["pk"]), person["display_name"] or person["upn"], person["upn"]
                    detail = " · ".join(x for x in (upn, person["department"], person["cost_center"]) if x)
                row = rows.setdefault(key, AllocationRow(key, label, detail=detail, upn=upn))
            else:
                value = (person or {}).get(group, "")
                row = rows.setdefault(value or NONE, AllocationRow(value or NONE, value or NONE_LABELS[group]))
            _add(row, r)
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
    row.charge += to_money(r["amount"] or ZERO)  # whole cents (SQLite sums decimals as floats)


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
    """Everything charged in the range (the same rows, no grouping)."""
    return spend_totals(organization, start, end, {}).aggregate(t=signed("charge"))["t"] or ZERO
