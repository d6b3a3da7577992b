"""Benchmarks: `make bench` runs `python -m bench` (see bench/__main__.py)."""

import platform
from pathlib import Path


def cpu_model():
    """The processor's name, as the figures in docs/performance.md state their machine."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "?"


def as_figures(figures, skipped_name, why=None):
    """`run()`'s answer for `python -m bench`: figure tuples (name, value, unit[, note]) as dicts, or one
    skipped figure saying why when there are none."""
    if figures is None:
        return [(skipped_name, None, "", why)]
    return [{"name": f[0], "value": f[1], "unit": f[2], "note": f[3] if len(f) > 3 else ""} for f in figures]


def figures_table(figures):
    """The figures as a Markdown table's lines, numbers with thousands separators."""
    lines = ["| figure | value | note |", "| --- | --- | --- |"]
    for figure in figures:
        name, value, unit = figure[:3]
        note = figure[3] if len(figure) > 3 else ""
        shown = f"{value:,}" if isinstance(value, int) else f"{value:,.1f}" if isinstance(value, float) else str(value)
        lines.append(f"| {name} | {shown} {unit} | {note} |")
    return lines


def write_section(docs, start, end, intro, figures, heading):
    """Put `intro` and the figures' table between the `start` and `end` markers of `docs` (the file),
    replacing what was there; or add them at the end after `heading` (Markdown) when the markers are missing."""
    block = "\n".join([start, "", intro, "", *figures_table(figures), "", end])
    text = docs.read_text() if docs.exists() else "# Performance\n"
    if start in text and end in text:
        text = text.split(start)[0] + block + text.split(end, 1)[1]
    else:
        text = text.rstrip() + "\n\n" + heading.strip() + "\n\n" + block + "\n"
    docs.write_text(text)
