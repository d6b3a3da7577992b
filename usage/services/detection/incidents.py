"""From findings to incidents: findings about the same burst become one incident (a person's burst
carries the country, new-country and odd-hour findings of its calls), an open incident takes what a
later import finds about the same person (or country, or odd hours) without a new alert, and each new
incident is announced once (SpendIncidentOpened: the alert to the admins in the billing roles).
Also the admins' answers that are detection's own: dismissing an incident, and marking it actioned."""

from collections import Counter
from decimal import Decimal

from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from billing.money import format_money, to_money

from ...events import SpendIncidentOpened, announce
from ...models import Incident, IncidentKind, IncidentStatus, Person
from .baseline import moment_of
from .detectors import Finding

PRIORITY = [IncidentKind.PERSON_BURST, IncidentKind.COUNTRY_BURST, IncidentKind.NEW_COUNTRY, IncidentKind.ODD_HOUR]


class Group:
    """The findings of one import about one burst."""

    def __init__(self, first: Finding):
        self.findings = [first]
        self.person_id = first.person_id
        self.country = first.country
        self.kind = first.kind
        self.start, self.end = first.start, first.end
        self.calls, self.spend = first.calls, first.spend
        self.baselines = [(first.baseline_calls, first.baseline_spend)] if first.kind == IncidentKind.PERSON_BURST else []
        self.countries = Counter(first.countries)

    def overlaps(self, finding, slack=6):
        return finding.start <= self.end + slack and finding.end >= self.start - slack

    def add(self, finding, *, counts=True):
        self.findings.append(finding)
        self.start, self.end = min(self.start, finding.start), max(self.end, finding.end)
        if counts:
            self.calls += finding.calls
            self.spend += finding.spend
            if finding.kind == IncidentKind.PERSON_BURST:
                self.baselines.append((finding.baseline_calls, finding.baseline_spend))
                self.countries.update(finding.countries)
        if PRIORITY.index(finding.kind) < PRIORITY.index(self.kind):
            self.kind = finding.kind

    @property
    def baseline(self):
        if self.baselines:
            return (sum(b[0] for b in self.baselines) / len(self.baselines), sum(b[1] for b in self.baselines) / len(self.baselines))
        first = self.findings[0]
        return first.baseline_calls, first.baseline_spend


def collapse(findings) -> list[Finding]:
    """Consecutive hours of the same burst (same detector, person and country) are one finding."""
    merged = []
    for finding in sorted(findings, key=lambda f: (f.kind, f.person_id or 0, f.country, f.start)):
        last = merged[-1] if merged else None
        if (
            last is not None
            and finding.kind in (IncidentKind.PERSON_BURST, IncidentKind.COUNTRY_BURST)
            and (last.kind, last.person_id, last.country) == (finding.kind, finding.person_id, finding.country)
            and finding.start == last.end + 1
        ):
            hours = last.end - last.start + 1
            last.baseline_calls = (last.baseline_calls * hours + finding.baseline_calls) / (hours + 1)
            last.baseline_spend = (last.baseline_spend * hours + finding.baseline_spend) / (hours + 1)
            last.end = finding.end
            last.calls += finding.calls
            last.spend += finding.spend
            last.countries.update(finding.countries)
            continue
        merged.append(finding)
    return merged


def group_findings(findings) -> list[Group]:
    """A person's bursts are one group; a country's or an odd hour's findings join the person group
    whose calls they are (same country, overlapping hours), else a group of their own."""
    findings = collapse(findings)
    groups, by_person = [], {}
    for finding in sorted(findings, key=lambda f: (f.start, f.person_id or 0)):
        if finding.kind != IncidentKind.PERSON_BURST:
            continue
        group = by_person.get(finding.person_id)
        if group is None:
            group = by_person[finding.person_id] = Group(finding)
            groups.append(group)
        else:
            group.add(finding)
    for group in by_person.values():
        group.country = group.countries.most_common(1)[0][0] if group.countries else group.country
    for finding in sorted(findings, key=lambda f: (PRIORITY.index(f.kind), f.start)):
        if finding.kind == IncidentKind.PERSON_BURST:
            continue
        home = next(
            (g for g in groups if g.person_id is not None and g.overlaps(finding) and (not finding.country or finding.country in g.countries)),
            None,
        )
        if home is None:
            home = next((g for g in groups if g.person_id is None and g.country == finding.country and g.overlaps(finding, DAY_SLACK)), None)
            if home is None:
                groups.append(Group(finding))
                continue
            # A country's burst and its new-country finding count the same calls: the larger figure stays.
            home.add(finding, counts=False)
            home.calls, home.spend = max(home.calls, finding.calls), max(home.spend, finding.spend)
            continue
        home.add(finding, counts=False)
    return groups


DAY_SLACK = 24


def describe(finding, currency, people) -> str:
    """One sentence about a finding, for the incident page and the alert."""
    start, end = moment_of(finding.start), moment_of(finding.end + 1)
    when = f"{start:%d %b %Y %H:%M}–{end:%H:%M} UTC"
    spend = format_money(to_money(finding.spend), currency)
    if finding.kind == IncidentKind.PERSON_BURST:
        who = people.get(finding.person_id, "A person")
        return (
            f"{when}: {finding.calls:,} calls by {who} charged to credits or refused ({spend} charged), usually "
            f"{finding.baseline_calls:.1f} calls and {format_money(to_money(finding.baseline_spend), currency)} an hour at those hours."
        )
    if finding.kind == IncidentKind.COUNTRY_BURST:
        return (
            f"{when}: {finding.calls:,} calls to {finding.country} ({spend} charged), usually {finding.baseline_calls:.1f} calls and "
            f"{format_money(to_money(finding.baseline_spend), currency)} an hour at those hours."
        )
    if finding.kind == IncidentKind.NEW_COUNTRY:
        return f"From {start:%d %b %Y %H:%M} UTC: {finding.calls:,} calls to {finding.country}, a country the organization had never called."
    return f"{when}: {finding.calls:,} calls at an hour of the day the organization made no call in the baseline days."


def record_incidents(organization, groups, *, batch_id, thresholds) -> list[Incident]:
    """Open an incident per new group, or add to the open one about the same person (country, odd hours);
    announce only the new ones. In the import's transaction."""
    if not groups:
        return []
    now = timezone.now()
    currency = organization.currency
    person_ids = {g.person_id for g in groups if g.person_id}
    people = dict(Person.objects.filter(organization=organization, pk__in=person_ids).values_list("pk", "upn"))
    open_ones = list(Incident.objects.select_for_update().filter(organization=organization, status=IncidentStatus.OPEN))
    touched = []
    for group in groups:
        signals = [describe(f, currency, people) for f in sorted(group.findings, key=lambda f: (f.start, PRIORITY.index(f.kind)))]
        incident = _open_match(open_ones, group)
        base_calls, base_spend = group.baseline
        if incident is not None:
            incident.window_start = min(incident.window_start, moment_of(group.start))
            incident.window_end = max(incident.window_end, moment_of(group.end + 1))
            incident.calls += group.calls
            incident.spend = to_money(incident.spend + group.spend)
            incident.signals = (incident.signals + [s for s in signals if s not in incident.signals])[-50:]
            incident.imports += 1
            incident.last_batch_id = batch_id
            incident.updated_at = now
            incident.save()
            touched.append(incident)
            continue
        incident = Incident.objects.create(
            organization=organization,
            kind=group.kind,
            person_id=group.person_id,
            upn=people.get(group.person_id, ""),
            country=group.country or "",
            window_start=moment_of(group.start),
            window_end=moment_of(group.end + 1),
            calls=group.calls,
            spend=to_money(group.spend),
            baseline_calls=Decimal(base_calls).quantize(Decimal("0.01")),
            baseline_spend=Decimal(base_spend).quantize(Decimal("0.0001")),
            signals=signals[:50],
            detected_at=now,
            updated_at=now,
            last_batch_id=batch_id,
        )
        open_ones.append(incident)
        touched.append(incident)
        announce(
            SpendIncidentOpened(
                organization=organization,
                incident_id=incident.pk,
                kind_label=incident.get_kind_display(),
                about=incident.subject,
                country=incident.country,
                window_start=incident.window_start,
                window_end=incident.window_end,
                calls=incident.calls,
                spend=incident.spend,
                signals=tuple(incident.signals[:5]),
                link_path=reverse("incidents:detail", args=[incident.pk]),
            )
        )
    return touched


def _open_match(open_ones, group):
    for incident in open_ones:
        if group.person_id is not None:
            if incident.person_id == group.person_id:
                return incident
        elif incident.person_id is None and incident.country == (group.country or "") and (
            group.country or incident.kind == group.kind
        ):
            return incident
    return None


def _resolve(organization, incident_id, *, actor, status, resolution):
    with transaction.atomic():
        incident = Incident.objects.select_for_update().get(organization=organization, pk=incident_id)
        if incident.status == IncidentStatus.ACTIONED and status == IncidentStatus.ACTIONED and incident.resolution:
            resolution = f"{incident.resolution} {resolution}"
        incident.status = status
        incident.resolved_by = actor
        incident.resolved_at = timezone.now()
        incident.resolution = resolution[:300]
        incident.updated_at = incident.resolved_at
        incident.save()
        return incident


def dismiss_incident(organization, incident_id, *, actor, note="") -> Incident:
    """Dismissed as expected: nothing is blocked; a later burst of the same person opens a new incident."""
    text = "Dismissed as expected" + (f": {note}" if note else ".")
    return _resolve(organization, incident_id, actor=actor, status=IncidentStatus.DISMISSED, resolution=text)


def mark_actioned(organization, incident_id, *, actor, resolution) -> Incident:
    """An admin acted on the incident (a block, by the spend guard): it is closed with what was done."""
    return _resolve(organization, incident_id, actor=actor, status=IncidentStatus.ACTIONED, resolution=resolution)


