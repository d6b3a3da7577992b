"""SpendWatch: what an import hands to detection. While rating, `add()` keeps two small tallies of the
outbound calls (per hour and country; per person, hour and country for credit calls); at the end,
`finish()` adds the first to HourlyCalls, reads the baselines in a handful of queries, runs the
detectors and records the incidents, in the import's transaction."""

from collections import Counter
from datetime import date

from billing.money import ZERO

from .baseline import batch_person_hours, first_hours, history_start, hourly_figures, person_figures, save_hourly
from .detectors import DAY, country_bursts, new_countries, odd_hours, person_bursts
from .incidents import group_findings, record_incidents
from .thresholds import current

_OUTBOUND = "Outbound"
_CREDIT = frozenset({"charged", "refused"})


# Hours since 1970-01-01 00:00 UTC, from a date's ordinal: cheaper than datetime.timestamp() (a third
# of the per-call cost), and the import's times are always UTC (cleaning makes them so).
_EPOCH_HOURS = date(1970, 1, 1).toordinal() * 24
# One integer key per person and hour (hours since 1970 stay under a million until 2084).
_PERSON_KEY = 1_000_000
# Person-hours tallied in memory at most (a few hundred bytes each). A year of calls by thousands of
# people is nearly one person-hour per call, so past this the tallies are dropped and the import's own
# records are read back at the end instead (one grouped query): the import's memory stays flat.
PERSON_HOURS_KEPT = 50_000


class SpendWatch:
    """The tallies are plain dictionaries of numbers and strings (no list per entry): the garbage
    collector does not follow them, so a year of tallies does not slow the rest of the import down."""

    def __init__(self, organization, batch_id):
        self.organization = organization
        self.batch_id = batch_id
        # (hour, country) -> calls, seconds, charge
        self.calls, self.seconds, self.charges = {}, {}, {}
        # person id * _PERSON_KEY + hour -> credit calls, charge, first country; {other country: calls} (rare)
        self.person_calls, self.person_charges, self.person_country, self.person_others = {}, {}, {}, {}
        self.overflowed = False
        self.add = _tally(self)

    def trim(self):
        """After each chunk: past PERSON_HOURS_KEPT, the person tallies are dropped (see there)."""
        if len(self.person_calls) > PERSON_HOURS_KEPT:
            self.overflowed = True
            for tally in (self.person_calls, self.person_charges, self.person_country, self.person_others):
                tally.clear()

    @property
    def by_country(self):
        """(hour, country) -> [calls, seconds, charge]."""
        charges = self.charges
        return {key: [calls, self.seconds[key], charges.get(key, ZERO)] for key, calls in self.calls.items()}

    def person_hours(self):
        """(person id, hour, calls, charge, Counter of countries) of every person-hour of credit calls."""
        charges, first, others = self.person_charges, self.person_country, self.person_others
        for key, calls in self.person_calls.items():
            person_id, hour = divmod(key, _PERSON_KEY)
            yield person_id, hour, calls, charges.get(key, ZERO), first[key], others.get(key)

    def person_candidates(self, thresholds, first_hour, last_hour):
        """(person id, hour) -> [credit calls, charge, Counter of countries] of the import's person-hours
        that reach a threshold: from the tallies, or from the import's records once they overflowed."""
        if self.overflowed:
            return batch_person_hours(self.organization, self.batch_id, first_hour, last_hour,
                                      min_calls=thresholds.min_calls, min_spend=thresholds.min_spend)
        candidates = {}
        for person_id, hour, calls, charge, country, others in self.person_hours():
            if calls >= thresholds.min_calls or charge >= thresholds.min_spend:
                where = Counter(others) if others else Counter()
                where[country] = calls - sum(where.values())
                candidates[(person_id, hour)] = [calls, charge, where]
        return candidates

    def finish(self):
        """Save the hourly figures, detect, record incidents; returns the incidents opened or added to."""
        if not self.calls:
            return []
        thresholds = current()
        organization = self.organization
        save_hourly(organization, self.by_country)
        if not thresholds.enabled:
            return []
        history = history_start(organization)
        hours = {hour for hour, _country in self.calls}
        days = thresholds.baseline_days
        figures = hourly_figures(organization, min(hours) - days * DAY, max(hours))
        keys = list(self.calls)
        findings = country_bursts(thresholds, history, keys, figures)
        countries = {country for _hour, country in keys if country}
        findings += new_countries(thresholds, history, keys, figures, first_hours(organization, countries))
        findings += odd_hours(thresholds, history, hours, figures)
        candidates = self.person_candidates(thresholds, min(hours), max(hours))
        if candidates:
            first = min(hour for _person, hour in candidates) - days * DAY
            last = max(hour for _person, hour in candidates) - DAY
            person_baseline = person_figures(organization, {p for p, _h in candidates}, first, last)
            findings += person_bursts(thresholds, history, candidates, person_baseline)
        if not findings:
            return []
        return record_incidents(organization, group_findings(findings), batch_id=self.batch_id, thresholds=thresholds)


def _tally(watch):
    """`add(record, outcome)` for one rated call: the import calls it for every call, so it is a closure
    over the tallies' bound methods (no attribute lookups) and does as little as it can."""
    calls, seconds, charges = watch.calls, watch.seconds, watch.charges
    calls_get, seconds_get, charges_get = calls.get, seconds.get, charges.get
    person_calls, person_charges, person_country, person_others = (
        watch.person_calls, watch.person_charges, watch.person_country, watch.person_others
    )
    person_calls_get, person_charges_get = person_calls.get, person_charges.get

    def add(record, outcome):
        if record["direction"] != _OUTBOUND:
            return
        moment = record["start_time"]
        hour = moment.toordinal() * 24 + moment.hour - _EPOCH_HOURS
        country = record["external_country"]
        key = (hour, country)
        calls[key] = calls_get(key, 0) + 1
        seconds[key] = seconds_get(key, 0) + record["duration_seconds"]
        charge = outcome.charge
        if charge:
            charges[key] = charges_get(key, ZERO) + charge
        if outcome.rating in _CREDIT:
            person_id = record["person_id"]
            if person_id is not None:
                mine = person_id * _PERSON_KEY + hour
                count = person_calls_get(mine)
                if count is None:
                    person_calls[mine] = 1
                    person_country[mine] = country
                else:
                    person_calls[mine] = count + 1
                    if country != person_country[mine]:  # rare: other countries of the hour are counted aside
                        others = person_others.setdefault(mine, {})
                        others[country] = others.get(country, 0) + 1
                if charge:
                    person_charges[mine] = person_charges_get(mine, ZERO) + charge

    return add
