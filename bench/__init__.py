"""Benchmarks: `make bench` runs `python -m bench` (see bench/__main__.py)."""

import platform
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote


def cpu_model():
    """The processor's name, as the figures in docs/performance.md state their machine."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "?"


@contextmanager
def throwaway_database(name):
    """A fresh, migrated database beside the configured one, dropped afterwards; Django must be set up.

    On PostgreSQL it is `bench_<name>_<configured name>`, not the test runner's `test_<name>`: a test
    run may be using that one at the same time. Yields the URL a child process connects to it with
    (`DATABASE_URL`), or None on SQLite, where it is in memory and only this process sees it.
    """
    from django.db import connection

    settings_dict = connection.settings_dict
    old_name = settings_dict["NAME"]
    postgres = connection.vendor == "postgresql"
    if postgres:
        settings_dict.setdefault("TEST", {})["NAME"] = f"bench_{name}_{Path(str(old_name)).stem}"
    connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    try:
        yield database_url(settings_dict) if postgres else None
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


def database_url(settings_dict):
    """A PostgreSQL database's settings as the URL that DATABASE_URL takes."""
    user = quote(settings_dict.get("USER") or "", safe="")
    password = settings_dict.get("PASSWORD")
    login = f"{user}:{quote(password, safe='')}@" if password else f"{user}@" if user else ""
    host = settings_dict.get("HOST") or "127.0.0.1"
    return f"postgres://{login}{host}:{settings_dict.get('PORT') or 5432}/{quote(settings_dict['NAME'], safe='')}"


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
