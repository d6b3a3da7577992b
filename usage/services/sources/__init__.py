"""Readers that turn a file or a Graph page into rows, without holding the whole input in memory.

A source yields `(label, values)` pairs: `label` names the row for error messages ("line 17",
"PSTN.calls.2024-05-01.csv line 3", "value[12]"), `values` maps our field names to the raw values.
It also knows the names its columns had in the input, so that an error names the column as the
admin sees it.

The rooms: rows.py (what every source gives: SourceError, Layout, RowSource), csv_files.py (CSV,
each row bounded in length before it is read whole), zipped.py (the original zip, checked before it
is inflated and counted while it is read), graph.py (Graph pages, JSON and JSON lines). Their
limits are the USAGE_IMPORT_* settings (docs/usage.md, "Limits of an import").
"""

from .csv_files import from_csv
from .graph import from_graph_payload, from_jsonl, graph_layout, graph_rows, load_json, parse_json
from .rows import Layout, RowSource, SourceError
from .zipped import from_zip

__all__ = [
    "Layout",
    "RowSource",
    "SourceError",
    "from_csv",
    "from_graph_payload",
    "from_jsonl",
    "from_zip",
    "graph_layout",
    "graph_rows",
    "load_json",
    "open_source",
    "parse_json",
]


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
