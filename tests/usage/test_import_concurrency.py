"""An import never blocks other organizations.

On SQLite (one write lock for the whole database) the import reads and checks its rows before it
takes the lock: another tenant's sign-in and a money write go through while a large import is busy
reading (a real SQLite file, in a process of its own: tests/usage/sqlite_import_scenario.py). On
PostgreSQL two organizations' imports run at the same time: one finishes while the other is held in
the middle of its transaction, with every lock it takes.
"""

import io
import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from django.db import connections

from billing.events import EntryPosted, billing_event
from tests.factories import OrganizationFactory
from tests.markers import requires_postgres
from tests.usage.factories import PersonFactory, at, csv_bytes, export_row, fund
from usage.models import CallRecord, ImportBatch
from usage.services.ingest import import_file

ROOT = Path(__file__).resolve().parents[2]
WAIT_SECONDS = 60


def test_on_sqlite_another_organization_signs_in_and_pays_while_a_large_import_reads_its_rows(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "tests.usage.sqlite_import_scenario", str(tmp_path / "site.sqlite3"), "20000"],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    outcome = json.loads(done.stdout.strip().splitlines()[-1])
    assert outcome["import_was_busy"], "the other organization wrote while the import was reading its rows"
    assert outcome["sign_in"].get("error") is None, outcome  # it was "database is locked" (a 500)
    assert outcome["sign_in"]["value"]["status"] == 302
    assert outcome["import"] == {"value": 20000}
    # While the import rated and wrote its rows (the only time it holds the lock), writes waited, briefly.
    kept_writing = outcome["kept_writing"]["value"]
    assert kept_writing["writes"] >= 1 and kept_writing["longest_wait"] < 10, kept_writing


def organization_with_usage(slug, rows):
    organization = OrganizationFactory(name=slug.title(), slug=slug)
    PersonFactory(organization=organization, upn="dave@contoso.test", licenses="MCOPSTN9 MCOPSTNPP")
    fund(organization, key=f"{slug}:fund")
    return organization, csv_bytes([export_row(UPN="dave@contoso.test", start=at(), seconds=60 + i) for i in range(rows)])


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_on_postgresql_two_organizations_import_at_the_same_time(rates, catalog):
    first, first_file = organization_with_usage("first", 3000)
    second, second_file = organization_with_usage("second", 3000)
    first_holds_its_locks, second_done = threading.Event(), threading.Event()

    def hold_the_first_import(sender, event, **kwargs):
        # The first import's usage charge: its records, totals, pools and account are locked now.
        if event.account.organization_id == first.pk and event.entry.kind == "usage_charge":
            first_holds_its_locks.set()
            second_done.wait(WAIT_SECONDS)

    outcomes = {}

    def run_import(organization, data):
        try:
            outcomes[organization.slug] = import_file(organization, io.BytesIO(data), "calls.csv", "pstn").created
        except Exception as exc:  # noqa: BLE001 - asserted below
            outcomes[organization.slug] = exc
        finally:
            connections.close_all()

    billing_event.connect(hold_the_first_import, sender=EntryPosted)
    try:
        first_import = threading.Thread(target=run_import, args=(first, first_file))
        first_import.start()
        assert first_holds_its_locks.wait(WAIT_SECONDS)
        second_import = threading.Thread(target=run_import, args=(second, second_file))
        second_import.start()
        second_import.join(WAIT_SECONDS)
        finished_while_the_first_was_held = not second_import.is_alive() and first_import.is_alive()
        second_done.set()
        first_import.join(WAIT_SECONDS)
    finally:
        second_done.set()
        billing_event.disconnect(hold_the_first_import, sender=EntryPosted)
    assert finished_while_the_first_was_held, "the second import waited for the first one's locks"
    assert outcomes == {"first": 3000, "second": 3000}
    assert CallRecord.objects.filter(organization=first).count() == CallRecord.objects.filter(organization=second).count() == 3000
    assert ImportBatch.objects.count() == 2
