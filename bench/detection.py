"""Spike detection benchmark on PostgreSQL: what detection adds to the import of 1,000,000 call records.

The same 1,000,000-row CSV (bench.usage's year of calls, 2,000 people) is imported into one organization
with detection and without it (the import's SpendWatch replaced by nothing, so no tally and no finish),
twice each, alternating, the tables emptied between runs; the best run of each counts. Target: the
import with detection takes at most 10% longer. The time of detection's end of import (saving the
hourly figures, the baseline reads, the detectors) is measured on its own too.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/credits_detect .venv/bin/python -m bench.detection --write-docs

It works in a throwaway database (bench_detection_<name>, created here and dropped afterwards).
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
from bench.usage import ROOT, SLUG, peak_mb, prepare, setup_django, write_csv

DOCS = ROOT / "docs" / "performance.md"
START, END = "<!-- detection-bench:start -->", "<!-- detection-bench:end -->"
ROWS = int(os.environ.get("BENCH_DETECTION_ROWS", os.environ.get("BENCH_USAGE_ROWS", "1000000")))
RUNS = int(os.environ.get("BENCH_DETECTION_RUNS", "2"))
TABLES = ["usage_callrecord", "usage_importbatch", "usage_dailyusage", "usage_poolusage", "usage_hourlycalls", "usage_incident"]


def child(args):
    """One import in this (fresh) process, with or without detection; prints its figures as JSON."""
    setup_django()
    from django.urls import reverse

    from billing.models import Organization
    from usage.services import detection
    from usage.services.ingest import import_file, pipeline

    org = Organization.objects.get(slug=SLUG)
    # A web or Celery worker has its URLs loaded; announcing an incident reverses one (a one-off second
    # and some 80 MB in a process that had not loaded them): loaded here first, for both runs alike.
    reverse("home")
    finish_seconds = []
    if args.child == "without":
        pipeline.SpendWatch = lambda *a, **k: None
    else:
        original = detection.SpendWatch.finish

        def timed_finish(self):
            started = time.perf_counter()
            try:
                return original(self)
            finally:
                finish_seconds.append(time.perf_counter() - started)

        detection.SpendWatch.finish = timed_finish
    started, cpu = time.perf_counter(), time.process_time()
    with open(args.file, "rb") as handle:
        result = import_file(org, handle, Path(args.file).name, "pstn", origin="command")
    out = {"rows": result.created, "seconds": time.perf_counter() - started, "cpu_seconds": time.process_time() - cpu, "peak_mb": peak_mb()}
    if finish_seconds:
        out["finish_seconds"] = finish_seconds[0]
        out["incidents"] = org.usage_incidents.count()
        from usage.models import HourlyCalls

        out["hourly_rows"] = HourlyCalls.objects.filter(organization=org).count()
    print(json.dumps(out))


def run_child(name, database_url, path):
    env = dict(os.environ, DATABASE_URL=database_url, DEBUG="false")
    command = [sys.executable, "-m", "bench.detection", "--child", name, "--file", path]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{name} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def empty_tables():
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {', '.join(TABLES)}")
        cursor.execute("VACUUM ANALYZE")


def measure():
    setup_django()
    from django.db import connection

    if connection.vendor != "postgresql":
        return None, "needs PostgreSQL: run with DATABASE_URL=postgres://... (a throwaway bench_detection_ database is created)"
    today = datetime.datetime.now(datetime.UTC).date()
    results = {"rows": ROWS, "without": [], "with": []}
    with throwaway_database("detection") as database_url:
        prepare()
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "PSTN.calls.bench.csv")
            write_csv(path, ROWS, today)
            results["file_mb"] = os.path.getsize(path) / 1e6
            for _ in range(RUNS):
                for name in ("without", "with"):
                    empty_tables()
                    results[name].append(run_child(name, database_url, path))
    return results, ""


def figures(results):
    without = min(results["without"], key=lambda r: r["seconds"])
    with_ = min(results["with"], key=lambda r: r["seconds"])
    added = (with_["seconds"] / without["seconds"] - 1) * 100
    cpu_added = (min(r["cpu_seconds"] for r in results["with"]) / min(r["cpu_seconds"] for r in results["without"]) - 1) * 100
    runs = ", ".join(f"{r['seconds']:.1f}" for r in results["without"]) + " / " + ", ".join(f"{r['seconds']:.1f}" for r in results["with"])
    return [
        ("import without detection (best run)", round(without["rows"] / without["seconds"]), "rows/s",
         f"{without['rows']:,} rows in {without['seconds']:.1f} s"),
        ("import with detection (best run)", round(with_["rows"] / with_["seconds"]), "rows/s",
         f"{with_['rows']:,} rows in {with_['seconds']:.1f} s; {with_['hourly_rows']:,} hourly rows kept, {with_['incidents']} incidents"),
        ("time added by detection", round(added, 1), "%", f"target at most 10%; every run, without / with: {runs} s"),
        ("importing process's CPU time added by detection (best runs)", round(cpu_added, 1), "%",
         f"{min(r['cpu_seconds'] for r in results['without']):.1f} s without, {min(r['cpu_seconds'] for r in results['with']):.1f} s with: less at the mercy of other work on the machine"),
        ("detection at the end of the import (hourly figures saved, baselines read, detectors)", round(with_["finish_seconds"], 2), "s"),
        ("import peak memory, without / with detection", f"{without['peak_mb']:.0f} / {with_['peak_mb']:.0f}", "MB"),
    ]


def run():
    """`make bench` entry point."""
    results, why = measure()
    return as_figures(None if results is None else figures(results), "detection benchmark", why)


def write_docs(results):
    from bench.__main__ import machine

    intro = (
        f"Measured {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC on {machine()}, PostgreSQL "
        f"(`python -m bench.detection`), {results['rows']:,} call records (bench.usage's year of calls, "
        f"{results['file_mb']:.0f} MB of CSV) imported into one organization with and without detection, "
        f"{RUNS} runs each, alternating, tables emptied between runs; the best run of each."
    )
    write_section(DOCS, START, END, intro, figures(results), '## Spike detection\n\nSee docs/spend-guard.md (Detection) for what runs at the end of an import.')


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write-docs", action="store_true", help="write the figures into docs/performance.md")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--file", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return 0
    results, why = measure()
    if results is None:
        print(f"Skipped: {why}")
        return 0
    print(json.dumps(results, indent=1))
    for name, value, unit, *note in figures(results):
        print(f"{name}: {value} {unit}" + (f"  ({note[0]})" if note else ""))
    if args.write_docs:
        write_docs(results)
        print(f"Written to {DOCS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
