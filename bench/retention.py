"""Retention benchmark on PostgreSQL: the daily purge (usage.services.retention) over 1,000,000 call records.

1. A year of 1,000,000 calls in one organization, imported by the import service (records, per-day
   totals, hourly figures, cost allocation totals), then purged as of a day 61 days later: the first
   month (about 1/12 of the rows) has passed the report's year and the 30-day margin and leaves.
2. The same run measures, without a purge and then beside a purge of two more months running in
   another process: an import of 100,000 calls into another (empty) organization, then the report
   page of the large organization (28 days, first page; a year, last page). Target: each within 1.5x
   of its figure without the purge.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/credits_retain .venv/bin/python -m bench.retention --write-docs

It works in a throwaway database (bench_retention_<name>), created here and dropped afterwards.
"""

import argparse
import datetime
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import as_figures, throwaway_database, write_section
from bench.usage import page_timings, prepare, run_child, setup_django, write_csv

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs" / "performance.md"
START, END = "<!-- retention-bench:start -->", "<!-- retention-bench:end -->"
ROWS = int(os.environ.get("BENCH_RETENTION_ROWS", "1000000"))
SIDE_ROWS = int(os.environ.get("BENCH_RETENTION_IMPORT_ROWS", "100000"))
FIRST_PURGE_DAYS, SECOND_PURGE_DAYS, THIRD_PURGE_DAYS = 61, 121, 181


def child(args):
    setup_django()
    from billing.models import Organization
    from usage.services.ingest import import_file
    from usage.services.retention import purge_expired_usage

    started = time.perf_counter()
    if args.child == "purge":
        result = purge_expired_usage(today=datetime.date.fromisoformat(args.today))
        out = {"records": result.records, "batches": result.batches, "deleted": result.deleted}
    else:
        org = Organization.objects.get(slug=args.slug)
        with open(args.file, "rb") as handle:
            out = {"rows": import_file(org, handle, Path(args.file).name, "pstn", origin="command").created}
    out["started"], out["ended"] = started, time.perf_counter()
    out["seconds"] = out["ended"] - started
    out["wall_start"], out["wall_end"] = time.time() - out["seconds"], time.time()
    print(json.dumps(out))


def spawn(database_url, *args):
    env = dict(os.environ, DATABASE_URL=database_url, DEBUG="false")
    return subprocess.Popen([sys.executable, "-m", "bench.retention", "--child", *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def collect(process):
    out, err = process.communicate()
    if process.returncode != 0:
        raise RuntimeError(err[-3000:])
    return json.loads(out.strip().splitlines()[-1])


def overlap(a, b):
    """Share of `a`'s wall time during which `b` ran."""
    shared = min(a["wall_end"], b["wall_end"]) - max(a["wall_start"], b["wall_start"])
    return max(0.0, shared) / (a["wall_end"] - a["wall_start"])


def measure():
    setup_django()
    from django.db import connection

    if connection.vendor != "postgresql":
        return None, "needs PostgreSQL: run with DATABASE_URL=postgres://... (a throwaway bench_retention_ database is created)"
    today = datetime.datetime.now(datetime.UTC).date()
    results = {"rows": ROWS, "today": today.isoformat(), "load_before": os.getloadavg()}
    with throwaway_database("retention") as database_url:
        org = prepare()
        prepare("bench-quiet")
        prepare("bench-busy")
        with tempfile.TemporaryDirectory() as tmp:
            big, side = os.path.join(tmp, "PSTN.calls.year.csv"), os.path.join(tmp, "PSTN.calls.side.csv")
            write_csv(big, ROWS, today)
            write_csv(side, SIDE_ROWS, today)
            results["load"] = run_child("ingest", database_url, today, ["--file", big])
            with connection.cursor() as cursor:
                cursor.execute("VACUUM ANALYZE")
            first = (today + datetime.timedelta(days=FIRST_PURGE_DAYS)).isoformat()
            results["purge"] = collect(spawn(database_url, "purge", "--today", first))
            with connection.cursor() as cursor:
                cursor.execute("SELECT count(*) FROM usage_callrecord")
                results["left"] = cursor.fetchone()[0]
            # Without a purge, then beside one (and nothing else of ours): the same import, into an empty
            # organization each time; then the same pages.
            results["quiet_import"] = collect(spawn(database_url, "ingest", "--slug", "bench-quiet", "--file", side))
            purging = spawn(database_url, "purge", "--today", (today + datetime.timedelta(days=SECOND_PURGE_DAYS)).isoformat())
            time.sleep(1)  # the purge has started its batches
            results["busy_import"] = collect(spawn(database_url, "ingest", "--slug", "bench-busy", "--file", side))
            results["import_purge"] = collect(purging)
            results["quiet_pages"] = page_timings(org, today)[0]
            purging = spawn(database_url, "purge", "--today", (today + datetime.timedelta(days=THIRD_PURGE_DAYS)).isoformat())
            time.sleep(1)
            started = time.time()
            results["busy_pages"] = page_timings(org, today)[0]
            pages = {"wall_start": started, "wall_end": time.time()}
            results["pages_purge"] = collect(purging)
            results["pages_overlap"] = overlap(pages, results["pages_purge"])
        results["load_after"] = os.getloadavg()
    return results, ""


def figures(results):
    purge, load = results["purge"], results["load"]
    quiet, busy, second = results["quiet_import"], results["busy_import"], results["import_purge"]
    third = results["pages_purge"]
    out = [
        ("records before the purge (a year, one organization)", load["rows"], "rows", f"imported at {load['rows'] / load['seconds']:,.0f} rows/s"),
        ("purge of the expired month", purge["records"], "rows", f"{purge['seconds']:.1f} s, {purge['batches']:,} batches"
         f" of up to 5,000; {results['left']:,} records left"),
        ("purge rate", round(purge["records"] / purge["seconds"]), "rows/s", "records and their per-day figures"),
        ("a day's purge in steady state (the month's rows / 30)", round(purge["records"] / 30), "rows",
         f"about {purge['seconds'] / 30:.2f} s at this rate, within one batch"),
        ("import of 100,000 calls, no purge running (reference)", round(quiet["rows"] / quiet["seconds"]), "rows/s",
         f"{quiet['seconds']:.1f} s"),
        ("the same import while a purge runs", round(busy["rows"] / busy["seconds"]), "rows/s",
         f"{busy['seconds']:.1f} s, {overlap(busy, second) * 100:.0f}% of it beside the purge of {second['records']:,} rows "
         f"({second['seconds']:.1f} s); {quiet['seconds'] and busy['seconds'] / quiet['seconds']:.2f}x the reference, target under 1.5x"),
    ]
    for label, (median, p95, queries, total) in results["quiet_pages"].items():
        during = results["busy_pages"][label]
        out.append((f"report page, {label}, no purge running (reference)", round(median, 1), "ms", f"p95 {p95:.1f} ms"))
        out.append((f"report page, {label}, while a purge runs", round(during[0], 1), "ms",
                    f"p95 {during[1]:.1f} ms; {during[0] / median:.2f}x the reference, target under 1.5x"))
    out.append(("purge beside the pages", third["records"], "rows", f"{third['seconds']:.1f} s; the page measurements ran "
                f"{results['pages_overlap'] * 100:.0f}% of their time beside it"))
    return out


def run():
    results, why = measure()
    return as_figures(None if results is None else figures(results), "retention benchmark", why)


def write_docs(results):
    from bench.__main__ import machine

    before, after = results["load_before"], results["load_after"]
    intro = (
        f"Measured {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC on {machine()}, PostgreSQL "
        f"(`python -m bench.retention`), load average {before[0]:.2f} before and {after[0]:.2f} after (the machine is shared: "
        "compare each figure with its reference of the same run). A year of "
        f"{results['rows']:,} calls (bench/usage.py's generator) is imported, then purged as of {FIRST_PURGE_DAYS} days "
        f"later (cut-off: a year and the 30-day margin), so its first month leaves; then an import of {SIDE_ROWS:,} calls "
        "into another organization, then the report pages of the large one, are measured without a purge and beside one "
        f"(in another process, as of {SECOND_PURGE_DAYS} and then {THIRD_PURGE_DAYS} days later: two more months each time)."
    )
    write_section(DOCS, START, END, intro, figures(results), "## Retention\n\nSee docs/usage.md, \"Retention\".")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write-docs", action="store_true", help="write the figures into docs/performance.md (Retention)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--today", help=argparse.SUPPRESS)
    parser.add_argument("--slug", help=argparse.SUPPRESS)
    parser.add_argument("--file", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return 0
    results, why = measure()
    if results is None:
        print(f"Skipped: {why}")
        return 0
    for figure in figures(results):
        note = f"  ({figure[3]})" if len(figure) > 3 and figure[3] else ""
        print(f"{figure[0]}: {figure[1]:,} {figure[2]}{note}")
    if args.write_docs:
        write_docs(results)
        print(f"Written to {DOCS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
