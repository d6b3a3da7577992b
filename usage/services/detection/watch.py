"""SpendWatch: what an import hands to detection. While rating, `add()` keeps two small tallies of the
outbound calls (per hour and country; per person, hour and country for credit calls); at the end,
`finish()` adds the first to HourlyCalls, reads the baselines in a handful of queries, runs the
detectors and records the incidents, in the import's transaction."""

from collections import Counter, defaultdict
from datetime import date

from billing.money import ZERO

from . import baseline, detectors
from .incidents import group_findings, record_incidents
from .thresholds import current

_OUTBOUND = "Outbound"
_CREDIT = frozenset({"charged", "refused"})


def _country_slot():
    return [0, 0, ZERO]


# Hours since 1970-01-01 00:00 UTC, from a date's ordinal: cheaper than datetime.timestamp() (a third
# of the per-call cost), and the import's times are always UTC (cleaning makes them so).
_EPOCH_HOURS = date(1970, 1, 1).toordinal() * 24
# One integer key per person and hour (hours since 1970 stay under a million until 2084).
_PERSON_KEY = 1_000_000


class SpendWatch:
    def __init__(self, organization, batch_id):
        self.organization = organization
        self.batch_id = batch_id
        self.by_country = defaultdict(_country_slot)  # (hour, country) -> [calls, seconds, charge]
        # person id * _PERSON_KEY + hour -> [credit calls, charge, first country, {other country: calls} or None]
        self.by_person = {}
        self.add = _tally(self.by_country, self.by_person)

    def finish(self):
        """Save the hourly figures, detect, record incidents; returns the incidents opened or added to."""
        if not self.by_country:
            return []
        thresholds = current()
        organization = self.organization
        baseline.save_hourly(organization, self.by_country)
        if not thresholds.enabled:
            return []
        history = baseline.history_start(organization)
        hours = {hour for hour, _country in self.by_country}
        days = thresholds.baseline_days
        figures = baseline.hourly_figures(organization, min(hours) - days * detectors.DAY, max(hours))
        keys = list(self.by_country)
        findings = detectors.country_bursts(thresholds, history, keys, figures)
        countries = {country for _hour, country in keys if country}
        findings += detectors.new_countries(thresholds, history, keys, figures, baseline.first_hours(organization, countries))
        findings += detectors.odd_hours(thresholds, history, hours, figures)
        candidates = {}
        for key, (calls, charge, country, others) in self.by_person.items():
            if calls >= thresholds.min_calls or charge >= thresholds.min_spend:
                where = Counter(others) if others else Counter()
                where[country] = calls - sum(where.values())
                candidates[divmod(key, _PERSON_KEY)] = [calls, charge, where]
        if candidates:
            first = min(hour for _person, hour in candidates) - days * detectors.DAY
            last = max(hour for _person, hour in candidates) - detectors.DAY
            person_baseline = baseline.person_figures(organization, {p for p, _h in candidates}, first, last)
            findings += detectors.person_bursts(thresholds, history, candidates, person_baseline)
        if not findings:
            return []
        return record_incidents(organization, group_findings(findings), batch_id=self.batch_id, thresholds=thresholds)


def _tally(by_country, by_person):
    """`add(record, outcome)` for one rated call: the import calls it for every call, so it is a closure
    over the two tallies (no attribute lookups) and does as little as it can."""

    def add(record, outcome):
        if record["direction"] != _OUTBOUND:
            return
        moment = record["start_time"]
        hour = moment.toordinal() * 24 + moment.hour - _EPOCH_HOURS
        country = record["external_country"]
        slot = by_country[(hour, country)]
        slot[0] += 1
        slot[1] += record["duration_seconds"]
        charge = outcome.charge
        if charge:
            slot[2] += charge
        if outcome.rating in _CREDIT:
            person_id = record["person_id"]
            if person_id is not None:
                key = person_id * _PERSON_KEY + hour
                mine = by_person.get(key)
                if mine is None:
                    by_person[key] = [1, charge, country, None]
                    return
                mine[0] += 1
                if charge:
                    mine[1] += charge
                if country != mine[2]:  # rare: other countries in the same hour are counted aside
                    others = mine[3]
                    if others is None:
                        others = mine[3] = {}
                    others[country] = others.get(country, 0) + 1

    return add


