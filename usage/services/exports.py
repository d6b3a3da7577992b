"""Exports of the report: the rows and filters on screen, as .xlsx or in the original's format.

- .xlsx: the export's column names; dates are Excel dates and money is numbers (typed cells, not
  text); written with xlsxwriter's constant_memory mode, a row at a time, from a server-side cursor,
  so memory stays flat. A sheet holds at most 1,048,576 rows (the header included): longer exports
  continue on further sheets, each with the header.
- The original format: Calls.Export.{id}.zip holding PSTN.calls.{UTC date}.csv files (RFC 4180,
  CRLF, first row the column names, one file per UTC day of the calls) and parameters.json (date
  range and filters). This site's importer reads it back.

Rows are written in chronological order (start time, then id), the order in which they were rated,
so that importing an export elsewhere draws the pools in the same order.

Small exports are built in the request; large ones by a Celery task with a status record, a
progress count, and a file kept for 7 days (see `request_export` and `build_export`).
"""

import csv
import io
import json
import logging
import os
import tempfile
import uuid
import zipfile
from datetime import UTC, date, datetime, timedelta

import xlsxwriter
from django.conf import settings
from django.core.exceptions import EmptyResultSet
from django.core.files import File
from django.db import connection, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from .. import signals
from ..selectors import TIME_FIELDS, export_queryset, parameters_for
from ..choices import ExportFormat, ExportStatus, RecordKind
from ..columns import PSTN_EXPORT_COLUMNS, SMS_EXPORT_COLUMNS
from ..models import Export

logger = logging.getLogger(__name__)

EXCEL_MAX_ROWS = 1_048_576
EXPORT_LIFETIME = timedelta(days=7)
PROGRESS_EVERY = 10_000
FETCH_CHUNK = 5_000
EXCEL_EPOCH_DAYS = 25569  # 1970-01-01 in Excel's 1900 date system
SECONDS_PER_DAY = 86400

COLUMNS = {RecordKind.PSTN: PSTN_EXPORT_COLUMNS, RecordKind.SMS: SMS_EXPORT_COLUMNS}
MONEY_FIELDS = frozenset({"charge", "connection_fee"})
TIME_VALUE_FIELDS = frozenset({"start_time", "end_time", "sent_time"})
INTEGER_FIELDS = frozenset({"duration_seconds", "segments"})


def immediate_limit():
    return getattr(settings, "USAGE_EXPORT_IMMEDIATE_ROWS", 5_000)


def _iso(moment):
    """UTC ISO 8601 with microseconds, as the original writes its times (2019-11-01T00:00:08.258993Z)."""
    if moment is None:
        return ""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _excel_serial(moment):
    return moment.timestamp() / SECONDS_PER_DAY + EXCEL_EPOCH_DAYS


class Progress:
    """Counts rows and tells the status record every PROGRESS_EVERY rows (a one-row UPDATE)."""

    def __init__(self, export=None):
        self.export = export
        self.done = 0

    def tick(self, count=1):
        before = self.done
        self.done += count
        if self.export is not None and self.done // PROGRESS_EVERY != before // PROGRESS_EVERY:
            Export.objects.filter(pk=self.export.pk).update(rows_done=self.done)


# .xlsx ------------------------------------------------------------------------------------------


def write_xlsx(rows, target, kind, *, progress=None, max_rows=EXCEL_MAX_ROWS, sheet_title=None):
    """Write `rows` (a queryset ordered as exported) to `target` (a path); returns the row count."""
    progress = progress or Progress()
    columns = COLUMNS[kind]
    fields = [f for _, f in columns]
    workbook = xlsxwriter.Workbook(
        target,
        {
            "constant_memory": True,
            "tmpdir": tempfile.gettempdir(),
            # Values are written as typed cells; nothing in a value is ever turned into a formula or a link.
            "strings_to_formulas": False,
            "strings_to_urls": False,
            "strings_to_numbers": False,
        },
    )
    bold = workbook.add_format({"bold": True})
    time_format = workbook.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
    money_format = workbook.add_format({"num_format": "#,##0.00"})
    title = sheet_title or ("PSTN calls" if kind == RecordKind.PSTN else "SMS")
    plan = []
    for index, field in enumerate(fields):
        if field in TIME_VALUE_FIELDS:
            plan.append((index, "time"))
        elif field in MONEY_FIELDS:
            plan.append((index, "money"))
        elif field in INTEGER_FIELDS:
            plan.append((index, "number"))
        else:
            plan.append((index, "text"))
    times = [i for i, k in plan if k == "time"]
    moneys = [i for i, k in plan if k == "money"]
    numbers = [i for i, k in plan if k == "number"]
    texts = [i for i, k in plan if k == "text"]

    sheet_number = 0
    sheet = None
    row_index = max_rows  # forces a first sheet

    def new_sheet():
        nonlocal sheet_number
        sheet_number += 1
        name = title if sheet_number == 1 else f"{title} ({sheet_number})"
        ws = workbook.add_worksheet(name[:31])
        for index, (header, field) in enumerate(columns):
            width = 20 if field in TIME_VALUE_FIELDS else (38 if field in ("usage_id", "call_id", "user_object_id") else 16)
            ws.set_column(index, index, width)
            ws.write_string(0, index, header, bold)
        ws.freeze_panes(1, 0)
        return ws

    count = 0
    for values in rows.values_list(*fields).iterator(chunk_size=FETCH_CHUNK):
        if row_index >= max_rows:
            sheet = new_sheet()
            write_string, write_number = sheet.write_string, sheet.write_number
            row_index = 1
        for i in texts:
            value = values[i]
            if value:
                write_string(row_index, i, str(value))
        for i in times:
            value = values[i]
            if value is not None:
                write_number(row_index, i, _excel_serial(value), time_format)
        for i in moneys:
            value = values[i]
            if value is not None:
                write_number(row_index, i, value, money_format)
        for i in numbers:
            write_number(row_index, i, values[i])
        row_index += 1
        count += 1
        if count % 1000 == 0:
            progress.tick(1000)
    if sheet is None:
        new_sheet()
    progress.tick(count % 1000)
    workbook.close()
    return count


# The original format ----------------------------------------------------------------------------


def zip_names(kind, public_id):
    if kind == RecordKind.SMS:
        return f"SMS.Export.{public_id}.zip", "SMS.messages.{day}.csv"
    return f"Calls.Export.{public_id}.zip", "PSTN.calls.{day}.csv"


def _csv_value(field):
    if field in TIME_VALUE_FIELDS:
        return _iso
    if field in MONEY_FIELDS:
        return lambda v: "" if v is None else f"{v:.2f}"
    if field in INTEGER_FIELDS or field == "usage_id":
        return lambda v: "" if v is None else str(v)
    return lambda v: "" if v is None else str(v)


def write_csv_zip(rows, target, kind, parameters, *, public_id, progress=None):
    """Write the original format to `target` (a path or binary file); returns the row count."""
    progress = progress or Progress()
    columns = COLUMNS[kind]
    header = [name for name, _ in columns]
    _, member_pattern = zip_names(kind, public_id)
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        if connection.vendor == "postgresql":
            count = _csv_members_by_copy(archive, rows, kind, parameters, member_pattern, header, progress)
        else:
            count = _csv_members(archive, rows, kind, member_pattern, header, progress)
        described = dict(parameters)
        described.update(
            {
                "report": "PSTN and SMS usage" if kind == RecordKind.PSTN else "SMS usage",
                "timeRange": {"start": f"{parameters['start']}T00:00:00Z", "end": f"{parameters['end']}T23:59:59Z"},
                "capabilities": "all",
                "rows": count,
                "exportedAt": _iso(timezone.now().replace(microsecond=0)),
                "columns": header,
            }
        )
        archive.writestr("parameters.json", json.dumps(described, indent=2))
    return count


def _csv_members(archive, rows, kind, member_pattern, header, progress):
    """The rows through csv.writer, one member per UTC day (any database)."""
    fields = [f for _, f in COLUMNS[kind]]
    time_index = fields.index(TIME_FIELDS[kind])
    formatters = [_csv_value(f) for f in fields]
    count = 0
    current_day = None
    text = writer = None
    for values in rows.values_list(*fields).iterator(chunk_size=FETCH_CHUNK):
        day = values[time_index].astimezone(UTC).date()
        if day != current_day:
            if text is not None:
                text.close()
            current_day = day
            handle = archive.open(member_pattern.format(day=day.isoformat()), "w", force_zip64=True)
            text = io.TextIOWrapper(handle, encoding="utf-8", newline="")
            writer = csv.writer(text, lineterminator="\r\n")
            writer.writerow(header)
        writer.writerow([fmt(v) for fmt, v in zip(formatters, values, strict=True)])
        count += 1
        if count % 1000 == 0:
            progress.tick(1000)
    if text is not None:
        text.close()
    progress.tick(count % 1000)
    return count


def _sql_text(field, table):
    """The SQL that formats a column exactly as _csv_value does in Python."""
    column = f'{table}."{field}"'
    if field in TIME_VALUE_FIELDS:
        return f"to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
    if field in MONEY_FIELDS or field in INTEGER_FIELDS or field == "usage_id":
        return f"{column}::text"
    # NULLIF: an empty value is written unquoted, as csv.writer writes it. Values hold no line break
    # (the import makes them one line), so each record is one line and LF can become CRLF.
    return f"NULLIF({column}, '')"


def _csv_members_by_copy(archive, rows, kind, parameters, member_pattern, header, progress):
    """PostgreSQL formats the CSV (COPY ... TO STDOUT), a day at a time, while this process compresses
    it: the same bytes as csv.writer would write, at a fraction of the cost."""
    from psycopg import ClientCursor

    model = rows.model
    table = connection.ops.quote_name(model._meta.db_table)
    fields = [f for _, f in COLUMNS[kind]]
    time_field = TIME_FIELDS[kind]
    start, end = date.fromisoformat(parameters["start"]), date.fromisoformat(parameters["end"])
    header_line = ("\r\n".join([_csv_header(header)]) + "\r\n").encode()
    count = 0
    day = start
    with connection.cursor() as cursor:
        raw = cursor.cursor
        mogrify = ClientCursor(raw.connection).mogrify
        while day <= end:
            low = datetime.combine(day, datetime.min.time(), tzinfo=UTC)
            day_rows = rows.filter(**{f"{time_field}__gte": low, f"{time_field}__lt": low + timedelta(days=1)})
            day_rows = day_rows.extra(select={f"c{i}": _sql_text(f, table) for i, f in enumerate(fields)})
            try:
                sql, params = day_rows.values_list(*[f"c{i}" for i in range(len(fields))]).query.sql_with_params()
            except EmptyResultSet:
                # A filter that can match nothing (a username no one has) compiles to no query at all.
                day += timedelta(days=1)
                continue
            handle = None
            with raw.copy(f"COPY ({mogrify(sql, params)}) TO STDOUT (FORMAT csv)") as copy:
                for block in copy:
                    if handle is None:
                        handle = archive.open(member_pattern.format(day=day.isoformat()), "w", force_zip64=True)
                        handle.write(header_line)
                    data = bytes(block)
                    lines = data.count(b"\n")
                    handle.write(data.replace(b"\n", b"\r\n"))
                    count += lines
                    progress.tick(lines)
            if handle is not None:
                handle.close()
            day += timedelta(days=1)
    return count


def _csv_header(header):
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow(header)
    return out.getvalue()


# Immediate and background exports ---------------------------------------------------------------


def export_filename(export_format, kind, public_id, start, end):
    if export_format == ExportFormat.CSV_ZIP:
        return zip_names(kind, public_id)[0]
    label = "PSTN usage" if kind == RecordKind.PSTN else "SMS usage"
    return f"{label} {start} to {end}.xlsx"


def build_file(organization, export_format, parameters, path, *, public_id, progress=None):
    rows = export_queryset(organization, parameters)
    kind = parameters["kind"]
    if export_format == ExportFormat.CSV_ZIP:
        return write_csv_zip(rows, path, kind, parameters, public_id=public_id, progress=progress)
    return write_xlsx(rows, path, kind, progress=progress)


def build_immediate(organization, export_format, parameters):
    """A small export, built now: returns (open file at its start, filename, size)."""
    public_id = uuid.uuid4()
    fd, path = tempfile.mkstemp(suffix=".export")
    os.close(fd)
    try:
        build_file(organization, export_format, parameters, path, public_id=public_id)
        handle = open(path, "rb")  # noqa: SIM115 - the response closes it
        size = os.path.getsize(path)
    finally:
        # The open handle keeps the data readable; the name goes now, so nothing is left behind.
        os.unlink(path)
    name = export_filename(export_format, parameters["kind"], public_id, parameters["start"], parameters["end"])
    return handle, name, size


def request_export(*, organization, user, export_format, parameters, rows_total):
    """Record a background export and enqueue its task once the record is committed."""
    from ..tasks import build_export_task

    with transaction.atomic():
        export = Export.objects.create(
            organization=organization,
            created_by=user,
            kind=parameters["kind"],
            format=export_format,
            parameters=parameters,
            rows_total=rows_total,
            expires_at=timezone.now() + EXPORT_LIFETIME,
        )
        transaction.on_commit(lambda: build_export_task.delay(export.pk))
    return export


def claim(export_id, now=None):
    """Take a pending export (or one whose worker died long ago); exactly one worker gets it."""
    now = now or timezone.now()
    stale = now - timedelta(seconds=getattr(settings, "USAGE_EXPORT_STALE_SECONDS", 4 * 3600))
    claimed = Export.objects.filter(pk=export_id).filter(
        Q(status=ExportStatus.PENDING) | Q(status=ExportStatus.RUNNING, started_at__lt=stale)
    ).update(status=ExportStatus.RUNNING, started_at=now, rows_done=0)
    return claimed == 1


def build_export(export_id):
    """Build a background export. Safe to run twice: only a pending export is claimed."""
    if not claim(export_id):
        return None
    export = Export.objects.select_related("organization").get(pk=export_id)
    fd, path = tempfile.mkstemp(suffix=".export")
    os.close(fd)
    try:
        count = build_file(
            export.organization, export.format, export.parameters, path, public_id=export.public_id, progress=Progress(export)
        )
        name = export_filename(export.format, export.kind, export.public_id, export.parameters["start"], export.parameters["end"])
        with open(path, "rb") as built:
            export.file.save(f"{export.public_id}/{name}", File(built, name=name), save=False)
        size = os.path.getsize(path)
    except Exception as exc:
        logger.exception("Export %s failed", export_id)
        Export.objects.filter(pk=export_id).update(
            status=ExportStatus.FAILED, error=f"The export could not be built ({type(exc).__name__}).", finished_at=timezone.now()
        )
        raise
    finally:
        os.unlink(path)
    with transaction.atomic():
        Export.objects.filter(pk=export_id).update(
            status=ExportStatus.DONE,
            file=export.file.name,
            filename=name,
            size_bytes=size,
            rows_done=count,
            rows_total=count,
            finished_at=timezone.now(),
        )
        signals.export_ready.send(
            sender=Export,
            organization=export.organization,
            requested_by=export.created_by,
            export_id=str(export.public_id),
            download_path=reverse("usage:export_file", args=[export.public_id]),
            description=f"{export.get_format_display()} of {export.parameters['start']} to {export.parameters['end']}",
            row_count=count,
            file_name=name,
            expires_at=export.expires_at,
        )
    return export.pk


def delete_expired_exports(now=None):
    """Remove exports (and their files) older than 7 days; returns how many."""
    now = now or timezone.now()
    removed = 0
    for export in Export.objects.filter(expires_at__lte=now).only("pk", "file"):
        if export.file:
            export.file.delete(save=False)
        export.delete()
        removed += 1
    return removed


def today_utc():
    return datetime.now(UTC).date()
