"""Retention: call and SMS records older than the history the pages offer leave, with the per-day figures
of their days, a small batch at a time (docs/usage.md, "Retention").

The report and "Where the credits go" reach back `HISTORY_DAYS` (a year); the operator adds
`USAGE_RETENTION_MARGIN_DAYS` (default 30). The cut-off is the UTC day `today - (HISTORY_DAYS + margin)`:
a record that starts before its midnight leaves, one at midnight or later stays.

Why batches and not monthly partitions: a partitioned table's unique constraints must include the
partition key, so UNIQUE (organization, usage_id) would become (organization, usage_id, start_time) and a
UsageId sent again with another start time would no longer be caught by the database (the import's
duplicate detection and its ON CONFLICT rely on that constraint); SQLite has no partitions at all. A daily
purge removes about 1/365 of the rows, a few thousand at a time by primary key, each batch its own short
transaction: an import or a page waits at most one batch for a row lock, and only on a row being deleted.

Kept whatever their age: the ledger and the import batches that link to it (money is never deleted), the
people, incidents and every other row that is not a per-day figure; and the calls of an open incident
(its window's calls of its person, or to its country), which leave once the incident is closed.
"""

import logging
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q

from billing.models import Organization

from ..choices import Direction
from ..forms import HISTORY_DAYS
from ..models import CallRecord, DailyUsage, HourlyCalls, Incident, IncidentStatus, PoolUsage, RatingState, SmsRecord, SpendTotal
from ..spend_guard import CapCrossing

log = logging.getLogger("usage.retention")

# Progress is logged every this many batches (and at the end of each organization).
LOG_EVERY = 20


def margin_days() -> int:
    return max(0, int(getattr(settings, "USAGE_RETENTION_MARGIN_DAYS", 30)))


def batch_rows() -> int:
    return max(1, int(getattr(settings, "USAGE_RETENTION_BATCH_ROWS", 5000)))


def today_utc() -> date:
    return datetime.now(UTC).date()


def midnight_of(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


def cutoff_day(today: date | None = None) -> date:
    """The first UTC day whose records are kept."""
    return (today or today_utc()) - timedelta(days=HISTORY_DAYS + margin_days())


@dataclass
class PurgeResult:
    cutoff: date
    dry_run: bool = False
    # table label -> rows deleted (or, in a dry run, that would be)
    deleted: dict = field(default_factory=dict)
    kept_for_incidents: int = 0
    batches: int = 0

    def add(self, label, count):
        if count:
            self.deleted[label] = self.deleted.get(label, 0) + count

    @property
    def records(self) -> int:
        return self.deleted.get("call records", 0) + self.deleted.get("SMS records", 0)


def purge_expired_usage(*, today: date | None = None, batch_size: int | None = None, dry_run: bool = False,
                        organization_ids=None) -> PurgeResult:
    """Delete, organization by organization, the records that start before the cut-off and the per-day
    figures of those days. Run again it deletes nothing more (until the next day)."""
    cutoff = cutoff_day(today)
    size = batch_size or batch_rows()
    result = PurgeResult(cutoff=cutoff, dry_run=dry_run)
    orgs = Organization.objects.order_by("pk").values_list("pk", flat=True)
    if organization_ids is not None:
        orgs = orgs.filter(pk__in=list(organization_ids))
    for org_id in orgs:
        _purge_organization(org_id, cutoff, size, result)
    log.info("usage retention: cut-off %s, %s%s", cutoff, _summary(result), " (dry run)" if dry_run else "")
    return result


def _summary(result):
    parts = [f"{count:,} {label}" for label, count in sorted(result.deleted.items())]
    kept = f"; {result.kept_for_incidents:,} calls kept for open incidents" if result.kept_for_incidents else ""
    return (", ".join(parts) or "nothing to delete") + kept


def _purge_organization(org_id, cutoff, size, result):
    before = midnight_of(cutoff)
    # Pool months and cost-allocation totals go by whole months: "Where the credits go" reads a month's
    # row less the day rows outside its range, so a month's rows all stay or all leave together.
    month = cutoff.replace(day=1)
    if not result.dry_run:
        _mark_purged(org_id, before)
    keep = _open_incident_windows(org_id, before)
    _purge_records(CallRecord, "start_time", org_id, before, keep, size, result, "call records")
    _purge_records(SmsRecord, "sent_time", org_id, before, [], size, result, "SMS records")
    figures = [
        ("per-day totals", DailyUsage.objects.filter(organization_id=org_id, day__lt=cutoff)),
        ("hourly detection figures", HourlyCalls.objects.filter(organization_id=org_id, hour__lt=before)),
        ("cost allocation totals", SpendTotal.objects.filter(organization_id=org_id, day__lt=month)),
        ("pool months", PoolUsage.objects.filter(organization_id=org_id, month__lt=month)),
        ("cap crossings", CapCrossing.objects.filter(organization_id=org_id, day__lt=cutoff)),
    ]
    for label, rows in figures:
        _purge_rows(rows, org_id, size, result, label)


def _mark_purged(org_id, before):
    """Record the cut-off before deleting: a purged record's UsageId is no longer there to be found as a
    duplicate, so an import of an old file would charge it again; imports leave out what is older.
    Imports of the organization hold its RatingState row for their whole transaction, so this waits for
    one that is running, and every later one reads the new mark."""
    with transaction.atomic(durable=True):
        RatingState.objects.get_or_create(organization_id=org_id)
        RatingState.objects.filter(organization_id=org_id).filter(
            Q(purged_before__isnull=True) | Q(purged_before__lt=before)
        ).update(purged_before=before, usage_version=F("usage_version") + 1)


def _open_incident_windows(org_id, before):
    """(start, end, person id, country) of the organization's open incidents that reach before the cut-off."""
    return list(
        Incident.objects.filter(organization_id=org_id, status=IncidentStatus.OPEN, window_start__lt=before)
        .values_list("window_start", "window_end", "person_id", "country")
    )


def _kept(row, windows) -> bool:
    """Whether a call (start, id, direction, person id, external country) is one an open incident shows:
    the same selection as usage.selectors.incidents.incident_calls."""
    start, _pk, direction, person_id, country = row
    if direction != Direction.OUTBOUND:
        return False
    for window_start, window_end, incident_person, incident_country in windows:
        if window_start <= start < window_end:
            if incident_person is not None and person_id == incident_person:
                return True
            if incident_person is None and (not incident_country or country == incident_country):
                return True
    return False


def _purge_records(model, time_field, org_id, before, windows, size, result, label):
    """Walk the organization's records before the cut-off through the (organization, time, id) index, a
    batch at a time, oldest first; the position is kept (keyset), so calls kept for an incident are
    passed over once, not read again by every batch."""
    columns = [time_field, "id"] + (["direction", "person_id", "external_country"] if model is CallRecord else [])
    rows = model.objects.filter(organization_id=org_id, **{f"{time_field}__lt": before}).order_by(time_field, "id")
    position = None
    done = 0
    while True:
        page = rows
        if position is not None:
            page = rows.filter(**{f"{time_field}__gte": position[0]}).filter(
                Q(**{f"{time_field}__gt": position[0]}) | Q(id__gt=position[1])
            )
        batch = list(page.values_list(*columns)[:size])
        if not batch:
            break
        position = batch[-1][:2]
        ids = [row[1] for row in batch if not (windows and _kept(row, windows))]
        result.kept_for_incidents += len(batch) - len(ids)
        if ids and not result.dry_run:
            with transaction.atomic(durable=True):
                _delete_ids(model, org_id, ids)
        result.add(label, len(ids))
        result.batches += 1
        done += len(ids)
        if result.batches % LOG_EVERY == 0:
            log.info("usage retention: organization %s, %s: %s deleted so far, up to %s", org_id, label, f"{done:,}", position[0])
        if len(batch) < size:
            break
    if done:
        log.info("usage retention: organization %s, %s: %s deleted", org_id, label, f"{done:,}")


def _purge_rows(rows, org_id, size, result, label):
    """Delete the rows of a per-day table by primary key, a batch per transaction."""
    if result.dry_run:
        result.add(label, rows.count())
        return
    while True:
        ids = list(rows.order_by().values_list("pk", flat=True)[:size])
        if not ids:
            return
        with transaction.atomic(durable=True):
            _delete_ids(rows.model, org_id, ids)
        result.add(label, len(ids))
        result.batches += 1
        if len(ids) < size:
            return


def _delete_ids(model, org_id, ids) -> None:
    # One DELETE ... WHERE organization_id = ... AND id IN (...): nothing points at these rows, so Django
    # deletes them without collecting them first (no signals are connected to them); the organization
    # keeps the statement on one shard (docs/scaling.md).
    model.objects.filter(organization_id=org_id, pk__in=ids).delete()
