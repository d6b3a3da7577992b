"""Ingestion benchmark on PostgreSQL: every import as fast as the first (issue 12).

For each shape of file, in one run, beside a bare COPY of the same file (its reference, measured
before and after the imports, the mean of the two):

(a) the file imported into an empty organization (its people in the directory where the shape has them);
(b) the file imported into an organization already holding a year of other records, which the file
    overlaps in time, so that every chunk is checked for duplicates;
(c) the whole file again into the organization of (a): every row a duplicate, nothing to write.

Targets: each case at least 20% of COPY's rows per second, and the three within 1.5x of each other.
The shapes: "export" (bench/usage.py's file: the export's current format, 2,000 people of the
directory) and "strangers" (5,000 people not in the directory, about 2% obscured numbers). Both are a
year of calls ending today; each shape's organization (b) is the other shape's organization (a), so
no import runs untimed. Imports run in child processes (their own memory), through
`usage.services.ingest.import_file` as the upload page and the command call it.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/credits_usage .venv/bin/python -m bench.ingest --write-docs
"""

import argparse
import csv
import datetime
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import uuid
from decimal import Decimal
from pathlib import Path

from bench import as_figures, throwaway_database, write_section
from bench.usage import ABROAD, DOCS, HEADER, ROOT, copy_reference, peak_mb, prepare, setup_django, write_csv

START, END = "<!-- ingest-bench:start -->", "<!-- ingest-bench:end -->"
ROWS = int(os.environ.get("BENCH_INGEST_ROWS", os.environ.get("BENCH_USAGE_ROWS", "1000000")))
STRANGERS = 5_000
SHAPES = {
    "export": "the export's current format, 2,000 people of the directory",
    "strangers": f"{STRANGERS:,} people not in the directory, about 2% obscured numbers",
}


def write_strangers(path, rows, today):
    """A year of calls by people the directory does not know (each is added by the import), with
    about 2% of the numbers obscured (`+1312555***`) on either side of the call."""
    rng = random.Random(20250101)
    start = datetime.datetime.combine(today - datetime.timedelta(days=364), datetime.time(), tzinfo=datetime.UTC)
    step = 365 * 86400 / rows
    cast = [(f"stranger{i:05d}@elsewhere.example", f"Stranger {i:05d}", "US" if i % 7 else "GB", f"+1206{i:07d}") for i in range(STRANGERS)]
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        for n in range(rows):
            upn, name, location, phone = cast[rng.randrange(STRANGERS)]
            object_id = uuid.uuid5(uuid.NAMESPACE_DNS, upn)
            moment = start + datetime.timedelta(seconds=int(n * step))
            seconds = int(rng.expovariate(1 / 180))
            roll = rng.random()
            call_type, direction, context, dialed, callee, caller, country = (
                "user_out", "Outbound", "Domestic", "United States", f"+1415{rng.randrange(10**7):07d}", phone, "US")
            if roll < 0.35:
                call_type, direction, callee, caller = "user_in", "Inbound", phone, f"+1312{rng.randrange(10**7):07d}"
            elif roll < 0.42:
                country, dialed, prefix = ABROAD[rng.randrange(len(ABROAD))]
                context, callee = "International", f"{prefix}{rng.randrange(10**4):04d}"
            if rng.random() < 0.02:
                if direction == "Inbound":
                    caller = caller[:-3] + "***"
                else:
                    callee = callee[:-3] + "***"
            end = moment + datetime.timedelta(seconds=seconds)
            writer.writerow([
                uuid.UUID(int=rng.getrandbits(128), version=4), uuid.UUID(int=rng.getrandbits(128), version=4), "", location,
                object_id, upn, name, caller, call_type, direction, "User", context, dialed, callee, country,
                moment.strftime("%Y-%m-%dT%H:%M:%SZ"), end.strftime("%Y-%m-%dT%H:%M:%SZ"), seconds,
                "0.00", "0.00", "USD", "MCOPSTN1", "Microsoft", "Microsoft", "Sales; West" if n % 3 else "",
            ])


def child(args):
    """One import in this (fresh) process; prints its figures as JSON."""
    setup_django()
    from django.db import connection

    from billing.models import Organization
    from usage.services.ingest import import_file

    org = Organization.objects.get(slug=args.org)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = cursor.fetchone()[0]
    db_before, cpu_before = backend_cpu_seconds(backend), time.process_time()
    started = time.perf_counter()
    with open(args.file, "rb") as handle:
        result = import_file(org, handle, Path(args.file).name, "pstn", origin="command")
    seconds = time.perf_counter() - started
    cpu, db_after = time.process_time() - cpu_before, backend_cpu_seconds(backend)
    print(json.dumps({"rows": result.rows_read, "created": result.created, "skipped": result.skipped, "charged": result.charged,
                      "seconds": seconds, "peak_mb": peak_mb(), "cpu": cpu,
                      "db_cpu": None if db_before is None or db_after is None else db_after - db_before}))


def backend_cpu_seconds(pid):
    """CPU seconds (user and system) used so far by the database server's process `pid` (the import's
    connection), read from /proc: the benchmark's PostgreSQL runs on this machine. None where it cannot
    be read (a server elsewhere); the import's connection stays the same one from start to end."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_import(database_url, org, path):
    env = dict(os.environ, DATABASE_URL=database_url, DEBUG="false")
    command = [sys.executable, "-m", "bench.ingest", "--child", "--org", org, "--file", path]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"import of {path} into {org} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure():
    setup_django()
    from django.db import connection

    if connection.vendor != "postgresql":
        return None, "needs PostgreSQL: run with DATABASE_URL=postgres://... (a throwaway bench_ingest_ database is created)"
    today = datetime.datetime.now(datetime.UTC).date()
    results = {"rows": ROWS, "today": today.isoformat(), "load_before": os.getloadavg()}
    orgs = {"export": "bench-export", "strangers": "bench-strangers"}
    with throwaway_database("ingest") as database_url:
        for shape, slug in orgs.items():
            prepare(slug, fund=True) if shape == "export" else _bare_org(slug)
        with tempfile.TemporaryDirectory() as tmp:
            paths = {shape: os.path.join(tmp, f"PSTN.calls.{shape}.csv") for shape in SHAPES}
            write_csv(paths["export"], ROWS, today)
            write_strangers(paths["strangers"], ROWS, today)
            for shape, path in paths.items():
                results[shape] = {"file_mb": os.path.getsize(path) / 1e6, "copy": [copy_reference(path)]}
            # (a) each file into its empty organization; (b) each into the other's, now holding a year.
            for shape in SHAPES:
                results[shape]["empty"] = run_import(database_url, orgs[shape], paths[shape])
            for shape, other in (("export", "strangers"), ("strangers", "export")):
                results[shape]["overlap"] = run_import(database_url, orgs[other], paths[shape])
            for shape in SHAPES:
                results[shape]["again"] = run_import(database_url, orgs[shape], paths[shape])
                results[shape]["copy"].append(copy_reference(paths[shape]))
    results["load_after"] = os.getloadavg()
    return results, ""


def _bare_org(slug):
    """An organization with a balance and the rates, and nobody in its directory."""
    from billing import services
    from billing.choices import EntryKind
    from usage.models import Person

    org = prepare(slug, fund=False)
    Person.objects.filter(organization=org).delete()

    services.post_entry(account_id=org.credit_account.pk, kind=EntryKind.FUNDING, amount=Decimal("1000000"), idempotency_key=f"bench:fund:{slug}")
    return org


CASES = (("empty", "into an empty organization"), ("overlap", "into an organization holding a year it overlaps"),
         ("again", "the whole file again (all duplicates)"))


def figures(results):
    out = []
    for shape, description in SHAPES.items():
        data = results[shape]
        copy_rate = sum(rows for rows, _ in data["copy"]) / sum(seconds for _, seconds in data["copy"])
        out.append((f"{shape}: COPY into a bare table (reference, mean of before and after)", round(copy_rate), "rows/s",
                    f"{description}; {data['file_mb']:.0f} MB"))
        rates = []
        for case, label in CASES:
            run = data[case]
            rate = run["rows"] / run["seconds"]
            rates.append(rate)
            out.append((f"{shape}: {label}", round(rate), "rows/s",
                        f"{rate / copy_rate * 100:.1f}% of COPY (target at least 20%); {run['created']:,} stored, "
                        f"{run['skipped']:,} skipped in {run['seconds']:.1f} s; peak {run['peak_mb']:.0f} MB{cpu_note(run)}"))
            floor = cpu_floor(run)
            if floor is not None:
                out.append((f"{shape}: {label}, fastest the CPUs allow", round(run["rows"] / floor), "rows/s",
                            f"{run['rows'] / floor / copy_rate * 100:.1f}% of COPY: the import's and the database's CPU time "
                            f"shared perfectly by the {os.cpu_count()} CPUs ({floor:.1f} s), nothing waiting"))
        out.append((f"{shape}: slowest / fastest case", round(max(rates) / min(rates), 2), "x", "target within 1.5x"))
    return out


def cpu_note(run):
    if run.get("cpu") is None:
        return ""
    database = f", the database's process {run['db_cpu']:.1f} s" if run.get("db_cpu") is not None else ""
    return f"; CPU: the import's process {run['cpu']:.1f} s{database}"


def cpu_floor(run):
    """The least time the CPUs of this machine need for the work the import and its database connection
    did: their CPU seconds spread over every CPU at once (None when the database's was not read)."""
    if run.get("cpu") is None or run.get("db_cpu") is None:
        return None
    return (run["cpu"] + run["db_cpu"]) / os.cpu_count()


def run():
    """`make bench` entry point."""
    results, why = measure()
    return as_figures(None if results is None else figures(results), "ingestion benchmark", why)


def write_docs(results):
    from bench.__main__ import machine

    before, after = results["load_before"], results["load_after"]
    intro = (
        f"Measured {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC on {machine()}, PostgreSQL (`python -m bench.ingest`), "
        f"{results['rows']:,} call records a file, generated deterministically (a year of calls ending on the day of the run). "
        f"Load average (1, 5, 15 min) {before[0]:.2f} {before[1]:.2f} {before[2]:.2f} before and "
        f"{after[0]:.2f} {after[1]:.2f} {after[2]:.2f} after: compare the ratios, each against COPY of the same file in the same run."
    )
    write_section(DOCS, START, END, intro, figures(results), "## Ingestion in every case\n\nSee docs/usage.md, ingestion.")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write-docs", action="store_true", help="write the figures into docs/performance.md")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--org", help=argparse.SUPPRESS)
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
        print(f"{figure[0]}: {figure[1]:,} {figure[2]}  ({figure[3]})" if len(figure) > 3 else f"{figure[0]}: {figure[1]:,} {figure[2]}")
    if args.write_docs:
        write_docs(results)
        print(f"Written to {DOCS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
