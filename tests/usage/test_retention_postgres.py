"""On PostgreSQL the purge is never in an import's way: another organization's import runs to the end
while a purge batch holds its transaction open (with lock_timeout set, so a lock wait would fail it)."""

import io
import threading
from datetime import timedelta

import pytest
from django.db import connection, connections

from tests.factories import OrganizationFactory
from tests.markers import requires_postgres
from tests.usage.factories import PersonFactory, csv_bytes, export_row, fund
from usage.models import CallRecord, DailyUsage
from usage.services import retention
from usage.services.ingest import import_file

WAIT_SECONDS = 60


def organization_with_calls(slug, starts):
    organization = OrganizationFactory(name=slug.title(), slug=slug)
    PersonFactory(organization=organization, upn="hank@contoso.test", licenses="MCOPSTNPP")
    fund(organization, key=f"{slug}:fund")
    rows = [export_row(UPN="hank@contoso.test", start=start, seconds=60, **{"Destination Number": "+442079460000",
                                                                            "External Country": "GB"}) for start in starts]
    return organization, csv_bytes(rows)


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_on_postgresql_another_organization_imports_while_a_purge_batch_is_held(rates, catalog, monkeypatch):
    cut = retention.midnight_of(retention.cutoff_day())
    old, old_file = organization_with_calls("old", [cut - timedelta(days=5, minutes=n) for n in range(300)])
    import_file(old, io.BytesIO(old_file), "old.csv", "pstn")
    # The importing organization has expired calls and per-day totals too, and imports more of them.
    busy, busy_file = organization_with_calls("busy", [cut - timedelta(days=5, minutes=n) for n in range(1000)]
                                              + [cut + timedelta(days=5, minutes=n) for n in range(1000)])
    held, release = threading.Event(), threading.Event()
    original = retention._delete_ids

    def hold_the_first_batch(model, org_id, ids):
        original(model, org_id, ids)
        if model is CallRecord and not held.is_set():
            held.set()  # the batch's rows are deleted and locked, its transaction still open
            release.wait(WAIT_SECONDS)

    monkeypatch.setattr(retention, "_delete_ids", hold_the_first_batch)
    outcome = {}

    def purge():
        try:
            outcome["purge"] = retention.purge_expired_usage(batch_size=100, organization_ids=[old.pk]).records
        except Exception as exc:  # noqa: BLE001 - asserted below
            outcome["purge"] = exc
        finally:
            connections.close_all()

    def run_import():
        try:
            with connection.cursor() as cursor:
                cursor.execute("SET lock_timeout = '5s'")
            outcome["import"] = import_file(busy, io.BytesIO(busy_file), "busy.csv", "pstn").created
        except Exception as exc:  # noqa: BLE001 - asserted below
            outcome["import"] = exc
        finally:
            connections.close_all()

    purging = threading.Thread(target=purge)
    purging.start()
    try:
        assert held.wait(WAIT_SECONDS)
        importing = threading.Thread(target=run_import)
        importing.start()
        importing.join(WAIT_SECONDS)
        finished_while_held = not importing.is_alive() and purging.is_alive()
    finally:
        release.set()
        purging.join(WAIT_SECONDS)
    assert finished_while_held, "the import waited for the purge's batch"
    assert outcome == {"import": 2000, "purge": 300}
    assert CallRecord.objects.filter(organization=busy).count() == 2000
    assert not CallRecord.objects.filter(organization=old).exists()
    assert not DailyUsage.objects.filter(organization=old).exists()
    assert DailyUsage.objects.filter(organization=busy, day__lt=cut.date()).exists()  # its own purge is to come
