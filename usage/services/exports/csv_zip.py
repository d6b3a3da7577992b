"""The original format: a zip of per-day CSV files and parameters.json (see the package's notes)."""

import csv
import io
import json
import zipfile
from datetime import UTC, date, datetime, timedelta

from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.utils import timezone
from psycopg import ClientCursor

from billing.formulas import FIRST_CHARACTERS, FORMULA_START, neutralize_formula

from ...choices import RecordKind
from ...selectors import TIME_FIELDS
from .columns import COLUMNS, FETCH_CHUNK, INTEGER_FIELDS, MONEY_FIELDS, TIME_VALUE_FIELDS, iso_time
from .progress import Progress

COPY_WRITE_BYTES = 1 << 20
# Stand-ins for a day's bounds in the compiled query (csv_members_by_copy): no record is that old.
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
    """PostgreSQL formats the CSV (COPY ... TO STDOUT), a day at a time, while this process compresses
    it: the same bytes as csv.writer would write, at a fraction of the cost."""

    model = rows.model
    table = connection.ops.quote_name(model._meta.db_table)
    fields = [f for _, f in COLUMNS[kind]]
    time_field = TIME_FIELDS[kind]
    start, end = date.fromisoformat(parameters["start"]), date.fromisoformat(parameters["end"])
    header_line = ("\r\n".join([_csv_header(header)]) + "\r\n").encode()
    count = 0
    day = start
    # The query is compiled once, its day bounds placeholders: compiling it for each of a year's days
    # cost an export of 100,000 records about a third of its time.
    day_rows = rows.filter(**{f"{time_field}__gte": _LOW, f"{time_field}__lt": _HIGH})
    day_rows = day_rows.extra(select={f"c{i}": _sql_text(f, table) for i, f in enumerate(fields)})
    try:
        sql, params = day_rows.values_list(*[f"c{i}" for i in range(len(fields))]).query.sql_with_params()
    except EmptyResultSet:
        # A filter that can match nothing (a username no one has) compiles to no query at all.
        return 0
    params = list(params)
    low_at, high_at = params.index(_LOW), params.index(_HIGH)
    with connection.cursor() as cursor:
        raw = cursor.cursor
        mogrify = ClientCursor(raw.connection).mogrify
        while day <= end:
            low = datetime.combine(day, datetime.min.time(), tzinfo=UTC)
            params[low_at], params[high_at] = low, low + timedelta(days=1)
            handle = None
            day_count = 0
            # COPY hands over one row a block: written to the member a megabyte at a time, since each
            # write costs the zip a compressor call and a CRC update (half an export's time, row by row).
            pending, pending_size = [], 0
            with raw.copy(f"COPY ({mogrify(sql, params)}) TO STDOUT (FORMAT csv)") as copy:
                for block in copy:
                    pending.append(bytes(block))
                    pending_size += len(block)
                    if pending_size >= COPY_WRITE_BYTES:
                        handle = handle or _open_member(archive, member_pattern, day, header_line)
                        day_count += _write_csv_lines(handle, pending)
                        pending, pending_size = [], 0
            if pending:
                handle = handle or _open_member(archive, member_pattern, day, header_line)
                day_count += _write_csv_lines(handle, pending)
            # Told once the day's COPY is over: progress is an UPDATE on this same connection, which waited
            # forever for the COPY it was inside of (a background export of 10,000 rows or more hung its
            # worker; bench/faults.py found it).
            count += day_count
            progress.tick(day_count)
            if handle is not None:
                handle.close()
            day += timedelta(days=1)
    return count


def _open_member(archive, member_pattern, day, header_line):
    handle = archive.open(member_pattern.format(day=day.isoformat()), "w", force_zip64=True)
    handle.write(header_line)
    return handle


def _write_csv_lines(handle, blocks):
    """Write COPY's lines with the original format's CRLF endings; returns how many were written."""
    data = b"".join(blocks)
    handle.write(data.replace(b"\n", b"\r\n"))
    return data.count(b"\n")


def _csv_header(header):
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow(header)
    return out.getvalue()
