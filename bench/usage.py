"""Usage benchmark on PostgreSQL with 1,000,000 call records in one organization.

Each figure is measured beside its reference, in the same run, on the same rows:

1. CSV ingestion with rating (usage.services.ingest, the upload page's and command's service) of a
   1,000,000-row file in the export's current format, against PostgreSQL `COPY` loading the same
   file into a bare table (typed columns, no index, no constraint). Target: at least 20% of COPY's
   rows per second; peak memory of the importing process under 200 MB.
2. The report page (server time of the whole page: middleware, tenant, summary, chart, table,
   template), 28-day range first page, and the last page of a custom year-long range. Target: under
   100 ms. References measured here: django-tables2 rendering the same 50 rows with its own
   template, and the page's two database reads (keyset page and per-day totals).
3. Excel export of all 1,000,000 rows (usage.services.exports.xlsx.write_xlsx, from a server-side cursor)
   against bare xlsxwriter in constant_memory mode writing the same rows from memory with
   write_row. Target: at least 75% of its rows per second; peak memory under 200 MB.
4. The original format (zip of per-day CSV files) against bare csv.writer writing the same rows
   (already formatted) from memory to one file. Target: at least 50% of its rows per second.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/credits_usage .venv/bin/python -m bench.usage --write-docs

Heavy parts run in child processes so that each one's peak memory (ru_maxrss, Django included) is
its own. It works in a throwaway database (bench_usage_<name>, created here and dropped afterwards).
"""

import argparse
import csv
import datetime
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from decimal import Decimal
from pathlib import Path

from bench import as_figures, throwaway_database, write_section

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs" / "performance.md"
START, END = "<!-- usage-bench:start -->", "<!-- usage-bench:end -->"
ROWS = int(os.environ.get("BENCH_USAGE_ROWS", "1000000"))
# Which parts to measure after loading the rows (all by default): page, xlsx, csv.
PARTS = set(os.environ.get("BENCH_USAGE_PARTS", "page,xlsx,csv").split(","))
PEOPLE = 2_000
SLUG = "bench-usage"


def setup_django():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "credits_site.settings.local")
    os.environ.setdefault("DEBUG", "false")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# Data ---------------------------------------------------------------------------------------------

HEADER = [
    "UsageId", "Call ID", "Conference ID", "User Location", "Microsoft Entra ObjectId", "UPN", "User Display Name", "Caller ID",
    "Call Type", "Call Direction", "Number Type", "Domestic/International", "Destination Dialed", "Destination Number",
    "External Country", "Start Time", "End Time", "Duration Seconds", "Connection Fee", "Charge", "Currency", "Capability",
    "Operator", "Source of Call Duration", "Administrative Units",
]
ABROAD = [("GB", "United Kingdom", "+44 20 7946 "), ("DE", "Germany", "+49 30 9018 "), ("IN", "India", "+91 98765 "),
          ("FR", "France", "+33 1 4020 "), ("MX", "Mexico", "+52 55 5123 ")]


def people():
    rng = random.Random(7)
    result = []
    for i in range(PEOPLE):
        roll = rng.random()
        plan = "MCOPSTN1" if roll < 0.75 else ("MCOPSTN2" if roll < 0.88 else ("MCOPSTN9" if roll < 0.95 else "MCOPSTN8"))
        location = "US" if i % 10 else "GB"
        result.append((f"user{i:05d}@bench.example", f"Bench User {i:05d}", location, f"+1425{i:07d}", f"{plan} MCOMEETADD MCOPSTNPP"))
    return result


def write_csv(path, rows, today):
    """A year of calls ending today, in the export's current format, chronological like the original."""
    rng = random.Random(20240601)
    cast = people()
    start = datetime.datetime.combine(today - datetime.timedelta(days=364), datetime.time(), tzinfo=datetime.UTC)
    step = 365 * 86400 / rows
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        for n in range(rows):
            upn, name, location, phone, licenses = cast[rng.randrange(PEOPLE)]
            moment = start + datetime.timedelta(seconds=int(n * step))
            seconds = int(rng.expovariate(1 / 200))
            roll = rng.random()
            call_type, direction, number_type, context, dialed, callee, caller, country = (
                "user_out", "Outbound", "User", "Domestic", "United States", f"+1206{rng.randrange(10**7):07d}", phone, "US")
            if roll < 0.30:
                call_type, direction, callee, caller = "user_in", "Inbound", phone, f"+1312{rng.randrange(10**7):07d}"
                if rng.random() < 0.05:
                    caller = caller[:-3] + "***"
            elif roll < 0.35:
                country, dialed, prefix = ABROAD[rng.randrange(len(ABROAD))]
                context, callee = "International", f"{prefix}{rng.randrange(10**4):04d}"
            elif roll < 0.42:
                call_type, callee = "conf_out", f"+1415{rng.randrange(10**7):07d}"
            elif roll < 0.47:
                call_type, direction, number_type, callee = "ucap_in", "Inbound", "Toll-free", "+18005550100"
                caller = f"+1617{rng.randrange(10**7):07d}"
            end = moment + datetime.timedelta(seconds=seconds)
            writer.writerow([
                uuid.UUID(int=rng.getrandbits(128), version=4), uuid.UUID(int=rng.getrandbits(128), version=4), "", location,
                uuid.UUID(int=rng.getrandbits(128), version=4), upn, name, caller, call_type, direction, number_type, context,
                dialed, callee, country, moment.strftime("%Y-%m-%dT%H:%M:%SZ"), end.strftime("%Y-%m-%dT%H:%M:%SZ"), seconds,
                "0.00", "0.00", "USD", licenses.split()[0], "Microsoft", "Microsoft", "",
            ])


def prepare(org_slug=SLUG, fund=True):
    """The organization, its people, a rate table and (with `fund`) a large balance, through the ledger
    service as a funding without a payment: fine in this benchmark's throwaway database, but
    reconciliation reports it, so the load test (bench/load.py) gives its balance by an adjustment."""
    from billing import services
    from billing.catalog import ensure_catalog
    from billing.choices import EntryKind
    from billing.models import CreditAccount, Organization
    from usage.management.commands.load_usage_demo import RATES, RATES_FROM
    from usage.models import Person, Rate

    ensure_catalog()
    org, _ = Organization.objects.get_or_create(
        slug=org_slug, defaults=dict(name="Bench", country="US", billing_region="US", purchase_channel="web_direct", commerce_model="traditional")
    )
    account, _ = CreditAccount.objects.get_or_create(organization=org)
    if fund:
        services.post_entry(account_id=account.pk, kind=EntryKind.FUNDING, amount=Decimal("1000000"), idempotency_key="bench:fund")
    Person.objects.bulk_create(
        [Person(organization=org, upn=u, display_name=n, usage_location=loc, phone_number=p, licenses=lic) for u, n, loc, p, lic in people()],
        ignore_conflicts=True,
    )
    for kind, prefix, country, description, per_unit, fee in RATES:
        Rate.objects.get_or_create(kind=kind, prefix=prefix, country=country, currency="USD", effective_from=RATES_FROM,
                                   defaults={"description": description, "per_unit": Decimal(per_unit), "connection_fee": Decimal(fee)})
    return org


# References ---------------------------------------------------------------------------------------


def copy_reference(path):
    """PostgreSQL COPY of the same file into a bare table (typed columns, nothing else)."""
    from django.db import connection

    columns = ", ".join(f"c{i} {t}" for i, t in enumerate(
        ["uuid", "text", "text", "text", "text", "text", "text", "text", "text", "text", "text", "text", "text", "text", "text",
         "timestamptz", "timestamptz", "integer", "numeric(16,2)", "numeric(16,2)", "text", "text", "text", "text", "text"]))
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_bare_calls")
        cursor.execute(f"CREATE TABLE bench_bare_calls ({columns})")
        seconds = copy_file_in(cursor, path, "COPY bench_bare_calls FROM STDIN (FORMAT csv, HEADER true)")
        cursor.execute("SELECT count(*) FROM bench_bare_calls")
        count = cursor.fetchone()[0]
        cursor.execute("DROP TABLE bench_bare_calls")
    return count, seconds


def copy_file_in(cursor, path, statement):
    """Seconds that `statement` (a COPY ... FROM STDIN) takes to load the file at `path`."""
    started = time.perf_counter()
    with open(path, "rb") as handle, cursor.cursor.copy(statement) as copy:
        for block in iter(lambda: handle.read(1 << 20), b""):
            copy.write(block)
    return time.perf_counter() - started


def records_floor(tmp):
    """What storing the rated records alone costs the database: the ingested rows, dumped, then
    COPYed back into a copy of the records table with the same indexes and constraints."""
    from django.db import connection

    dump = os.path.join(tmp, "records.copy")
    with connection.cursor() as cursor:
        with open(dump, "wb") as handle, cursor.cursor.copy("COPY usage_callrecord TO STDOUT") as copy:
            for block in copy:
                handle.write(block)
        cursor.execute("DROP TABLE IF EXISTS bench_records_floor")
        cursor.execute("CREATE TABLE bench_records_floor (LIKE usage_callrecord INCLUDING ALL)")
        seconds = copy_file_in(cursor, dump, "COPY bench_records_floor FROM STDIN")
        cursor.execute("SELECT count(*) FROM bench_records_floor")
        count = cursor.fetchone()[0]
        cursor.execute("DROP TABLE bench_records_floor")
    os.unlink(dump)
    return count, seconds


def child(args):
    """Run one heavy part in this (fresh) process and print its figures as JSON."""
    setup_django()
    from billing.models import Organization
    from usage.selectors import parameters_for
    from usage.services.exports.files import build_file
    from usage.services.ingest import import_file

    org = Organization.objects.get(slug=SLUG)
    today = datetime.date.fromisoformat(args.today)
    parameters = parameters_for("pstn", today - datetime.timedelta(days=364), today, {})
    out = {}
    if args.child == "ingest":
        started = time.perf_counter()
        with open(args.file, "rb") as handle:
            result = import_file(org, handle, Path(args.file).name, "pstn", origin="command")
        out = {"rows": result.created, "seconds": time.perf_counter() - started, "charged": result.charged}
    elif args.child in ("xlsx", "csv_zip"):
        fd, target = tempfile.mkstemp(suffix=".bench")
        os.close(fd)
        started = time.perf_counter()
        rows = build_file(org, args.child, parameters, target, public_id=uuid.uuid4())
        out = {"rows": rows, "seconds": time.perf_counter() - started, "bytes": os.path.getsize(target)}
        os.unlink(target)
    elif args.child in ("xlsx_reference", "csv_reference"):
        out = reference_writer(org, parameters, args.child)
    out["peak_mb"] = peak_mb()
    print(json.dumps(out))


def reference_writer(org, parameters, which):
    """Bare xlsxwriter / csv.writer writing the same rows, loaded into memory first (not timed)."""
    import xlsxwriter

    from usage.selectors import export_queryset
    from usage.services.exports.columns import COLUMNS
    from usage.services.exports.csv_zip import csv_value

    fields = [f for _, f in COLUMNS["pstn"]]
    loaded = list(export_queryset(org, parameters).values_list(*fields).iterator(chunk_size=20_000))
    fd, target = tempfile.mkstemp(suffix=".bench")
    os.close(fd)
    if which == "xlsx_reference":
        rows = [[str(v) if isinstance(v, uuid.UUID) else v for v in row] for row in loaded]
        del loaded
        started = time.perf_counter()
        workbook = xlsxwriter.Workbook(target, {"constant_memory": True, "remove_timezone": True, "default_date_format": "yyyy-mm-dd hh:mm:ss"})
        sheet = workbook.add_worksheet("PSTN calls")
        sheet.write_row(0, 0, [name for name, _ in COLUMNS["pstn"]])
        for index, row in enumerate(rows, start=1):
            sheet.write_row(index, 0, row)
        workbook.close()
    else:
        formatters = [csv_value(f) for f in fields]
        rows = [[fmt(v) for fmt, v in zip(formatters, row, strict=True)] for row in loaded]
        del loaded
        started = time.perf_counter()
        with open(target, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle, lineterminator="\r\n")
            writer.writerow([name for name, _ in COLUMNS["pstn"]])
            writer.writerows(rows)
    seconds = time.perf_counter() - started
    os.unlink(target)
    return {"rows": len(rows), "seconds": seconds}


def run_child(name, database_url, today, extra=()):
    env = dict(os.environ, DATABASE_URL=database_url, DEBUG="false")
    command = [sys.executable, "-m", "bench.usage", "--child", name, "--today", today.isoformat(), *extra]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{name} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# The report page ----------------------------------------------------------------------------------


def page_timings(org, today, repeat=15):
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.db import connection, reset_queries
    from django.test import Client
    from django.test.client import RequestFactory
    from django.test.utils import CaptureQueriesContext

    from billing.choices import AdminRole
    from billing.models import Membership, MembershipRole
    from usage import selectors
    from usage.models import CallRecord
    from usage.paging import keyset_page
    from usage.tables import CallRecordTable

    settings.ALLOWED_HOSTS = ["*"]
    settings.DEBUG = False
    user, _ = get_user_model().objects.get_or_create(username="reader@bench.example", defaults={"email": "reader@bench.example"})
    membership, _ = Membership.objects.get_or_create(user=user, organization=org)
    MembershipRole.objects.get_or_create(membership=membership, role=AdminRole.TEAMS_COMMUNICATIONS_SUPPORT_ENGINEER)
    client = Client()
    client.force_login(user)
    year = {"range": "custom", "start": (today - datetime.timedelta(days=364)).isoformat(), "end": today.isoformat(), "page": "last"}
    cases = {"28-day range, first page": {"range": "28"}, "year-long range, last page": year}
    figures = {}
    for label, query in cases.items():
        for _ in range(3):
            client.get("/reports/usage/", query)
        times = []
        for _ in range(repeat):
            started = time.perf_counter()
            response = client.get("/reports/usage/", query)
            times.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200 and response.content.count(b"<tr>") >= 50, response.status_code
        with CaptureQueriesContext(connection) as queries:
            client.get("/reports/usage/", query)
        if label.startswith("28"):
            span = (today - datetime.timedelta(days=27), today)
        else:
            span = (today - datetime.timedelta(days=364), today)
        total = selectors.summary(org, "pstn", *span).records
        figures[label] = (statistics.median(times), sorted(times)[max(int(len(times) * 0.95) - 1, 0)], len(queries), total)
    reset_queries()

    # References: django-tables2 rendering the same 50 rows with its own template; the two reads.
    start, end = today - datetime.timedelta(days=27), today
    rows = list(selectors.records(org, "pstn", start, end).select_related("person").order_by("-start_time", "-pk")[:50])
    request = RequestFactory().get("/reports/usage/")
    request.user = user
    sixteen = [name for name, _ in CallRecordTable.column_choices()][:16]
    tables2 = []
    for _ in range(repeat):
        table = CallRecordTable(rows, exclude=[n for n, _ in CallRecordTable.column_choices() if n not in sixteen], template_name="django_tables2/table.html")
        started = time.perf_counter()
        table.as_html(request)
        tables2.append((time.perf_counter() - started) * 1000)
    reads = []
    for _ in range(repeat):
        started = time.perf_counter()
        keyset_page(selectors.records(org, "pstn", start, end).select_related("person"), sort_field="start_time",
                    descending=True, per_page=50, total=None)
        selectors.summary(org, "pstn", start, end)
        reads.append((time.perf_counter() - started) * 1000)
    return figures, statistics.median(tables2), statistics.median(reads), CallRecord.objects.filter(organization=org).count()


# Orchestration ------------------------------------------------------------------------------------


def measure():
    setup_django()
    from django.db import connection

    if connection.vendor != "postgresql":
        return None, "needs PostgreSQL: run with DATABASE_URL=postgres://... (a throwaway bench_usage_ database is created)"
    today = datetime.datetime.now(datetime.UTC).date()
    results = {"rows": ROWS, "today": today.isoformat()}
    with throwaway_database("usage") as database_url:
        prepare()
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "PSTN.calls.bench.csv")
            started = time.perf_counter()
            write_csv(path, ROWS, today)
            results["generate_seconds"] = time.perf_counter() - started
            results["file_mb"] = os.path.getsize(path) / 1e6
            results["copy_rows"], results["copy_seconds"] = copy_reference(path)
            results["ingest"] = run_child("ingest", database_url, today, ["--file", path])
            # The reference again, right after, so that a busy machine weighs on both alike.
            results["copy_rows_after"], results["copy_seconds_after"] = copy_reference(path)
            results["floor_rows"], results["floor_seconds"] = records_floor(tmp)
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE usage_callrecord")
        from billing.models import Organization

        org = Organization.objects.get(slug=SLUG)
        if "page" in PARTS:
            results["pages"], results["tables2_ms"], results["reads_ms"], results["records"] = page_timings(org, today)
        if "xlsx" in PARTS:
            for name in ("xlsx", "xlsx_reference"):
                results[name] = run_child(name, database_url, today)
        if "csv" in PARTS:
            # Short runs are at the mercy of a busy machine: each side twice, interleaved, the best of each.
            for name in ("csv_zip", "csv_reference", "csv_zip", "csv_reference"):
                run = run_child(name, database_url, today)
                if name not in results or run["seconds"] < results[name]["seconds"]:
                    results[name] = run
    return results, ""


def figures(results):
    copy_rate = results["copy_rows"] / ((results["copy_seconds"] + results["copy_seconds_after"]) / 2)
    ingest = results["ingest"]
    ingest_rate = ingest["rows"] / ingest["seconds"]
    out = [
        ("records in one organization", results.get("records", ingest["rows"]), "rows"),
        ("COPY into a bare table (reference, mean of before and after)", round(copy_rate), "rows/s"),
        ("CSV ingestion with rating", round(ingest_rate), "rows/s", f"{ingest['rows']:,} rows in {ingest['seconds']:.1f} s"),
        ("ingestion / COPY", round(ingest_rate / copy_rate * 100, 1), "%", "target at least 20%"),
        ("COPY of the rated records into the indexed records table (the database's own share)",
         round(results["floor_rows"] / results["floor_seconds"]), "rows/s",
         f"{results['floor_rows'] / results['floor_seconds'] / copy_rate * 100:.0f}% of the bare COPY: no importer writing these "
         "rows can go faster"),
        ("ingestion peak memory", round(ingest["peak_mb"]), "MB", "target under 200 MB"),
    ]
    for label, (median, p95, queries, total) in results.get("pages", {}).items():
        out.append((f"report page, {label}", round(median, 1), "ms", f"p95 {p95:.1f} ms, {queries} queries, of {total:,} rows; target under 100 ms"))
    if "pages" in results:
        out.append(("django-tables2 rendering the same 50 rows x 16 columns (reference)", round(results["tables2_ms"], 1), "ms"))
        out.append(("keyset page + per-day totals reads (reference)", round(results["reads_ms"], 1), "ms"))
    for ours, ref, target in (("xlsx", "xlsx_reference", 75), ("csv_zip", "csv_reference", 50)):
        if ours not in results:
            continue
        mine, theirs = results[ours], results[ref]
        mine_rate, ref_rate = mine["rows"] / mine["seconds"], theirs["rows"] / theirs["seconds"]
        label = "Excel export (.xlsx)" if ours == "xlsx" else "original format (.zip of CSV)"
        ref_label = "bare xlsxwriter constant_memory" if ours == "xlsx" else "bare csv.writer"
        out.append((label, round(mine_rate), "rows/s", f"{mine['rows']:,} rows in {mine['seconds']:.1f} s, {mine['bytes'] / 1e6:.0f} MB"))
        out.append((f"{ref_label} (reference)", round(ref_rate), "rows/s"))
        out.append((f"{label} / reference", round(mine_rate / ref_rate * 100, 1), "%", f"target at least {target}%"))
        out.append((f"{label} peak memory", round(mine["peak_mb"]), "MB", "target under 200 MB"))
    return out


def run():
    """`make bench` entry point: the same measurements, as figures."""
    results, why = measure()
    return as_figures(None if results is None else figures(results), "usage benchmark", why)


def write_docs(results):
    sys.path.insert(0, str(ROOT))
    from bench.__main__ import machine

    intro = (
        f"Measured {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC on {machine()}, PostgreSQL "
        f"(`python -m bench.usage`), {results['rows']:,} call records in one organization, generated deterministically "
        f"({results['file_mb']:.0f} MB of CSV, a year of calls). Compare the ratios: each is measured against its reference "
        "in the same run, and other work on the machine weighs on them."
    )
    write_section(DOCS, START, END, intro, figures(results), '## Usage\n\nSee docs/usage.md for what is measured and why the design meets it.')


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write-docs", action="store_true", help="write the figures into docs/performance.md (Usage)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--today", help=argparse.SUPPRESS)
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
