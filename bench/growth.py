"""Growth benchmark: the same figures at 100,000, 1,000,000 and 10,000,000 call records.

For each size, in a throwaway PostgreSQL database of its own (bench_growth_<name>, created here and dropped
afterwards), one organization gets a year of calls ending today (bench.usage's generator and people,
so 28 days hold 1/13 of the rows), and this measures:

1. ingestion: the file imported by the project's own service (usage.services.ingest.import_file) in a
   child process (rows/s and that process's peak memory), beside PostgreSQL COPY of the same file into
   a bare table before and after it (bench.usage.copy_reference). The machine is shared, so the
   comparable figure is the ratio to COPY;
2. server time (median and 95th percentile of 15 requests through Django's test Client, signed in as
   a Billing Administrator) of the report page: 28 days, first page; a year, first and last page; a
   year filtered by one user, first page; and of Billing > Your products > Communications Credits;
3. export rates (rows/s, each in a child process): the .xlsx export of the last 28 days and the original
   format (.zip of per-day CSV files) of the whole year. The .xlsx of a year is not measured: at about
   6,000 rows/s it would take close to half an hour at 10,000,000 rows; the 28-day range holds as many
   rows at 10,000,000 as a year does at 1,000,000, so its rate compares across sizes.

The CSV is written to a file on disk row by row (bench.usage.write_csv streams: it never holds the rows),
in --dir (default the system's temporary directory), and deleted after its size. Each figure's spread
across sizes (largest value / smallest) is printed and recorded; the target is at most 1.5x.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/credits_growth .venv/bin/python -m bench.growth \\
        --records 100000,1000000,10000000 --write-docs

`make bench` runs it too (`python -m bench growth`), at the sizes of BENCH_GROWTH_RECORDS (default the
three above: about half an hour).
"""

import argparse
import datetime
import json
import logging
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from bench import as_figures, throwaway_database, write_section
from bench.usage import SLUG, copy_reference, peak_mb, people, prepare, setup_django, write_csv

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs" / "performance.md"
START, END = "<!-- growth-bench:start -->", "<!-- growth-bench:end -->"
SIZES = os.environ.get("BENCH_GROWTH_RECORDS", "100000,1000000,10000000")
REPEAT = 15
TARGET_SPREAD = 1.5
# bench.usage's file runs about 321 bytes a row; room is checked before writing one.
BYTES_PER_ROW = 340
CREDITS_URL = "/billing/products/communications-credits/"
REPORT_URL = "/reports/usage/"
# (key, column heading, unit, higher is better): the per-size table's figures, in order.
COLUMNS = [
    ("copy_rate", "COPY, bare table", "rows/s", True),
    ("ingest_rate", "import", "rows/s", True),
    ("ingest_share", "import / COPY", "%", True),
    ("ingest_peak_mb", "import peak memory", "MB", False),
    ("report_28_first", "report, 28 days, first page", "ms", False),
    ("report_year_first", "report, a year, first page", "ms", False),
    ("report_year_last", "report, a year, last page", "ms", False),
    ("report_user", "report, a year, one user, first page", "ms", False),
    ("credits_page", "credits page", "ms", False),
    ("xlsx_rate", ".xlsx export, 28 days", "rows/s", True),
    ("csv_zip_rate", "original format export, a year", "rows/s", True),
]


# One size ---------------------------------------------------------------------------------------------


def measure_size(rows, directory, checkpoint=None):
    """Every figure at `rows` records, in a database created for it and dropped afterwards. `checkpoint`
    is called with the figures so far after each part, so that a long size leaves what it measured."""
    checkpoint = checkpoint or (lambda out: None)
    setup_django()
    from django.db import connection

    if connection.vendor != "postgresql":
        return None
    free = shutil.disk_usage(directory).free
    if free < rows * BYTES_PER_ROW * 1.2:
        raise RuntimeError(f"{directory} has {free / 1e9:.1f} GB free; {rows:,} rows need about {rows * BYTES_PER_ROW / 1e9:.1f} GB")
    today = datetime.datetime.now(datetime.UTC).date()
    out = {"rows": rows, "today": today.isoformat(), "load_start": os.getloadavg(),
           "started": f"{datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M}"}
    fd, path = tempfile.mkstemp(prefix="PSTN.calls.growth.", suffix=".csv", dir=directory)
    os.close(fd)
    try:
        with throwaway_database("growth") as database_url:
            org = prepare()
            started = time.perf_counter()
            write_csv(path, rows, today)
            out["generate_seconds"] = time.perf_counter() - started
            out["file_mb"] = os.path.getsize(path) / 1e6
            checkpoint(out)
            copied, before = copy_reference(path)
            out["ingest"] = run_child("ingest", database_url, today, ["--file", path])
            # The reference again right after, so that a busy machine weighs on both alike.
            _, after = copy_reference(path)
            out["copy_rows"], out["copy_seconds"] = copied, (before + after) / 2
            checkpoint(out)
            os.unlink(path)
            with connection.cursor() as cursor:
                cursor.execute("VACUUM ANALYZE usage_callrecord")
            out["pages"], out["in_range"] = server_times(org, today)
            checkpoint(out)
            out["csv_zip"] = run_child("csv_zip", database_url, today, ["--days", "365"])
            checkpoint(out)
            out["xlsx"] = run_child("xlsx", database_url, today, ["--days", "28"])
    finally:
        if os.path.exists(path):
            os.unlink(path)
    out["load_end"] = os.getloadavg()
    return out


def run_child(name, database_url, today, extra=()):
    """One heavy part in a fresh process, so that its peak memory (Django included) is its own."""
    env = dict(os.environ, DATABASE_URL=database_url, DEBUG="false")
    command = [sys.executable, "-m", "bench.growth", "--child", name, "--today", today.isoformat(), *extra]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{name} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def child(args):
    """Run one part in this process and print its figures as JSON (see run_child)."""
    setup_django()
    from billing.models import Organization
    from usage.selectors import parameters_for
    from usage.services.exports.files import build_file
    from usage.services.ingest import import_file

    org = Organization.objects.get(slug=SLUG)
    today = datetime.date.fromisoformat(args.today)
    if args.child == "ingest":
        started = time.perf_counter()
        with open(args.file, "rb") as handle:
            result = import_file(org, handle, Path(args.file).name, "pstn", origin="command")
        out = {"rows": result.created, "seconds": time.perf_counter() - started}
    else:
        parameters = parameters_for("pstn", today - datetime.timedelta(days=args.days - 1), today, {})
        fd, target = tempfile.mkstemp(suffix=".growth")
        os.close(fd)
        try:
            started = time.perf_counter()
            exported = build_file(org, args.child, parameters, target, public_id=uuid.uuid4())
            out = {"rows": exported, "seconds": time.perf_counter() - started, "bytes": os.path.getsize(target), "days": args.days}
        finally:
            os.unlink(target)
    out["peak_mb"] = peak_mb()
    print(json.dumps(out))


def server_times(org, today):
    """Median and 95th percentile (ms) of each page, and how many records each report case covers."""
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.test import Client

    from billing.choices import AdminRole
    from billing.models import Membership, MembershipRole
    from usage import selectors
    from usage.models import CallRecord, Person

    settings.ALLOWED_HOSTS = ["*"]
    settings.DEBUG = False
    # One log line a request would bury the figures in the output.
    logging.getLogger("credits_site.requests").setLevel(logging.WARNING)
    user, _ = get_user_model().objects.get_or_create(username="billing@growth.example", defaults={"email": "billing@growth.example"})
    membership, _ = Membership.objects.get_or_create(user=user, organization=org)
    MembershipRole.objects.get_or_create(membership=membership, role=AdminRole.BILLING_ADMINISTRATOR)
    client = Client()
    client.force_login(user)
    year_start, month_start = today - datetime.timedelta(days=364), today - datetime.timedelta(days=27)
    year = {"range": "custom", "start": year_start.isoformat(), "end": today.isoformat()}
    upn = people()[7][0]
    person = Person.objects.get(organization=org, upn=upn)
    in_range = {
        "report_28_first": selectors.summary(org, "pstn", month_start, today).records,
        "report_year_first": selectors.summary(org, "pstn", year_start, today).records,
        "report_user": CallRecord.objects.filter(organization=org, person=person).count(),
    }
    in_range["report_year_last"] = in_range["report_year_first"]
    cases = {
        "report_28_first": (REPORT_URL, {"range": "28"}),
        "report_year_first": (REPORT_URL, year),
        "report_year_last": (REPORT_URL, {**year, "page": "last"}),
        "report_user": (REPORT_URL, {**year, "user": upn}),
        "credits_page": (CREDITS_URL, {}),
    }
    times = {}
    for key, (url, query) in cases.items():
        for _ in range(3):
            client.get(url, query)
        spent = []
        for _ in range(REPEAT):
            started = time.perf_counter()
            response = client.get(url, query)
            spent.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, (url, query, response.status_code)
        if key in in_range:
            # A whole page of records, or all of them when there are fewer (one user at a small size).
            shown = response.content.count(b"<tr>")
            assert shown >= min(50, in_range[key]), (key, shown, in_range[key])
        times[key] = (statistics.median(spent), sorted(spent)[max(int(len(spent) * 0.95) - 1, 0)])
    return times, in_range


# Figures ----------------------------------------------------------------------------------------------


def values(result):
    """The per-size table's figures (COLUMNS' keys) of one size's results."""
    out = dict.fromkeys((key for key, *_ in COLUMNS), None)  # None: not measured (yet)
    if "copy_seconds" in result:
        ingest = result["ingest"]
        copy_rate = result["copy_rows"] / result["copy_seconds"]
        ingest_rate = ingest["rows"] / ingest["seconds"]
        out.update(copy_rate=copy_rate, ingest_rate=ingest_rate, ingest_share=ingest_rate / copy_rate * 100, ingest_peak_mb=ingest["peak_mb"])
    for key in ("xlsx", "csv_zip"):
        if key in result:
            out[f"{key}_rate"] = result[key]["rows"] / result[key]["seconds"]
    for key, (median, _) in result.get("pages", {}).items():
        out[key] = median
    return out


def spreads(results):
    """Each figure's largest value over its smallest across the sizes that have it (None under two)."""
    table = [values(r) for r in results]
    out = {}
    for key, *_ in COLUMNS:
        measured = [t[key] for t in table if t[key] is not None]
        out[key] = max(measured) / min(measured) if len(measured) > 1 else None
    return out


def shown(value, unit):
    if value is None:
        return "not measured"
    if unit == "rows/s":
        return f"{value:,.0f}"
    return f"{value:,.1f}"


def table_lines(results):
    """One row per size, then the spread (largest / smallest) of each figure and whether it is within 1.5x."""
    head = ["records", *[f"{heading} ({unit})" for _, heading, unit, _ in COLUMNS], "load average (start, end)"]
    lines = ["| " + " | ".join(head) + " |", "| " + " | ".join(["---:"] * (len(head) - 1) + ["---"]) + " |"]
    for result in results:
        figures = values(result)
        cells = [f"{result['rows']:,}"]
        for key, _, unit, _ in COLUMNS:
            cell = shown(figures[key], unit)
            if key in result.get("pages", {}):
                cell += f" (p95 {result['pages'][key][1]:,.1f})"
            cells.append(cell)
        load = f"{result['load_start'][0]:.1f}, " + (f"{result['load_end'][0]:.1f}" if "load_end" in result else "(unfinished)")
        lines.append("| " + " | ".join([*cells, load]) + " |")
    spread = spreads(results)
    marks = ["" if spread[key] is None else f"{spread[key]:.2f}x {'ok' if spread[key] <= TARGET_SPREAD else 'OVER'}" for key, *_ in COLUMNS]
    lines.append("| " + " | ".join(["largest / smallest", *marks, ""]) + " |")
    return lines


def check_figures(results):
    """The spreads as figures (name, value, unit, note) for `python -m bench` and the docs' check list."""
    spread = spreads(results)
    # The spread as text with two decimals: the docs' table shows numbers with one, and 1.54 must not
    # read as 1.5 beside "NOT met".
    return [
        (f"{heading}: largest / smallest", f"{spread[key]:.2f}", "x",
         f"target at most {TARGET_SPREAD}x: {'met' if spread[key] <= TARGET_SPREAD else 'NOT met'}")
        for key, heading, _, _ in COLUMNS
        if spread[key] is not None
    ]


def details(results):
    """What each size's rows and files were, for the docs under the table."""
    lines = []
    for r in results:
        if "xlsx" not in r:
            lines.append(f"- {r['rows']:,} records ({r['started']} UTC): unfinished; what it measured: "
                         + json.dumps({k: v for k, v in r.items() if k not in ("rows", "started", "today")}))
            continue
        x, z = r["xlsx"], r["csv_zip"]
        lines.append(
            f"- {r['rows']:,} records ({r['started']} UTC): CSV of {r['file_mb']:,.0f} MB generated in {r['generate_seconds']:,.0f} s; "
            f"import {r['ingest']['rows']:,} rows in {r['ingest']['seconds']:,.1f} s; COPY {r['copy_rows']:,} rows in "
            f"{r['copy_seconds']:,.1f} s (mean of before and after); 28 days hold {r['in_range']['report_28_first']:,} records, "
            f"the user {r['in_range']['report_user']:,}; .xlsx {x['rows']:,} rows in {x['seconds']:,.1f} s ({x['bytes'] / 1e6:,.0f} MB, "
            f"peak {x['peak_mb']:,.0f} MB); original format {z['rows']:,} rows in {z['seconds']:,.1f} s ({z['bytes'] / 1e6:,.0f} MB, "
            f"peak {z['peak_mb']:,.0f} MB)."
        )
    return lines


def write_docs(results, pending=""):
    from bench.__main__ import machine

    intro = "\n".join([
        f"`python -m bench.growth`, measured on {machine()}, PostgreSQL, each size in one run and a database of its own "
        "(the start of each size's run is under the table; see the module's docstring for what each figure is). Times are "
        f"the server's time of the whole page, median of {REPEAT} requests (95th percentile in brackets). The load average "
        "(its own work included: about 1 on an idle machine) is given beside each size, since other work on the same CPUs "
        "slows every figure; ingestion is compared with COPY of the same file in the same run.",
        "",
        *table_lines(results),
        "",
        *details(results),
        *([f"\n{pending}"] if pending else []),
        "",
        "Each figure's spread across the sizes (largest value / smallest; the target is at most 1.5x):",
    ])
    write_section(DOCS, START, END, intro, check_figures(results), "## Growth")


# Entry points -----------------------------------------------------------------------------------------


def parse_sizes(text):
    return [int(part.replace("_", "")) for part in text.split(",") if part.strip()]


def run():
    """`make bench` entry point: every size of BENCH_GROWTH_RECORDS, the spreads as figures."""
    results = []
    for rows in parse_sizes(SIZES):
        result = measure_size(rows, tempfile.gettempdir())
        if result is None:
            return as_figures(None, "growth benchmark", "needs PostgreSQL: run with DATABASE_URL=postgres://...")
        results.append(result)
    out = []
    for result in results:
        figures = values(result)
        out += [(f"{result['rows']:,} records: {heading}", round(figures[key], 1), unit) for key, heading, unit, _ in COLUMNS]
    return as_figures(out + check_figures(results), "growth benchmark")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", default=SIZES, help="sizes, comma-separated (default %(default)s)")
    parser.add_argument("--dir", default=tempfile.gettempdir(), help="where the CSV file is written (default %(default)s)")
    parser.add_argument("--write-docs", action="store_true", help="write the table into docs/performance.md (Growth) after each size")
    parser.add_argument("--save", help="also keep each size's results as JSON lines in this file")
    parser.add_argument("--docs-from", help="measure nothing: write the docs from the results --save kept in this file")
    parser.add_argument("--note", default="", help="a paragraph for the docs under the table (with --write-docs or --docs-from)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--today", help=argparse.SUPPRESS)
    parser.add_argument("--file", help=argparse.SUPPRESS)
    parser.add_argument("--days", type=int, default=365, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return 0
    if args.docs_from:
        with open(args.docs_from) as handle:
            results = [json.loads(line) for line in handle if line.strip()]
        print("\n".join(table_lines(results)))
        write_docs(results, args.note)
        print(f"Written to {DOCS}")
        return 0
    sizes = parse_sizes(args.records)
    # With --save, the sizes an earlier run kept stay in the table (each size is still one run), unless
    # measured again here.
    kept = []
    if args.save and os.path.exists(args.save):
        with open(args.save) as handle:
            kept = [r for r in map(json.loads, filter(str.strip, handle)) if r["rows"] not in sizes]
    done = []

    def checkpoint(partial, finished=False):
        results = sorted([*kept, *done, *([] if finished else [partial])], key=lambda r: r["rows"])
        if args.save:
            with open(args.save, "w") as handle:
                handle.writelines(json.dumps(r) + "\n" for r in results)
        if args.write_docs:
            left = [n for n in sizes if n not in {r["rows"] for r in done}]
            running = f"Still running when this was written: {', '.join(f'{n:,}' for n in left)} records." if left else ""
            write_docs(results, " ".join(filter(None, [args.note, running])))
        return results

    for rows in sizes:
        print(f"== {rows:,} records (load average {os.getloadavg()[0]:.1f})", flush=True)
        result = measure_size(rows, args.dir, checkpoint)
        if result is None:
            print("Skipped: needs PostgreSQL: run with DATABASE_URL=postgres://... (a throwaway bench_growth_ database is created)")
            return 0
        done.append(result)
        results = checkpoint(result, finished=True)
        print("\n".join(table_lines(results)), flush=True)
    for name, value, unit, note in check_figures(sorted([*kept, *done], key=lambda r: r["rows"])):
        print(f"{name}: {value} {unit} ({note})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
