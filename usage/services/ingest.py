"""Ingestion: one service behind the upload page, the management command and the JSON endpoint.

`ingest()` reads rows from a source (usage.services.sources), checks every value, rates each new
record (usage.services.rating), writes the records, the pools, the per-day totals and one usage
charge for the whole import, in one transaction:

- all or nothing: any bad row and nothing is written; the error names the row, the column and the
  problem (every bad row up to a limit, not only the first);
- idempotent: a record whose UsageId the organization already has is skipped, so importing a file
  twice adds no record and charges nothing the second time;
- streaming: rows are read, rated and written in chunks (PostgreSQL COPY, or bulk inserts
  elsewhere), so memory does not grow with the file.

Duplicate detection relies on a UsageId always having the same start time: a chunk outside the time
span of the organization's records cannot hold a duplicate, so new usage (the common case) streams
into one COPY with no check at all. A UsageId repeated far apart in one file meets the unique
constraint instead, and the import starts over checking every chunk; a UsageId imported before with
another start time fails the import with that UsageId named.
"""

from collections import defaultdict
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from operator import itemgetter

from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from billing.money import ZERO
from billing.services import charge_usage

from ..choices import Direction, RecordKind, is_inbound
from ..models import CallRecord, DailyUsage, ImportBatch, RatingState, SmsRecord
from .cleaning import CALL_SPECS, SMS_SPECS, RowError, compile_cleaner, copy_text_key
from .rating import RatingContext, rate_call, rate_sms
from .sources import Layout, RowSource, SourceError, from_graph_payload, open_source

CHUNK_SIZE = 1000
MAX_ERRORS = 50


class ImportRejected(Exception):
    """The input was refused as a whole; nothing was written."""

    def __init__(self, errors, *, truncated=False):
        self.errors = errors
        self.truncated = truncated
        first = str(errors[0]) if errors else "the input was refused"
        more = f" (and {len(errors) - 1} more problem(s))" if len(errors) > 1 else ""
        super().__init__(f"Nothing was imported: {first}{more}.")


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

    def as_dict(self):
        return {
            "batch": self.batch.pk,
            "rows_read": self.rows_read,
            "created": self.created,
            "skipped_duplicates": self.skipped,
            "charged": self.charged,
            "refused": self.refused,
            "charged_total": str(self.charged_total),
            "currency": self.batch.organization.currency,
            "ignored_columns": self.ignored_columns,
        }


def _defaults(model):
    defaults = {}
    for f in model._meta.concrete_fields:
        if f.primary_key:
            continue
        if f.null:
            defaults[f.attname] = None
        elif f.has_default():
            defaults[f.attname] = f.get_default()
        else:
            defaults[f.attname] = ""
    return defaults


class Kind:
    """What differs between calls and SMS: the model, the value specs, the time field, the rater."""

    def __init__(self, model, specs, time_field, rater, finish):
        self.model = model
        self.specs = specs
        self.time_field = time_field
        self.rater = rater
        self.finish = finish
        self.defaults = _defaults(model)
        self.columns = list(self.defaults)
        self.time_columns = [f.attname for f in model._meta.concrete_fields if f.get_internal_type() == "DateTimeField"]
        self.defaults.update({copy_text_key(c): None for c in self.time_columns})
        self._cleaners = {}

    def copy_line(self, constants):
        nullable = {f.attname for f in self.model._meta.concrete_fields if f.null}
        return compile_copy_line(self.columns, nullable, self.time_columns, constants)

    def cleaner(self, layout):
        key = tuple(layout.mapping)
        if key not in self._cleaners:
            self._cleaners[key] = compile_cleaner(self.specs, layout.mapping, self.defaults)
        return self._cleaners[key]


def _finish_call(record, label, column_names, errors):
    if not record["direction"]:
        record["direction"] = Direction.INBOUND if is_inbound(record["call_type"]) else Direction.OUTBOUND
    end = record["end_time"]
    if end is not None and end < record["start_time"]:
        errors.append(RowError(label, column_names.get("end_time", "End Time"), "is before the start time."))
        return False
    return True


def _finish_sms(record, label, column_names, errors):
    return True


CALLS = Kind(CallRecord, CALL_SPECS, "start_time", rate_call, _finish_call)
MESSAGES = Kind(SmsRecord, SMS_SPECS, "sent_time", rate_sms, _finish_sms)
KINDS = {RecordKind.PSTN: CALLS, RecordKind.SMS: MESSAGES}


# Writing -----------------------------------------------------------------------------------------


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_COPY_NULL = "\\N"


def _copy_text(value):
    """One value in COPY's text format, the slow way (see compile_copy_line)."""
    if value is None:
        return _COPY_NULL
    return f"{value}".translate(_COPY_ESCAPES)


def compile_copy_line(columns, nullable, times=(), constants=None):
    """A function `record -> line` in PostgreSQL COPY's text format, for records holding `columns`.

    psycopg's write_row spends about 6 microseconds on a row of these 35 columns, more than rating
    it; one f-string per record costs a fraction of that. Values are written as str() gives them
    (str, int, Decimal, datetime with its offset), which PostgreSQL reads back exactly; a time whose
    input text was already in PostgreSQL's form goes as that text (cleaning.copy_text_key); `constants`
    (column -> value, the same for every record) are written into the line's template. A line
    whose values hold a backslash, tab or line break is rebuilt value by value with COPY's escapes:
    the line is checked as a whole, counting the backslashes of the NULL markers it wrote itself.
    """
    local = {c: f"v{i}" for i, c in enumerate(columns) if c in nullable or c in times}
    fixed = {c: _copy_text(value) for c, value in (constants or {}).items()}
    env = {"NULL": _COPY_NULL, "slow": _copy_text, "COLUMNS": tuple(columns), "FIXED": fixed}
    lines = ["def copy_line(r):"]
    lines += [f"    {name} = r[{c!r}]" for c, name in local.items()]
    parts = []
    for i, c in enumerate(columns):
        name = local.get(c)
        if c in fixed:
            env[f"k{i}"] = fixed[c]
            parts.append(f"{{k{i}}}")
        elif c in times:
            text = f"t if (t := r[{copy_text_key(c)!r}]) is not None else {name}"
            parts.append(f"{{NULL if {name} is None else ({text})!s}}" if c in nullable else f"{{({text})!s}}")
        elif name:
            parts.append(f"{{NULL if {name} is None else {name}!s}}")
        else:
            parts.append(f"{{r[{c!r}]!s}}")
    lines.append('    line = f"' + "\\t".join(parts) + '"')
    backslashes = " + ".join([f"({local[c]} is None)" for c in columns if c in nullable and c not in fixed] + [str(sum(t.count("\\") for t in fixed.values()))])
    lines.append(f'    if line.count("\\\\") != {backslashes} or line.count("\\t") != {len(columns) - 1} or "\\n" in line or "\\r" in line:')
    lines.append('        line = "\\t".join([FIXED[c] if c in FIXED else slow(r[c]) for c in COLUMNS])')
    lines.append("    return line")
    exec("\n".join(lines), env)  # noqa: S102 - built above from the model's column names, never from input
    return env["copy_line"]


class Writer:
    """Appends records: PostgreSQL COPY where available, bulk inserts elsewhere.

    With PostgreSQL one COPY stays open across chunks, so the server stores rows while the next ones
    are read, checked and rated. Any other query on the connection first ends the COPY (a query
    cannot run while a COPY is open), through an execute wrapper installed for the import: a new
    person, a new month's pools or a duplicate check simply end it, and the next row starts another.
    Records are formatted into COPY's text format here (compile_copy_line) and sent a chunk at a time.
    """

    def __init__(self, kind: Kind, constants):
        self.kind = kind
        self.use_copy = connection.vendor == "postgresql"
        self.columns = kind.columns
        self.constants = constants  # the same for every record of the import (organization, batch, currency)
        self._cursor = self._copy_cm = self._copy = None
        self.pending = []
        if self.use_copy:
            quoted = ", ".join(connection.ops.quote_name(c) for c in self.columns)
            self.statement = f"COPY {connection.ops.quote_name(kind.model._meta.db_table)} ({quoted}) FROM STDIN"
            self.copy_line = kind.copy_line(constants)

    def write(self, records, lines=None):
        """Take the records of a chunk: sent to the COPY (as `lines`, if the caller formatted them
        with `copy_line` already), or inserted, at once."""
        if self.use_copy and lines is not None:
            self.pending.extend(lines)
            self.send(formatted=True)
            return
        self.pending.extend(records)
        if self.use_copy:
            self.send()
        else:
            self.flush()

    def send(self, formatted=False):
        """Hand the pending records (or lines) to the open COPY, opening one if needed."""
        if not self.pending:
            return
        if self._copy is None:
            self._cursor = connection.cursor()
            self._copy_cm = self._cursor.cursor.copy(self.statement)
            self._copy = self._copy_cm.__enter__()
        rows, self.pending = self.pending, []
        if not formatted:
            copy_line = self.copy_line
            rows = [copy_line(r) for r in rows]
        self._copy.write("\n".join(rows) + "\n")

    def flush(self, exc=None):
        """Send what is pending and end the open COPY (waiting for the server to store its rows), or
        insert the pending records; after an error, drop them and abort the COPY."""
        if not self.use_copy:
            if self.pending and exc is None:
                model, columns = self.kind.model, self.columns
                rows, self.pending = self.pending, []
                constants = self.constants
                model.objects.bulk_create([model(**{c: r[c] for c in columns} | constants) for r in rows], batch_size=500)
            return
        if exc is None:
            self.send()
        else:
            self.pending = []
        if self._copy is not None:
            copy_cm, cursor = self._copy_cm, self._cursor
            self._cursor = self._copy_cm = self._copy = None
            try:
                if exc is None:
                    copy_cm.__exit__(None, None, None)
                else:
                    copy_cm.__exit__(type(exc), exc, exc.__traceback__)
            finally:
                cursor.close()

    @contextmanager
    def session(self):
        """For the import's duration: other queries end the COPY first; errors abort it."""

        def end_copy_first(execute, sql, params, many, context):
            if self._copy is not None:
                self.flush()
            return execute(sql, params, many, context)

        # Driver errors (a COPY refused by a constraint) become Django's, like those of any query.
        with connection.wrap_database_errors, connection.execute_wrapper(end_copy_first):
            try:
                yield self
            except BaseException as exc:
                self.flush(exc)
                raise
            self.flush()


def existing_ids(kind: Kind, organization, records):
    """UsageIds of `records` the organization already has (see the module's note on start times)."""
    time_field = kind.time_field
    low = min(r[time_field] for r in records)
    high = max(r[time_field] for r in records)
    scope = kind.model.objects.filter(organization=organization)
    if not scope.filter(**{f"{time_field}__gte": low, f"{time_field}__lte": high}).exists():
        return set()
    ids = [r["usage_id"] for r in records]
    found = set()
    for start in range(0, len(ids), 1000):
        found.update(str(u) for u in scope.filter(usage_id__in=ids[start : start + 1000]).values_list("usage_id", flat=True))
    return found


def existing_span(kind: Kind, organization):
    """(first, last) start time of the organization's records, or None: chunks outside need no check."""
    time_field = kind.time_field
    scope = kind.model.objects.filter(organization=organization).order_by(time_field).values_list(time_field, flat=True)
    first = scope.first()
    if first is None:
        return None
    return first, scope.last()


class DailyTotals:
    def __init__(self, kind_code):
        self.kind_code = kind_code
        self.rows = defaultdict(lambda: [0, 0, 0, 0, ZERO])

    def save(self, organization):
        table = DailyUsage._meta.db_table
        sql = (
            f"INSERT INTO {table} (organization_id, kind, day, call_type, destination_context, rating, records, seconds, "
            "units, charged_units, charge) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
            "ON CONFLICT (organization_id, kind, day, call_type, destination_context, rating) DO UPDATE SET "
            f"records = {table}.records + excluded.records, seconds = {table}.seconds + excluded.seconds, "
            f"units = {table}.units + excluded.units, charged_units = {table}.charged_units + excluded.charged_units, "
            f"charge = {table}.charge + excluded.charge"
        )
        params = [
            (organization.pk, self.kind_code, day, call_type, context, rating, *values)
            for (day, call_type, context, rating), values in sorted(self.rows.items())
        ]
        if params:
            with connection.cursor() as cursor:
                cursor.executemany(sql, params)


# The service -------------------------------------------------------------------------------------


def ingest(organization, source: RowSource, *, origin=ImportBatch.Source.UPLOAD, actor=None, filename="", reopen=None) -> ImportResult:
    """Import every row of `source` for `organization`, or none of them (ImportRejected).

    A first pass checks for duplicates only where the organization already has records (see
    `existing_span`); a UsageId repeated far apart in the same file then meets the unique
    constraint, and the import starts again from `reopen()` (a fresh source) checking every chunk.
    """
    try:
        with transaction.atomic(durable=True):
            RatingState.objects.get_or_create(organization=organization)
            RatingState.objects.select_for_update(no_key=True).filter(organization=organization).update(
                last_import_at=timezone.now()
            )
            try:
                with transaction.atomic():
                    return _ingest_once(organization, source, origin, actor, filename, careful=False)
            except DatabaseError as exc:
                if reopen is None or not _is_unique_violation(exc):
                    raise
            return _ingest_once(organization, reopen(), origin, actor, filename, careful=True)
    except SourceError as exc:
        raise ImportRejected([RowError(exc.row, exc.column, exc.problem)]) from None
    except DatabaseError as exc:
        if not _is_unique_violation(exc):
            raise
        raise ImportRejected([RowError("", "UsageId", _integrity_problem(exc))]) from None


def _is_unique_violation(exc):
    for error in (exc, exc.__cause__):
        if getattr(error, "sqlstate", None) == "23505" or "UNIQUE constraint failed" in str(error):
            return True
    return False


def _ingest_once(organization, source, origin, actor, filename, *, careful):
    kind = KINDS[source.kind]
    errors = []
    ctx = RatingContext(organization)
    batch = ImportBatch.objects.create(
        organization=organization, kind=source.kind, source=origin, filename=(filename or source.description)[:255], created_by=actor
    )
    run = _Run(kind, organization, ctx, batch, careful=careful)
    with run.writer.session():
        layout = source.layout
        clean = kind.cleaner(layout)
        names = layout.names
        finish = kind.finish
        chunk = []
        append = chunk.append
        read = 0
        for label, payload in source.rows:
            if type(payload) is list:
                read += 1
                record = clean(payload, label, names, errors)
                if record is not None and finish(record, label, names, errors) and not errors:
                    append(record)
                    if len(chunk) >= CHUNK_SIZE:
                        run.process(chunk)
                        chunk = []
                        append = chunk.append
                elif len(errors) >= MAX_ERRORS:
                    raise ImportRejected(errors, truncated=True)
            elif isinstance(payload, Layout):
                layout = payload
                clean = kind.cleaner(layout)
                names = layout.names
            else:
                read += 1
                errors.append(RowError(payload.row or label, payload.column, payload.problem))
                if len(errors) >= MAX_ERRORS:
                    raise ImportRejected(errors, truncated=True)
        run.read = read
        if errors:
            raise ImportRejected(errors)
        if run.read == 0:
            raise ImportRejected([RowError("", "", "There are no rows to import.")])
        run.process(chunk)
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
    def __init__(self, kind, organization, ctx, batch, *, careful):
        self.kind = kind
        self.organization = organization
        self.ctx = ctx
        self.batch = batch
        self.careful = careful
        self.span = None if careful else existing_span(kind, organization)
        self.writer = Writer(kind, {"organization_id": organization.pk, "batch_id": batch.pk, "currency": ctx.currency})
        self.totals = DailyTotals(batch.kind)
        self.read = 0
        self.created = 0
        self.skipped = 0
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

    def process(self, chunk):
        if not chunk:
            return
        # One row per UsageId: the first one in the file wins, later repeats are skipped.
        records = chunk
        if len(set(map(_usage_id, chunk))) != len(chunk):
            unique = {}
            for record in chunk:
                unique.setdefault(record["usage_id"], record)
            records = list(unique.values())
        if self.needs_check(records):
            known = existing_ids(self.kind, self.organization, records)
            if known:
                records = [r for r in records if r["usage_id"] not in known]
        self.skipped += len(chunk) - len(records)
        if not records:
            return
        ctx = self.ctx
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
            if copy_line is not None:
                add_line(copy_line(record))
        self.writer.write(records, lines if copy_line is not None else None)
        self.charged += charged
        self.refused += refused
        self.created += len(records)

    def finish(self, source):
        ctx = self.ctx
        ctx.save_pools()
        ctx.save_people()
        self.totals.save(self.organization)
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
            charged=self.charged,
            refused=self.refused,
            charged_total=ctx.charged_total,
            ignored_columns=list(source.ignored_columns),
        )

