"""Microsoft Graph's getPstnCalls / getSmsLog rows: a page, a list of pages or rows, JSON lines."""

import codecs
import json
from decimal import Decimal

from ...choices import RecordKind
from ...columns import GRAPH_PSTN_FIELDS, GRAPH_PSTN_REQUIRED, GRAPH_SMS_FIELDS, GRAPH_SMS_REQUIRED
from .rows import Layout, RowSource, SourceError


def parse_json(data):
    """JSON text (str, or UTF-8 bytes with or without a BOM) with numbers as Decimal, so that a
    charge of 0.015 stays 0.015. SourceError for what is not JSON, and for JSON nested too deeply
    for the parser (`[[[[...]]]]`), which Python's json refuses with a RecursionError."""
    try:
        text = data.decode("utf-8-sig") if isinstance(data, bytes | bytearray) else data
        return json.loads(text, parse_float=Decimal)
    except UnicodeDecodeError:
        raise SourceError("The JSON is not UTF-8 text.") from None
    except RecursionError:
        raise SourceError("The JSON is nested too deeply: a Graph page is an object holding a list of objects.") from None
    except ValueError as exc:
        raise SourceError(f"The JSON cannot be read: {exc}.") from None


def _graph_fields(kind):
    if kind == RecordKind.SMS:
        return GRAPH_SMS_FIELDS, GRAPH_SMS_REQUIRED
    return GRAPH_PSTN_FIELDS, GRAPH_PSTN_REQUIRED


def kind_of_graph_page(context, default):
    """The report a page's `@odata.context` (text) names, or `default` if it names none."""
    if "getSmsLog" in context:
        return RecordKind.SMS
    if "getPstnCalls" in context:
        return RecordKind.PSTN
    return default


class _NotAValue(Exception):
    """A row's value that is a JSON object or list: Graph's values are text, numbers, true, false or null."""


def _as_text(value):
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        raise _NotAValue
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
        try:
            values = [_as_text(item.get(key)) for key in keys]
        except _NotAValue:
            nested = [key for key in keys if isinstance(item.get(key), dict | list)]
            problem = "is a JSON object or list; a value is text, a number, true, false or null."
            yield label, SourceError(problem, row=label, column=", ".join(nested))
            continue
        yield label, values


def _page(page, kind, label):
    """(kind, rows, prefix of the rows' labels) of one Graph page, named `label` in errors ("" for the
    body as a whole, "[2]" in a list of pages): its `value` is a list, its `@odata.context` text."""
    context = page.get("@odata.context", "")
    if not isinstance(context, str):
        raise SourceError("The page's \"@odata.context\" is not text (Graph's context URL, naming the report the page comes from).",
                          row=label, column="@odata.context")
    items = page.get("value")
    if not isinstance(items, list):
        raise SourceError("The page has no \"value\" list (a Graph page holds its rows in \"value\").", row=label, column="value")
    return kind_of_graph_page(context, kind), items, f"{label}.value" if label else "value"


def pages_from_payload(payload, kind):
    """A page ({"value": [...]}), a bare list of rows, or a list of pages: as a script sends them.
    Every page is checked before any row is read (SourceError naming the page and its key)."""
    if isinstance(payload, dict):
        return [_page(payload, kind, "")]
    if isinstance(payload, list):
        if payload and all(isinstance(p, dict) and "value" in p for p in payload):
            return [_page(p, kind, f"[{i}]") for i, p in enumerate(payload)]
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
    """A whole JSON file (see parse_json)."""
    return parse_json(binary.read())


def from_jsonl(binary, kind, description="") -> RowSource:
    """One Graph page (or one row) per line: a way to hand over many pages without loading them all."""
    layout = graph_layout(kind)
    reader = codecs.getreader("utf-8-sig")(binary)

    def rows():
        yield "", layout
        number = 0
        try:
            for number, line in enumerate(reader, start=1):
                yield from _jsonl_line(line, number, kind)
        except UnicodeDecodeError as exc:
            raise SourceError(f"The file is not UTF-8 text ({exc.reason}).", row=f"line {number + 1}") from None

    return RowSource(kind=kind, rows=rows(), layout=layout, description=description)


def _jsonl_line(line, number, kind):
    if not line.strip():
        return
    try:
        payload = parse_json(line)
    except SourceError as exc:
        yield f"line {number}", SourceError(exc.problem, row=f"line {number}")
        return
    if isinstance(payload, dict) and "value" not in payload:
        yield from graph_rows([payload], kind, prefix=f"line {number}")
        return
    try:
        pages = pages_from_payload(payload, kind)
    except SourceError as exc:
        where = f"line {number} {exc.row}".rstrip()
        yield where, SourceError(exc.problem, row=where, column=exc.column)
        return
    for page_kind, items, prefix in pages:
        if page_kind != kind:
            yield f"line {number}", SourceError("comes from another Graph report than the one imported.", row=f"line {number}")
            return
        yield from graph_rows(items, kind, prefix=f"line {number} {prefix or 'value'}")
