"""The original format: a zip of per-day CSV files and parameters.json (see the package's notes)."""

import csv
import io
import json
import zipfile
from datetime import UTC, date, datetime, timedelta

from django.core.exceptions import EmptyResultSet
from django.db import connection, transaction
from django.utils import timezone
from psycopg import ClientCursor

from billing.formulas import FIRST_CHARACTERS, FORMULA_START, neutralize_formula

from ...choices import RecordKind
from ...selectors import TIME_FIELDS
from .columns import COLUMNS, FETCH_CHUNK, INTEGER_FIELDS, MONEY_FIELDS, TIME_VALUE_FIELDS, iso_time
from .progress import Progress

COPY_WRITE_BYTES = 1 << 20
COPY_DAYS = 31  # days one COPY statement covers (csv_members_by_copy)
# Stand-ins for a span's bounds in the compiled query (csv_members_by_copy): no record is that old.
_LOW, _HIGH = datetime(1901, 1, 1, tzinfo=UTC), datetime(1901, 1, 2, tzinfo=UTC)


def zip_names(kind, public_id):
    if kind == RecordKind.SMS:
        return f"SMS.Export.{public_id}.zip", "SMS.messages.{day}.csv"
    return f"Calls.Export.{public_id}.zip", "PSTN.calls.{day}.csv"


def is_text(field):
    return field not in TIME_VALUE_FIELDS and field not in MONEY_FIELDS and field not in INTEGER_FIELDS and field != "usage_id"


def csv_value(field):
    """The function that writes a value of `field` as the original format does; text that a
    spreadsheet would run as a formula gets a quote in front (billing.formulas)."""
    if field in TIME_VALUE_FIELDS:
        return iso_time
    if field in MONEY_FIELDS:
        return lambda v: "" if v is None else f"{v:.2f}"
    if is_text(field):
        return lambda v: "" if v is None else neutralize_formula(str(v))
    return lambda v: "" if v is None else str(v)


def write_csv_zip(rows, target, kind, parameters, *, public_id, progress=None):
    """Write the original format to `target` (a path or binary file); returns the row count."""
    progress = progress or Progress()
    columns = COLUMNS[kind]
    header = [name for name, _ in columns]
    _, member_pattern = zip_names(kind, public_id)
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        if connection.vendor == "postgresql":
            count = csv_members_by_copy(archive, rows, kind, parameters, member_pattern, header, progress)
        else:
            count = csv_members(archive, rows, kind, member_pattern, header, progress)
        described = dict(parameters)
        described.update(
            {
                "report": "PSTN and SMS usage" if kind == RecordKind.PSTN else "SMS usage",
                "timeRange": {"start": f"{parameters['start']}T00:00:00Z", "end": f"{parameters['end']}T23:59:59Z"},
                "capabilities": "all",
                "rows": count,
                "exportedAt": iso_time(timezone.now().replace(microsecond=0)),
                "columns": header,
            }
        )
        archive.writestr("parameters.json", json.dumps(described, indent=2))
    return count


def csv_members(archive, rows, kind, member_pattern, header, progress):
    """The rows through csv.writer, one member per UTC day (any database)."""
    fields = [f for _, f in COLUMNS[kind]]
    time_index = fields.index(TIME_FIELDS[kind])
    formatters = [csv_value(f) for f in fields]
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


def _sql_literal(text):
    return "'" + text.replace("'", "''") + "'"


_QUOTE_SQL = _sql_literal("'")
_FORMULA_START_SQL = _sql_literal(f"^(?:{FORMULA_START})")
# Every first character of a formula but the plus (E.164 numbers) and the quote (text already quoted).
_ALWAYS_A_FORMULA = "".join(c for c in FIRST_CHARACTERS if c not in "+'")
_QUOTE_CODE = ord("'")


def _neutralized_sql(value):
    """billing.formulas.neutralize_formula in SQL, by the first character's code (one `ascii()` a value).

    Phone numbers are in most rows, two a row: PostgreSQL's regular expressions cost about a
    microsecond each, a third of the whole export's time for a million rows, so E.164 is checked
    by length and digits (the same as `E164_NUMBER`; a test compares the bytes with Python's). Only
    text that starts with a quote, which is rare, meets the pattern.
    """
    quoted = f"{_QUOTE_SQL} || {value}"
    e164 = (
        f"octet_length({value}) BETWEEN 3 AND 16 AND ascii(substr({value}, 2)) BETWEEN {ord('1')} AND {ord('9')} "
        f"AND ltrim(substr({value}, 2), '0123456789') = ''"
    )
    always = " ".join(f"WHEN {ord(c)} THEN {quoted}" for c in _ALWAYS_A_FORMULA)
    return (
        f"CASE ascii({value}) WHEN {ord('+')} THEN CASE WHEN {e164} THEN {value} ELSE {quoted} END "
        f"WHEN {_QUOTE_CODE} THEN CASE WHEN {value} ~ {_FORMULA_START_SQL} THEN {quoted} ELSE {value} END "
        f"{always} ELSE {value} END"
    )


def _sql_text(field, table):
    """The SQL that formats a column exactly as csv_value does in Python."""
    column = f'{table}."{field}"'
    if field in TIME_VALUE_FIELDS:
        return f"to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
    if not is_text(field):
        return f"{column}::text"
    # NULLIF: an empty value is written unquoted, as csv.writer writes it. Values hold no line break
    # (the import makes them one line), so each record is one line and LF can become CRLF.
    return f"NULLIF({_neutralized_sql(column)}, '')"


def csv_members_by_copy(archive, rows, kind, parameters, member_pattern, header, progress):
    """PostgreSQL formats the CSV (COPY ... TO STDOUT) while this process compresses it: the same
    bytes as csv.writer would write, at a fraction of the cost.

    One COPY covers COPY_DAYS days: each statement costs the server a few milliseconds before its
    first row whatever it returns, a third of a year's export of 100,000 records when it was one a
    day. Its lines start with their day (`YYYY-MM-DD,`), by which they are split into the per-day
    members (days with no record get none), the prefix taken off with one bytes.replace a megabyte.
    Progress is told after each COPY (see below), so a month at a time.
    """

    model = rows.model
    table = connection.ops.quote_name(model._meta.db_table)
    fields = [f for _, f in COLUMNS[kind]]
    time_field = TIME_FIELDS[kind]
    start, end = date.fromisoformat(parameters["start"]), date.fromisoformat(parameters["end"])
    header_line = ("\r\n".join([_csv_header(header)]) + "\r\n").encode()
    # Compiled once, its bounds stand-ins replaced for each span (compiling it per span cost as much again).
    spans = rows.filter(**{f"{time_field}__gte": _LOW, f"{time_field}__lt": _HIGH})
    columns = {"c_day": f"to_char({table}.{connection.ops.quote_name(time_field)} AT TIME ZONE 'UTC', 'YYYY-MM-DD')"}
    columns.update({f"c{i}": _sql_text(f, table) for i, f in enumerate(fields)})
    spans = spans.extra(select=columns)
    try:
        sql, params = spans.values_list(*columns).query.sql_with_params()
    except EmptyResultSet:
        # A filter that can match nothing (a username no one has) compiles to no query at all.
        return 0
    params = list(params)
    low_at, high_at = params.index(_LOW), params.index(_HIGH)
    members = _DayMembers(archive, member_pattern, header_line)
    count = 0
    first = start
    with connection.cursor() as cursor:
        raw = cursor.cursor
        mogrify = ClientCursor(raw.connection).mogrify
        while first <= end:
            after = min(first + timedelta(days=COPY_DAYS), end + timedelta(days=1))
            params[low_at] = datetime.combine(first, datetime.min.time(), tzinfo=UTC)
            params[high_at] = datetime.combine(after, datetime.min.time(), tzinfo=UTC)
            span_count = 0
            # COPY hands over one row a block: written a megabyte at a time, since each write costs the
            # zip a compressor call and a CRC update (half an export's time, row by row).
            pending, pending_size = [], 0
            with transaction.atomic(using=connection.alias):
                # In the index's order, as it streams: where the planner guessed the index's order too
                # scattered (records of many organizations interleaved), it read a month through a bitmap
                # and sorted 70 MB on disk first (four times slower); and no JIT compilation a statement.
                cursor.execute("SELECT set_config('enable_sort', 'off', true), set_config('jit', 'off', true)")
                with raw.copy(f"COPY ({mogrify(sql, params)}) TO STDOUT (FORMAT csv)") as copy:
                    for block in copy:
                        pending.append(bytes(block))
                        pending_size += len(block)
                        if pending_size >= COPY_WRITE_BYTES:
                            span_count += members.write(b"".join(pending))
                            pending, pending_size = [], 0
            if pending:
                span_count += members.write(b"".join(pending))
            members.close()
            # Told once the span's COPY is over: progress is an UPDATE on this same connection, which waited
            # forever for the COPY it was inside of (a background export of 10,000 rows or more hung its
            # worker; bench/faults.py found it).
            count += span_count
            progress.tick(span_count)
            first = after
    return count


class _DayMembers:
    """Writes COPY's lines, each `YYYY-MM-DD,` then a record, oldest first, into one member a day."""

    PREFIX = len("YYYY-MM-DD,")

    def __init__(self, archive, member_pattern, header_line):
        self.archive, self.member_pattern, self.header_line = archive, member_pattern, header_line
        self.day, self.handle = None, None

    def write(self, data):
        """Write whole lines; returns how many."""
        written = 0
        at = 0
        while at < len(data):
            prefix = data[at : at + self.PREFIX]
            if prefix != self.day:
                self.close()
                self.day = prefix
                self.handle = self.archive.open(self.member_pattern.format(day=prefix[:-1].decode()), "w", force_zip64=True)
                self.handle.write(self.header_line)
            # The day's lines are together (oldest first): its last one starts at the last "\n<day>," here.
            last = data.rfind(b"\n" + prefix, at)
            stop = data.index(b"\n", at if last < 0 else last + 1) + 1
            # Records hold no line break (see _sql_text), so "\n<day>," only ever starts a line.
            lines = data[at + self.PREFIX : stop].replace(b"\n" + prefix, b"\n")
            self.handle.write(lines.replace(b"\n", b"\r\n"))
            written += lines.count(b"\n")
            at = stop
        return written

    def close(self):
        if self.handle is not None:
            self.handle.close()
        self.day, self.handle = None, None


def _csv_header(header):
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow(header)
    return out.getvalue()
