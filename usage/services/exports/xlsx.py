"""The .xlsx export (see the package's notes)."""

import tempfile

import xlsxwriter

from ...choices import RecordKind
from .columns import COLUMNS, FETCH_CHUNK, INTEGER_FIELDS, MONEY_FIELDS, TIME_VALUE_FIELDS
from .progress import Progress

EXCEL_MAX_ROWS = 1_048_576
EXCEL_EPOCH_DAYS = 25569  # 1970-01-01 in Excel's 1900 date system
SECONDS_PER_DAY = 86400


def _excel_serial(moment):
    return moment.timestamp() / SECONDS_PER_DAY + EXCEL_EPOCH_DAYS


def open_workbook(target):
    """An xlsxwriter workbook in constant memory whose text cells stay text: nothing in a value is ever
    turned into a formula, a link or a number (every .xlsx the site writes)."""
    return xlsxwriter.Workbook(
        target,
        {
            "constant_memory": True,
            "tmpdir": tempfile.gettempdir(),
            "strings_to_formulas": False,
            "strings_to_urls": False,
            "strings_to_numbers": False,
        },
    )


def write_xlsx(rows, target, kind, *, progress=None, max_rows=EXCEL_MAX_ROWS, sheet_title=None):
    """Write `rows` (a queryset ordered as exported) to `target` (a path); returns the row count."""
    progress = progress or Progress()
    columns = COLUMNS[kind]
    fields = [f for _, f in columns]
    workbook = open_workbook(target)
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
