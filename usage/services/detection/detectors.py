"""The four detectors: pure functions of the import's figures and the baseline, each returning Findings.

- person burst: an hour of one person's credit calls (charged, or refused) several times the same
  hour of the baseline days, with enough calls or spend to matter;
- country burst: the same for the organization's outbound calls to one destination country;
- new country: calls to a country the organization never called before;
- odd hour: calls at an hour of the day at which the organization made no call over the baseline days.

An hour is judged only once the organization has calls from `min_history_days` before it, so the
first import of an organization (or a first month of history) raises nothing.
"""

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from billing.money import ZERO

from ...models import IncidentKind

DAY = 24


@dataclass
class Finding:
    kind: str
    start: int  # first hour
    end: int  # last hour (included)
    calls: int
    spend: Decimal
    baseline_calls: Decimal = Decimal(0)  # per hour, usually
    baseline_spend: Decimal = ZERO
    person_id: int | None = None
    country: str = ""
    countries: Counter = field(default_factory=Counter)


def _baseline(figures, key_of, hour, days):
    calls, spend = 0, ZERO
    for day in range(1, days + 1):
        slot = figures.get(key_of(hour - day * DAY))
        if slot:
            calls += slot[0]
            spend += slot[1]
    return Decimal(calls) / days, spend / days


def _judged(thresholds, history, hour):
    return history is not None and hour >= history + thresholds.min_history_days * DAY


def person_bursts(thresholds, history, person_hours, person_baseline) -> list[Finding]:
    """`person_hours`: (person id, hour) -> [calls, spend, Counter of countries] of the import;
    `person_baseline`: (person id, hour) -> [calls, spend] over the baseline range, from the records."""
    found = []
    days = thresholds.baseline_days
    for (person_id, hour), (calls, spend, countries) in person_hours.items():
        if calls < thresholds.min_calls and spend < thresholds.min_spend:
            continue
        if not _judged(thresholds, history, hour):
            continue
        base_calls, base_spend = _baseline(person_baseline, lambda h, p=person_id: (p, h), hour, days)
        if thresholds.burst(calls, spend, base_calls, base_spend):
            found.append(Finding(IncidentKind.PERSON_BURST, hour, hour, calls, spend, base_calls, base_spend, person_id,
                                 countries.most_common(1)[0][0], Counter(countries)))
    return found


def country_bursts(thresholds, history, import_countries, figures) -> list[Finding]:
    """`import_countries`: the (hour, country) keys of the import; `figures`: (hour, country) ->
    [calls, spend] from HourlyCalls (this import included) over the hours and their baseline days."""
    found = []
    days = thresholds.baseline_days
    for hour, country in import_countries:
        if not country or not _judged(thresholds, history, hour):
            continue
        calls, spend = figures.get((hour, country), (0, ZERO))
        if calls < thresholds.min_calls and spend < thresholds.min_spend:
            continue  # not enough to matter, whatever the baseline
        base_calls, base_spend = _baseline(figures, lambda h, c=country: (h, c), hour, days)
        if thresholds.burst(calls, spend, base_calls, base_spend):
            found.append(Finding(IncidentKind.COUNTRY_BURST, hour, hour, calls, spend, base_calls, base_spend, country=country))
    return found


def new_countries(thresholds, history, import_countries, figures, first_hours) -> list[Finding]:
    """Countries whose first hour ever is in this import, with at least `new_country_min_calls` calls."""
    hours_of = defaultdict(list)
    for hour, country in import_countries:
        if country:
            hours_of[country].append(hour)
    found = []
    for country, hours in hours_of.items():
        first = min(hours)
        if first_hours.get(country, first) < first or not _judged(thresholds, history, first):
            continue
        calls = sum(figures.get((h, country), (0, ZERO))[0] for h in hours)
        spend = sum((figures.get((h, country), (0, ZERO))[1] for h in hours), ZERO)
        if calls >= thresholds.new_country_min_calls:
            found.append(Finding(IncidentKind.NEW_COUNTRY, first, max(hours), calls, spend, country=country))
    return found


def odd_hours(thresholds, history, import_hours, figures) -> list[Finding]:
    """Hours of the import with calls at an hour of the day without any call over the baseline days;
    consecutive ones are one finding."""
    totals = defaultdict(lambda: [0, ZERO])
    for (hour, _country), (calls, spend) in figures.items():
        slot = totals[hour]
        slot[0] += calls
        slot[1] += spend
    days = thresholds.baseline_days
    odd = []
    for hour in sorted(import_hours):
        calls, spend = totals.get(hour, (0, ZERO))
        if calls < thresholds.odd_hour_min_calls or not _judged(thresholds, history, hour):
            continue
        if any(totals.get(hour - day * DAY, (0,))[0] for day in range(1, days + 1)):
            continue
        if odd and odd[-1].end == hour - 1:
            odd[-1].end = hour
            odd[-1].calls += calls
            odd[-1].spend += spend
        else:
            odd.append(Finding(IncidentKind.ODD_HOUR, hour, hour, calls, spend))
    return odd
