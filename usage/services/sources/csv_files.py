"""CSV files of the original export: the header read by column name, then the rows, each bounded in
length before it is read whole."""

import csv
import io
from functools import partial

from django.conf import settings

from billing.formulas import restore_neutralized

from ...choices import RecordKind
from ...columns import PSTN_IMPORT_FIELDS, PSTN_REQUIRED, SMS_IMPORT_FIELDS, SMS_REQUIRED, normalize_header
from .rows import Layout, RowSource, SourceError


class RowTooLong(Exception):
    """A row longer than the limit: the reader of the rows says which one."""


class BoundedLines:
    """The lines of a text stream for csv.reader, with no row longer than `limit` characters.

    Lines are read with readline(limit + 1), so that a line of 20 MB of commas costs `limit`
    characters before it is refused, not 20 MB and the list of its twenty million values. A row whose
    quoted values hold line breaks spans several lines: `row_chars` counts the characters of the row
    being read, and the reader of the rows starts it again after each row (`next_row`). `quoted` says
    whether the row holds a single quote, the mark of a neutralized formula (billing.formulas), so
    that only such rows are looked at value by value.
    """

    def __init__(self, text, limit):
        self.text = text
        self.limit = limit
        self.row_chars = 0
        self.quoted = False

    def __iter__(self):
        limit = self.limit
        for line in iter(partial(self.text.readline, limit + 1), ""):
            self.row_chars += len(line)
            if self.row_chars > limit:
                raise RowTooLong(limit)
            if "'" in line:
                self.quoted = True
            yield line

    def next_row(self):
        self.row_chars = 0
        self.quoted = False


def too_long(limit):
    return (
        f"is longer than {limit:,} characters, far more than any row of a usage export: the file is refused "
        "without reading the rest of it."
    )


class _KeepOpen(io.BufferedIOBase):
    """A view of a binary file that leaves it open when the text wrapper around it is closed, so
    that the import can read the same upload again from the start."""

    def __init__(self, raw):
        super().__init__()
        self._raw = raw

    def readable(self):
        return True

    def read(self, size=-1):
        return self._raw.read(size)

    def read1(self, size=-1):
        return self._raw.read(size)

    def close(self):
        pass


def text_stream(binary):
    """A text view of an uploaded or opened binary file: UTF-8, with or without a BOM."""
    return io.TextIOWrapper(_KeepOpen(binary), encoding="utf-8-sig", newline="")


def csv_reader(binary):
    """(csv.reader, its BoundedLines) over a binary file, rows bounded by USAGE_IMPORT_MAX_ROW_CHARS."""
    lines = BoundedLines(text_stream(binary), settings.USAGE_IMPORT_MAX_ROW_CHARS)
    return csv.reader(lines), lines


def _csv_fields(kind):
    if kind == RecordKind.SMS:
        return SMS_IMPORT_FIELDS, SMS_REQUIRED
    return PSTN_IMPORT_FIELDS, PSTN_REQUIRED


def read_header(reader, lines, kind, prefix=""):
    known, required = _csv_fields(kind)
    by_normal = {normalize_header(name): f for name, f in known.items()}
    try:
        header = next(reader)
    except StopIteration:
        raise SourceError("The file is empty: the first row must hold the column names.", row=prefix + "line 1") from None
    except RowTooLong as exc:
        raise SourceError(too_long(exc.args[0]), row=prefix + "line 1") from None
    except UnicodeDecodeError as exc:
        raise SourceError(f"The file is not UTF-8 text ({exc.reason}).", row=prefix + "line 1") from None
    except csv.Error as exc:
        raise SourceError(f"The CSV cannot be read: {exc}.", row=prefix + "line 1") from None
    lines.next_row()
    mapping, names, ignored, seen = [], {}, [], set()
    for index, raw_name in enumerate(header):
        normal = normalize_header(raw_name)
        if not normal:
            continue
        if normal in seen:
            raise SourceError(f"The column \"{raw_name.strip()}\" appears twice.", row=prefix + "line 1", column=raw_name.strip())
        seen.add(normal)
        target = by_normal.get(normal)
        if target is None:
            ignored.append(raw_name.strip())
            continue
        mapping.append((index, target))
        names[target] = raw_name.strip()
    missing = [name for name in required if normalize_header(name) not in seen]
    if missing:
        raise SourceError(
            f"Missing column(s): {', '.join(missing)}. The first row must hold the export's column names "
            "(older and current exports are both accepted).",
            row=prefix + "line 1",
            column=", ".join(missing),
        )
    return Layout(mapping, names, ignored), len(header)


def csv_rows(reader, lines, width, prefix=""):
    """The data rows of a CSV reader whose header has been read. A value that an export neutralized
    as a formula (`'=...`, billing.formulas) is read back as it was."""
    line = 1
    try:
        for values in reader:
            line += 1
            if lines.quoted:
                values = [restore_neutralized(value) for value in values]
            lines.next_row()
            if len(values) != width:
                if not values or (len(values) == 1 and not values[0].strip()):
                    continue
                label = f"{prefix}line {line}"
                yield label, SourceError(f"has {len(values)} values but the header has {width} columns.", row=label)
                continue
            yield f"{prefix}line {line}", values
    except RowTooLong as exc:
        raise SourceError(too_long(exc.args[0]), row=f"{prefix}line {line + 1}") from None
    except UnicodeDecodeError as exc:
        raise SourceError(f"The file is not UTF-8 text ({exc.reason}).", row=f"{prefix}line {line + 1}") from None
    except csv.Error as exc:
        raise SourceError(f"The CSV cannot be read: {exc}.", row=f"{prefix}line {line + 1}") from None


def from_csv(binary, kind, description="") -> RowSource:
    reader, lines = csv_reader(binary)
    layout, width = read_header(reader, lines, kind)

    def rows():
        yield "line 1", layout
        yield from csv_rows(reader, lines, width)

    return RowSource(kind=kind, rows=rows(), layout=layout, description=description)
