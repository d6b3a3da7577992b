"""Cost allocation benchmark on PostgreSQL: the report "Where the credits go" over a year of 1,000,000
call records, in each grouping, and what keeping its totals costs the import.

Two organizations, each importing the usage benchmark's year of 1,000,000 calls (bench/usage.py's
generator: 2,000 people, a year ending today), their people spread over 40 departments and 150 cost
centers:
- "usual": the usage benchmark's licenses (most people hold a calling plan, so a few percent of the
  calls are charged to credits);
- "worst case": nobody holds a calling plan, so every call with a price is charged (most of them),
  and the spend totals are as many as they can be.

For each, the page (server time of the whole page, as a signed-in reader gets it) in each grouping for
the last 28 days and for a year-long custom range, a drill-down (one department's people over the
year) and the .xlsx export of the year. Target: the page under 200 ms.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/credits_alloc .venv/bin/python -m bench.allocation --write-docs

It works in a throwaway database (bench_allocation_<name>, created here and dropped afterwards).
"""

import argparse
import datetime
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench import as_figures, throwaway_database, write_section
from bench.usage import prepare, setup_django, write_csv

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs" / "performance.md"
START, END = "<!-- allocation-bench:start -->", "<!-- allocation-bench:end -->"
ROWS = int(os.environ.get("BENCH_ALLOCATION_ROWS", "1000000"))
CASES = os.environ.get("BENCH_ALLOCATION_CASES", "usual,worst").split(",")
DEPARTMENTS, COST_CENTERS = 40, 150
GROUPS = ("department", "cost_center", "person", "country", "call_type")
REPEAT = 15


def spread_people(org):
    """Departments and cost centers on every person, as support (or the imports) would set them."""
    from django.db import connection

    from usage.models import Person

    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {Person._meta.db_table} SET department = 'Department ' || lpad((id %% %s)::text, 2, '0'), "
            "cost_center = 'CC-' || lpad((id %% %s)::text, 3, '0') WHERE organization_id = %s",
            [DEPARTMENTS, COST_CENTERS, org.pk],
        )


def timed_import(org, path):
    """Import the file, timing the part that keeps the spend totals (AllocationTotals.add and .save)."""
    from usage.services.ingest import allocation, import_file

    spent = [0.0]
    original_add, original_save = allocation.AllocationTotals.add, allocation.AllocationTotals.save

    def add(self, records):
        started = time.perf_counter()
        original_add(self, records)
        spent[0] += time.perf_counter() - started

    def save(self, organization):
        started = time.perf_counter()
        original_save(self, organization)
        spent[0] += time.perf_counter() - started

    allocation.AllocationTotals.add, allocation.AllocationTotals.save = add, save
    try:
        started = time.perf_counter()
        with open(path, "rb") as handle:
            result = import_file(org, handle, Path(path).name, "pstn", origin="command")
        seconds = time.perf_counter() - started
    finally:
        allocation.AllocationTotals.add, allocation.AllocationTotals.save = original_add, original_save
    return result, seconds, spent[0]


def page_timings(org, today):
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.urls import reverse

    from billing.choices import AdminRole
    from billing.models import Membership, MembershipRole

    settings.ALLOWED_HOSTS = ["*"]
    settings.DEBUG = False
    user, _ = get_user_model().objects.get_or_create(username=f"reader@{org.slug}.example", defaults={"email": f"reader@{org.slug}.example"})
    membership, _ = Membership.objects.get_or_create(user=user, organization=org)
    MembershipRole.objects.get_or_create(membership=membership, role=AdminRole.TEAMS_COMMUNICATIONS_SUPPORT_ENGINEER)
    client = Client()
    client.force_login(user)
    url = reverse("allocation:report")
    year = {"range": "custom", "start": (today - datetime.timedelta(days=364)).isoformat(), "end": today.isoformat()}
    cases = {}
    for group in GROUPS:
        cases[f"{group}, 28 days"] = {"range": "28", "group": group}
        cases[f"{group}, a year"] = {**year, "group": group}
    cases["one department's people, a year"] = {**year, "group": "person", "department": "Department 07"}
    cases["one country's people, a year"] = {**year, "group": "person", "country": "GB"}
    figures = {}
    for label, query in cases.items():
        for _ in range(3):
            client.get(url, query)
        times = []
        for _ in range(REPEAT):
            started = time.perf_counter()
            response = client.get(url, query)
            times.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, response.status_code
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url, query)
        rows = response.content.split(b"<tbody>", 1)[-1].split(b"</tbody>", 1)[0].count(b"<tr>")
        figures[label] = (statistics.median(times), sorted(times)[max(int(len(times) * 0.95) - 1, 0)], len(queries), rows)
    started = time.perf_counter()
    response = client.get(url, {**year, "export": "xlsx"})
    size = sum(len(chunk) for chunk in response.streaming_content)
    export_ms = (time.perf_counter() - started) * 1000
    return figures, export_ms, size


def ledger_check(org, today):
    """The year's total on the page against the ledger's usage charges: equal to the cent."""
    from django.db.models import Sum

    from billing.choices import EntryKind
    from billing.models import LedgerEntry
    from usage.selectors.allocation import allocation

    report = allocation(org, today - datetime.timedelta(days=364), today, "department")
    ledger = abs(LedgerEntry.objects.filter(account__organization=org, kind=EntryKind.USAGE_CHARGE).aggregate(t=Sum("amount"))["t"] or 0)
    return report.charge, ledger


def measure():
    setup_django()
    from django.db import connection

    if connection.vendor != "postgresql":
        return None, "needs PostgreSQL: run with DATABASE_URL=postgres://... (a throwaway bench_allocation_ database is created)"
    from usage.models import Person, SpendTotal

    today = datetime.datetime.now(datetime.UTC).date()
    results = {"rows": ROWS, "today": today.isoformat(), "cases": {}}
    with throwaway_database("allocation"), tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "PSTN.calls.bench.csv")
        write_csv(path, ROWS, today)
        for case in CASES:
            org = prepare(org_slug=f"bench-alloc-{case}")
            if case == "worst":
                Person.objects.filter(organization=org).update(licenses="MCOPSTNPP")
            spread_people(org)
            result, seconds, allocation_seconds = timed_import(org, path)
            with connection.cursor() as cursor:
                cursor.execute("VACUUM ANALYZE usage_spendtotal")
                cursor.execute("VACUUM ANALYZE usage_person")
            totals = SpendTotal.objects.filter(organization=org)
            figures, export_ms, size = page_timings(org, today)
            page_total, ledger_total = ledger_check(org, today)
            results["cases"][case] = {
                "created": result.created, "charged": result.charged, "seconds": seconds, "allocation_seconds": allocation_seconds,
                "day_rows": totals.filter(period="d").count(), "month_rows": totals.filter(period="m").count(),
                "pages": figures, "export_ms": export_ms, "export_bytes": size,
                "page_total": str(page_total), "ledger_total": str(ledger_total),
            }
    return results, ""


LABELS = {"usual": "usual licenses", "worst": "worst case, nobody with a calling plan"}


def figures(results):
    out = []
    worst = (0.0, "")
    for case, data in results["cases"].items():
        name = LABELS.get(case, case)
        out.append((f"{name}: records imported, charged to credits", data["created"], "rows",
                    f"{data['charged']:,} charged; spend totals: {data['day_rows']:,} day rows, {data['month_rows']:,} month rows"))
        out.append((f"{name}: import of the year", round(data["seconds"], 1), "s",
                    f"of which keeping the spend totals and departments {data['allocation_seconds']:.2f} s "
                    f"({data['allocation_seconds'] / data['seconds'] * 100:.1f}%)"))
        for label, (median, p95, queries, rows) in data["pages"].items():
            out.append((f"{name}: page by {label}", round(median, 1), "ms", f"p95 {p95:.1f} ms, {queries} queries, {rows:,} rows shown; target under 200 ms"))
            if p95 > worst[0]:
                worst = (p95, f"{name}, by {label}")
        out.append((f"{name}: .xlsx export of the year (5 sheets)", round(data["export_ms"], 1), "ms", f"{data['export_bytes'] / 1e3:.0f} kB"))
        same = "equal" if data["page_total"] == data["ledger_total"] else "DIFFERENT"
        out.append((f"{name}: the year's total against the ledger's usage charges", data["page_total"], "USD",
                    f"ledger {data['ledger_total']} USD: {same}"))
    out.append(("worst page (highest p95)", round(worst[0], 1), "ms", worst[1]))
    return out


def run():
    """`make bench` entry point."""
    results, why = measure()
    return as_figures(None if results is None else figures(results), "allocation benchmark", why)


def write_docs(results):
    sys.path.insert(0, str(ROOT))
    from bench.__main__ import machine

    intro = (
        f"Measured {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC on {machine()}, PostgreSQL "
        f"(`python -m bench.allocation`), {results['rows']:,} call records a year per organization (bench/usage.py's "
        "generator), 2,000 people in 40 departments and 150 cost centers. Page times are the server's time for the whole "
        "page, median of 15, as a signed-in reader."
    )
    write_section(DOCS, START, END, intro, figures(results), '## Cost allocation\n\nSee docs/usage.md, "Cost allocation", for the design.')


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write-docs", action="store_true", help="write the figures into docs/performance.md (Cost allocation)")
    args = parser.parse_args()
    results, why = measure()
    if results is None:
        print(f"Skipped: {why}")
        return 0
    for figure in figures(results):
        note = f"  ({figure[3]})" if len(figure) > 3 and figure[3] else ""
        value = f"{figure[1]:,}" if isinstance(figure[1], (int, float)) else figure[1]
        print(f"{figure[0]}: {value} {figure[2]}{note}")
    if args.write_docs:
        write_docs(results)
        print(f"Written to {DOCS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
