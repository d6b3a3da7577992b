"""Readers that turn a file or a Graph page into rows, without holding the whole input in memory.

A source yields `(label, values)` pairs: `label` names the row for error messages ("line 17",
"PSTN.calls.2024-05-01.csv line 3", "value[12]"), `values` maps our field names to the raw values.
It also knows the names its columns had in the input, so that an error names the column as the
admin sees it.
"""

import codecs
import csv
import io
import json
import zipfile
from dataclasses import dataclass, field
from decimal import Decimal

from ..choices import RecordKind
from ..columns import (
    GRAPH_PSTN_FIELDS,
    GRAPH_PSTN_REQUIRED,
    GRAPH_SMS_FIELDS,
    GRAPH_SMS_REQUIRED,
    PSTN_IMPORT_FIELDS,
    PSTN_REQUIRED,
    SMS_IMPORT_FIELDS,
    SMS_REQUIRED,
    normalize_header,
)


class SourceError(Exception):
    """The input as a whole cannot be read (not the problem of one row)."""

    def __init__(self, problem, *, row="", column=""):
        super().__init__(problem)
        self.problem = problem
        self.row = row
        self.column = column


@dataclass
class Layout:
    """Which field each position of the following rows holds, and the input's name for each field."""

    mapping: list  # [(position, field)]
    names: dict  # field -> column name as the input spells it
    ignored: list = field(default_factory=list)


@dataclass
class RowSource:
    """`rows` yields (label, payload): payload is a list of values laid out as the last Layout says,
    a Layout (a new header, e.g. the next file of a zip), or a SourceError for a row that cannot be read."""

    kind: str
    rows: object
    layout: Layout
    description: str = ""

    @property
    def column_names(self):
        return self.layout.names

    @property
    def ignored_columns(self):
        return self.layout.ignored


def _csv_fields(kind):
    if kind == RecordKind.SMS:
        return SMS_IMPORT_FIELDS, SMS_REQUIRED
    return PSTN_IMPORT_FIELDS, PSTN_REQUIRED


def read_header(reader, kind, prefix=""):
    known, required = _csv_fields(kind)
    by_normal = {normalize_header(name): f for name, f in known.items()}
    try:
        header = next(reader)
    except StopIteration:
        raise SourceError("The file is empty: the first row must hold the column names.", row=prefix + "line 1") from None
    except UnicodeDecodeError as exc:
        raise SourceError(f"The file is not UTF-8 text ({exc.reason}).", row=prefix + "line 1") from None
    except csv.Error as exc:
        raise SourceError(f"The CSV cannot be read: {exc}.", row=prefix + "line 1") from None
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


def csv_rows(reader, width, prefix=""):
    """The data rows of a CSV reader whose header has been read."""
    line = 1
    try:
        for values in reader:
            line += 1
            if len(values) != width:
                if not values or (len(values) == 1 and not values[0].strip()):
                    continue
                label = f"{prefix}line {line}"
                yield label, SourceError(f"has {len(values)} values but the header has {width} columns.", row=label)
                continue
            yield f"{prefix}line {line}", values
    except UnicodeDecodeError as exc:
        raise SourceError(f"The file is not UTF-8 text ({exc.reason}).", row=f"{prefix}line {line + 1}") from None
    except csv.Error as exc:
        raise SourceError(f"The CSV cannot be read: {exc}.", row=f"{prefix}line {line + 1}") from None


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


def from_csv(binary, kind, description="") -> RowSource:
    reader = csv.reader(text_stream(binary))
    layout, width = read_header(reader, kind)

    def rows():
        yield "line 1", layout
        yield from csv_rows(reader, width)

    return RowSource(kind=kind, rows=rows(), layout=layout, description=description)


ZIP_MEMBERS = {RecordKind.PSTN: ("PSTN.calls.", ".csv"), RecordKind.SMS: ("SMS.messages.", ".csv")}


def from_zip(binary, description="") -> RowSource:
    """The original export: Calls.Export.{id}.zip of PSTN.calls.{UTC date}.csv and parameters.json."""
    try:
        archive = zipfile.ZipFile(binary)
    except zipfile.BadZipFile:
        raise SourceError("The file is not a zip archive.") from None
    members = sorted(info.filename for info in archive.infolist() if not info.is_dir())
    kind, csv_members = None, []
    for candidate, (start, end) in ZIP_MEMBERS.items():
        found = [m for m in members if m.rsplit("/", 1)[-1].startswith(start) and m.endswith(end)]
        if found:
            kind, csv_members = candidate, found
            break
    if kind is None:
        raise SourceError("The zip holds no PSTN.calls.<date>.csv (or SMS.messages.<date>.csv) file.")
    if "parameters.json" in members:
        try:
            json.loads(archive.read("parameters.json").decode("utf-8-sig"))
        except (ValueError, UnicodeDecodeError):
            raise SourceError("parameters.json in the zip is not valid JSON.", row="parameters.json") from None

    def member_name(member):
        return member.rsplit("/", 1)[-1] + " "

    # The first file's header is read now, so that a missing column is reported before any row.
    with archive.open(csv_members[0]) as handle:
        first_layout, _ = read_header(csv.reader(text_stream(handle)), kind, prefix=member_name(csv_members[0]))

    def rows():
        for member in csv_members:
            prefix = member_name(member)
            with archive.open(member) as handle:
                reader = csv.reader(text_stream(handle))
                layout, width = read_header(reader, kind, prefix=prefix)
                yield prefix + "line 1", layout
                yield from csv_rows(reader, width, prefix=prefix)

    return RowSource(kind=kind, rows=rows(), layout=first_layout, description=description)


def _graph_fields(kind):
    if kind == RecordKind.SMS:
        return GRAPH_SMS_FIELDS, GRAPH_SMS_REQUIRED
    return GRAPH_PSTN_FIELDS, GRAPH_PSTN_REQUIRED


def kind_of_graph_page(page, default):
    context = page.get("@odata.context", "") if isinstance(page, dict) else ""
    if "getSmsLog" in context:
        return RecordKind.SMS
    if "getPstnCalls" in context:
        return RecordKind.PSTN
    return default


def _as_text(value):
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def graph_layout(kind):
    fields, _ = _graph_fields(kind)
    return Layout([(i, f) for i, f in enumerate(fields.values())], {f: k for k, f in fields.items()})


def graph_rows(items, kind, *, prefix="value"):
    """Rows of a Graph page's `value` (camelCase, as Graph returns them); unknown keys are ignored."""
    fields, required = _graph_fields(kind)
    keys = list(fields)
    for index, item in enumerate(items):
        label = f"{prefix}[{index}]"
        if not isinstance(item, dict):
            yield label, SourceError("is not a JSON object.", row=label)
            continue
        missing = [k for k in required if item.get(k) in (None, "")]
        if missing:
            yield label, SourceError(f"has no {', '.join(missing)}.", row=label, column=", ".join(missing))
            continue
        yield label, [_as_text(item.get(key)) for key in keys]


def pages_from_payload(payload, kind):
    """A page ({"value": [...]}), a bare list of rows, or a list of pages: as a script sends them."""
    if isinstance(payload, dict):
        if "value" not in payload or not isinstance(payload["value"], list):
            raise SourceError("The JSON object has no \"value\" list (a Graph page holds its rows in \"value\").", column="value")
        return [(kind_of_graph_page(payload, kind), payload["value"], "value")]
    if isinstance(payload, list):
        if payload and all(isinstance(p, dict) and "value" in p for p in payload):
            return [(kind_of_graph_page(p, kind), p["value"], f"[{i}].value") for i, p in enumerate(payload)]
        return [(kind, payload, "")]
    raise SourceError("The JSON must be a Graph page (an object with \"value\") or a list of rows.")


def from_graph_payload(payload, kind, description="") -> RowSource:
    pages = pages_from_payload(payload, kind)
    kinds = {k for k, _, _ in pages}
    if len(kinds) > 1:
        raise SourceError("The JSON mixes getPstnCalls and getSmsLog pages; send them separately.")
    page_kind = kinds.pop() if kinds else kind
    if page_kind != kind:
        raise SourceError(f"The page comes from {'getSmsLog' if page_kind == RecordKind.SMS else 'getPstnCalls'}; send it to the matching endpoint.")
    layout = graph_layout(kind)

    def rows():
        yield "", layout
        for _, items, prefix in pages:
            yield from graph_rows(items, kind, prefix=prefix or "value")

    return RowSource(kind=kind, rows=rows(), layout=layout, description=description)


def load_json(binary):
    """Parse JSON with numbers as Decimal, so that a charge of 0.015 stays 0.015."""
    try:
        return json.load(codecs.getreader("utf-8-sig")(binary), parse_float=Decimal)
    except UnicodeDecodeError:
        raise SourceError("The JSON is not UTF-8 text.") from None
    except ValueError as exc:
        raise SourceError(f"The JSON cannot be read: {exc}.") from None


def from_jsonl(binary, kind, description="") -> RowSource:
    """One Graph page (or one row) per line: a way to hand over many pages without loading them all."""
    layout = graph_layout(kind)
    reader = codecs.getreader("utf-8-sig")(binary)

    def rows():
        yield "", layout
        for number, line in enumerate(reader, start=1):
            if not line.strip():
                continue
            try:
                payload = json.loads(line, parse_float=Decimal)
            except ValueError as exc:
                yield f"line {number}", SourceError(f"is not valid JSON: {exc}.", row=f"line {number}")
                continue
            if isinstance(payload, dict) and "value" not in payload:
                yield from graph_rows([payload], kind, prefix=f"line {number}")
            else:
                for page_kind, items, prefix in pages_from_payload(payload, kind):
                    if page_kind != kind:
                        yield f"line {number}", SourceError("comes from another Graph report than the one imported.", row=f"line {number}")
                        break
                    yield from graph_rows(items, kind, prefix=f"line {number} {prefix or 'value'}")

    return RowSource(kind=kind, rows=rows(), layout=layout, description=description)


def open_source(binary, name, kind) -> RowSource:
    """Pick the reader by the file's name: .zip (original export), .json / .jsonl (Graph), else CSV."""
    lower = (name or "").lower()
    if lower.endswith(".zip"):
        return from_zip(binary, description=name)
    if lower.endswith(".jsonl") or lower.endswith(".ndjson"):
        return from_jsonl(binary, kind, description=name)
    if lower.endswith(".json"):
        return from_graph_payload(load_json(binary), kind, description=name)
    return from_csv(binary, kind, description=name)
