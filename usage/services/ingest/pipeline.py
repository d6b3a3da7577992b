"""The import service: one behind the upload page, the management command and the JSON endpoint
(see the package's notes)."""

from dataclasses import dataclass, field
from decimal import Decimal
from operator import itemgetter

from django.db import DatabaseError, transaction
from django.db.models import F
from django.utils import timezone

from billing.services import charge_usage

from ...choices import RecordKind
from ...models import ImportBatch, RatingState
from ..cleaning import RowError
from ..detection import SpendWatch
from ..rating import RatingContext
from ..sources import RowSource, SourceError, from_graph_payload, open_source
from .allocation import AllocationTotals
from .checking import CheckedRows, ImportRejected, Spool, checks_before_writing, rows_of
from .copy_writer import Writer
from .daily_totals import DailyTotals
from .duplicates import CHECK_CHUNKS, existing_ids, existing_span, refresh_statistics
from .kinds import CALLS, KINDS


@dataclass
class ImportResult:
    batch: ImportBatch
    rows_read: int
    created: int
    skipped: int
    charged: int
    refused: int
    charged_total: Decimal
    ignored_columns: list = field(default_factory=list)
    # Of `skipped`: records older than the history the retention purge keeps (docs/usage.md, Retention).
    expired: int = 0

    @property
    def duplicates(self):
        return self.skipped - self.expired

    def as_dict(self):
        return {
            "batch": self.batch.pk,
            "rows_read": self.rows_read,
            "created": self.created,
            "skipped_duplicates": self.duplicates,
            "skipped_expired": self.expired,
            "charged": self.charged,
            "refused": self.refused,
            "charged_total": str(self.charged_total),
            "currency": self.batch.organization.currency,
            "ignored_columns": self.ignored_columns,
        }


def ingest(organization, source: RowSource, *, origin=ImportBatch.Source.UPLOAD, actor=None, filename="", reopen=None) -> ImportResult:
    """Import every row of `source` for `organization`, or none of them (ImportRejected).

    A first pass checks for duplicates only where the organization already has records (see
    `existing_span`); a UsageId repeated far apart in the same file then meets the unique
    constraint, and the import starts again checking every chunk: from `reopen()` (a fresh source),
    or from the spool where the rows were checked before the transaction (see checking.py).
    """
    kind = KINDS[source.kind]
    spool = None
    try:
        chunks = CheckedRows(kind, source)
        if checks_before_writing():
            chunks = spool = Spool(chunks)
        refresh_statistics(kind, organization)
        result = None
        with transaction.atomic(durable=True):
            RatingState.objects.get_or_create(organization=organization)
            RatingState.objects.select_for_update(no_key=True).filter(organization=organization).update(
                last_import_at=timezone.now(), usage_version=F("usage_version") + 1
            )
            # Read under the lock the purge takes to set it: no purge of this organization starts meanwhile.
            purged_before = RatingState.objects.filter(organization=organization).values_list("purged_before", flat=True).get()
            try:
                with transaction.atomic():
                    result = _ingest_once(organization, kind, source, chunks, origin, actor, filename, careful=False, purged_before=purged_before)
            except DatabaseError as exc:
                if (spool is None and reopen is None) or not _is_unique_violation(exc):
                    raise
            if result is None:
                again = spool if spool is not None else CheckedRows(kind, reopen())
                result = _ingest_once(organization, kind, source, again, origin, actor, filename, careful=True, purged_before=purged_before)
        refresh_statistics(kind, written=result.created)
        return result
    except SourceError as exc:
        raise ImportRejected([RowError(exc.row, exc.column, exc.problem)]) from None
    except DatabaseError as exc:
        if not _is_unique_violation(exc):
            raise
        raise ImportRejected([RowError("", "UsageId", _integrity_problem(exc))]) from None
    finally:
        if spool is not None:
            spool.close()


def _is_unique_violation(exc):
    for error in (exc, exc.__cause__):
        if getattr(error, "sqlstate", None) == "23505" or "UNIQUE constraint failed" in str(error):
            return True
    return False


def _ingest_once(organization, kind, source, chunks, origin, actor, filename, *, careful, purged_before=None):
    ctx = RatingContext(organization)
    batch = ImportBatch.objects.create(
        organization=organization, kind=source.kind, source=origin, filename=(filename or source.description)[:255], created_by=actor
    )
    run = _Run(kind, organization, ctx, batch, careful=careful, purged_before=purged_before)
    with run.writer.session():
        # Chunks that may hold duplicates wait to be checked CHECK_CHUNKS at a time (one query);
        # the others go straight on, after those waiting, so that records are rated in file order.
        waiting = []
        for chunk in chunks:
            if run.needs_check(chunk):
                waiting.extend(chunk)
                if len(waiting) >= rows_of(CHECK_CHUNKS):
                    run.process(waiting, check=True)
                    waiting = []
                continue
            if waiting:
                run.process(waiting, check=True)
                waiting = []
            run.process(chunk, check=False)
        run.process(waiting, check=True)
        run.read = chunks.read
    return run.finish(source)


def import_file(organization, binary, name, kind, *, origin=ImportBatch.Source.UPLOAD, actor=None) -> ImportResult:
    """Import an uploaded or opened file: CSV, the original zip, a Graph JSON page or JSON lines."""

    def reopen():
        binary.seek(0)
        return open_source(binary, name, kind)

    try:
        source = open_source(binary, name, kind)
    except SourceError as exc:
        raise ImportRejected([RowError(exc.row, exc.column, exc.problem)]) from None
    return ingest(organization, source, origin=origin, actor=actor, filename=name, reopen=reopen if binary.seekable() else None)


def import_graph_payload(organization, payload, kind, *, origin=ImportBatch.Source.API, actor=None) -> ImportResult:
    """Import rows as Graph returns them: a page with `value`, a list of pages or a list of rows."""

    def reopen():
        return from_graph_payload(payload, kind, description="Graph page")

    try:
        source = reopen()
    except SourceError as exc:
        raise ImportRejected([RowError(exc.row, exc.column, exc.problem)]) from None
    return ingest(organization, source, origin=origin, actor=actor, reopen=reopen)


def _integrity_problem(exc):
    text = str(exc)
    if "usage_id" in text:
        detail = text.split("DETAIL:", 1)[-1].strip() if "DETAIL:" in text else ""
        return (
            "a UsageId is already imported with a different start time, or appears twice with different start "
            f"times. {detail}".strip()
        )
    return f"the database refused the rows: {text.splitlines()[0]}"


def attach_person(ctx, record):
    """The record's person (a PersonInfo or None), added to the directory if unknown there."""
    upn = record["upn"]
    person = ctx.people.get(upn) if upn else None
    if person is None or person.auto:  # the common case, a person of the directory, needs no more
        person = ctx.person(upn, record["user_object_id"], record["display_name"], record["user_location"], record["reported_capability"])
    if person is not None:
        record["person_id"] = person.id
        if not record["display_name"]:
            record["display_name"] = person.display_name
        if not record["user_location"]:
            record["user_location"] = person.location
    return person


def rate_record(ctx, rater, record, is_call=True):
    """Rate a record (finding its person first) and store the outcome in it. The currency is the
    import's, which the writers add to every record as a constant."""
    outcome = rater(ctx, record, attach_person(ctx, record))
    record["rating"] = outcome.rating
    record["rating_reason"] = outcome.reason[:300]
    record["capability"] = outcome.capability
    record["charge"] = outcome.charge
    record["charged_units"] = outcome.charged_units
    record["destination_context"] = outcome.destination_context
    if is_call:
        record["connection_fee"] = outcome.connection_fee
    return outcome


_usage_id = itemgetter("usage_id")


class _Run:
    def __init__(self, kind, organization, ctx, batch, *, careful, purged_before=None):
        self.kind = kind
        self.organization = organization
        self.ctx = ctx
        self.batch = batch
        self.careful = careful
        self.purged_before = purged_before
        self.span = None if careful else existing_span(kind, organization)
        self.writer = Writer(kind, {"organization_id": organization.pk, "batch_id": batch.pk, "currency": ctx.currency})
        self.totals = DailyTotals(batch.kind)
        # Spike detection tallies the calls while they are rated, and judges them when the import ends.
        self.watch = SpendWatch(organization, batch.pk) if kind is CALLS else None
        self.allocation = AllocationTotals(batch.kind, kind.time_field)
        self.read = 0
        self.created = 0
        self.skipped = 0
        self.expired = 0
        self.charged = 0
        self.refused = 0

    def needs_check(self, records):
        if self.careful:
            return True
        if self.span is None:
            return False
        time_field = self.kind.time_field
        first, last = self.span
        return any(first <= r[time_field] <= last for r in records)

    def process(self, chunk, check):
        """Rate and write the records of `chunk` (one chunk, or several waiting for one duplicate check),
        dropping duplicates first: a duplicate is never rated, charged or counted."""
        if not chunk:
            return
        # One row per UsageId: the first one in the file wins, later repeats are skipped.
        records = chunk
        if len(set(map(_usage_id, chunk))) != len(chunk):
            unique = {}
            for record in chunk:
                unique.setdefault(record["usage_id"], record)
            records = list(unique.values())
        if self.purged_before is not None:
            before = len(records)
            time_field = self.kind.time_field
            records = [r for r in records if r[time_field] >= self.purged_before]
            self.expired += before - len(records)
        if check:
            known = existing_ids(self.kind, self.organization, records)
            if known:
                records = [r for r in records if r["usage_id"] not in known]
        self.skipped += len(chunk) - len(records)
        if not records:
            return
        ctx = self.ctx
        ctx.add_people(records)  # people the directory does not know, in one statement (rating needs their ids)
        rater = self.kind.rater
        time_field = self.kind.time_field
        is_call = self.kind is CALLS
        type_field, units_field = ("call_type", "duration_seconds") if is_call else ("sms_type", "segments")
        totals = self.totals.rows
        # Each record is formatted for COPY right after rating, while it is still in the CPU's cache.
        copy_line = self.writer.copy_line if self.writer.use_copy else None
        lines = []
        add_line = lines.append
        charged = refused = 0
        watch = self.watch.add if self.watch is not None else None
        for record in records:
            outcome = rate_record(ctx, rater, record, is_call)
            rating = outcome.rating
            context = outcome.destination_context
            charge = outcome.charge
            if rating == "charged":
                charged += 1
            elif rating == "refused":
                refused += 1
            slot = totals[(record[time_field].date(), record[type_field], context, rating)]
            slot[0] += 1
            slot[1] += record[units_field]
            slot[2] += outcome.units
            slot[3] += outcome.charged_units
            if charge:
                slot[4] += charge
            if watch is not None:
                watch(record, outcome)
            if copy_line is not None:
                add_line(copy_line(record))
        self.writer.write(records, lines if copy_line is not None else None)
        self.allocation.add(records)
        self.allocation.trim(self.organization)
        if self.watch is not None:
            self.watch.trim()
        self.charged += charged
        self.refused += refused
        self.created += len(records)

    def finish(self, source):
        ctx = self.ctx
        ctx.save_pools()
        ctx.save_people()
        ctx.save_guard()
        self.totals.save(self.organization)
        if self.watch is not None:
            self.watch.finish()
        self.allocation.save(self.organization)
        batch = self.batch
        batch.rows_read = self.read
        batch.rows_created = self.created
        batch.rows_skipped = self.skipped
        batch.rows_charged = self.charged
        batch.rows_refused = self.refused
        batch.charged_total = ctx.charged_total
        if ctx.charged_total > 0:
            account = self.organization.credit_account
            posting = charge_usage(
                account_id=account.pk,
                amount=ctx.charged_total,
                idempotency_key=f"usage-import:{batch.pk}",
                memo=f"Usage: {self.charged:,} {'call' if batch.kind == RecordKind.PSTN else 'SMS'} record(s) charged to credits",
                reference=f"usage-import:{batch.pk}",
            )
            batch.ledger_entry = posting.entry
        batch.save()
        return ImportResult(
            batch=batch,
            rows_read=self.read,
            created=self.created,
            skipped=self.skipped,
            expired=self.expired,
            charged=self.charged,
            refused=self.refused,
            charged_total=ctx.charged_total,
            ignored_columns=list(source.ignored_columns),
        )

