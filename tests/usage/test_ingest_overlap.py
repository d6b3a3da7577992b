"""Imports that overlap, on PostgreSQL. Two imports of overlapping files into one organization at the same time, on PostgreSQL with real
connections: every record is stored once, rated and charged once, and counted once in the per-day
totals, the hourly figures of detection and the allocation totals.

Imports of one organization take turns (a lock on RatingState, taken before the duplicate check's
span is read), so the second sees the first's records once it commits and skips them before rating.
And the duplicate check stays an index probe: statistics that underestimate an organization's
records are refreshed before its import.
"""

import io
import json
import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection, connections
from django.db.models import Sum

from billing.models import LedgerEntry
from tests.factories import OrganizationFactory
from tests.markers import requires_postgres
from tests.usage.factories import PersonFactory, at, csv_bytes, export_row, fund
from usage.models import CallRecord, DailyUsage, HourlyCalls, ImportBatch, SpendTotal
from usage.services.ingest import import_file
from usage.services.ingest.kinds import CALLS

WAIT_SECONDS = 120


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_two_imports_of_overlapping_files_at_once_store_and_count_each_record_once(rates, catalog):
    organization = OrganizationFactory(name="Overlap", slug="overlap")
    PersonFactory(organization=organization, upn="dave@contoso.test", licenses="MCOPSTN9 MCOPSTNPP")
    fund(organization, amount="100000.00", key="overlap:fund")
    start = at()
    rows = [
        export_row(UPN="dave@contoso.test", start=start + timedelta(seconds=7 * i), seconds=60 + i % 300, **(
            {"Destination Number": "+442079460000", "External Country": "GB", "Domestic/International": "International",
             "Destination Dialed": "United Kingdom"} if i % 4 == 0 else {}))
        for i in range(3000)
    ]
    files = {"early": csv_bytes(rows[:2000]), "late": csv_bytes(rows[1000:])}  # rows 1000-1999 are in both
    both_ready = threading.Barrier(2, timeout=WAIT_SECONDS)
    outcomes = {}

    def run_import(name):
        try:
            both_ready.wait()
            outcomes[name] = import_file(organization, io.BytesIO(files[name]), f"{name}.csv", "pstn")
        except Exception as exc:  # noqa: BLE001 - asserted below
            outcomes[name] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run_import, args=(name,)) for name in files]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT_SECONDS)
    assert not any(t.is_alive() for t in threads)
    results = list(outcomes.values())
    assert all(not isinstance(r, Exception) for r in results), outcomes
    assert sorted((r.created, r.skipped) for r in results) == [(1000, 1000), (2000, 0)]

    records = CallRecord.objects.filter(organization=organization)
    assert records.count() == records.values("usage_id").distinct().count() == 3000
    charged = records.filter(rating="charged")
    assert charged.count() == sum(r.charged for r in results) > 0
    spent = charged.aggregate(total=Sum("charge"))["total"]
    assert spent == sum(r.charged_total for r in results) > Decimal("0")
    usage_charges = LedgerEntry.objects.filter(account__organization=organization, kind="usage_charge")
    assert usage_charges.count() == 2 and abs(usage_charges.aggregate(total=Sum("amount"))["total"]) == spent
    daily = DailyUsage.objects.filter(organization=organization).aggregate(records=Sum("records"), charge=Sum("charge"))
    assert daily == {"records": 3000, "charge": spent}
    hourly = HourlyCalls.objects.filter(organization=organization).aggregate(calls=Sum("calls"), charge=Sum("charge"))
    assert hourly == {"calls": 3000, "charge": spent}
    days = SpendTotal.objects.filter(organization=organization, period=SpendTotal.DAY)
    assert days.aggregate(records=Sum("records"), charge=Sum("charge")) == {"records": charged.count(), "charge": spent}
    assert ImportBatch.objects.filter(organization=organization).aggregate(created=Sum("rows_created"))["created"] == 3000


def _planner_estimate(organization):
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (FORMAT JSON) SELECT 1 FROM usage_callrecord WHERE organization_id = %s", [organization.pk])
        plan = cursor.fetchone()[0]
    return (json.loads(plan) if isinstance(plan, str) else plan)[0]["Plan"]["Plan Rows"]


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_statistics_are_refreshed_before_an_import_into_an_organization_the_planner_underestimates(rates, catalog):
    organization = OrganizationFactory(name="Stale", slug="stale")
    PersonFactory(organization=organization, upn="dave@contoso.test", licenses="MCOPSTN9 MCOPSTNPP")
    fund(organization, amount="1000.00", key="stale:fund")
    import_file(organization, io.BytesIO(csv_bytes([export_row(UPN="dave@contoso.test")])), "one.csv", "pstn")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE usage_callrecord")  # the statistics know of one record
        # 12,000 more, written behind the statistics' back (as a bulk load would).
        columns = ", ".join(CALLS.columns)
        values = ", ".join("gen_random_uuid()" if c == "usage_id" else f"r.{c}" for c in CALLS.columns)
        cursor.execute(
            f"INSERT INTO usage_callrecord ({columns}) SELECT {values} FROM usage_callrecord r, generate_series(1, 12000) "
            "WHERE r.organization_id = %s",
            [organization.pk],
        )
    assert _planner_estimate(organization) < 100

    later = export_row(UPN="dave@contoso.test", start=at("2024-05-07"))
    result = import_file(organization, io.BytesIO(csv_bytes([later])), "two.csv", "pstn")

    assert result.created == 1
    assert _planner_estimate(organization) > 3000  # ANALYZE ran before the import
    # Small imports into an organization the planner knows well leave the statistics alone.
    with connection.cursor() as cursor:
        cursor.execute("SELECT analyze_count FROM pg_stat_user_tables WHERE relname = 'usage_callrecord'")
        analyzed = cursor.fetchone()[0]
    import_file(organization, io.BytesIO(csv_bytes([export_row(UPN="dave@contoso.test", start=at("2024-05-08"))])), "three.csv", "pstn")
    with connection.cursor() as cursor:
        cursor.execute("SELECT analyze_count FROM pg_stat_user_tables WHERE relname = 'usage_callrecord'")
        assert cursor.fetchone()[0] == analyzed
