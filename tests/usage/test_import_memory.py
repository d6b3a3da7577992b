"""A large import keeps its memory flat: the tallies it keeps for its end (cost allocation totals, spike
detection's person-hours) are bounded, and what it finds past the bound is what it finds below it."""

from collections import defaultdict
from datetime import timedelta

import pytest

from tests.usage.allocation_helpers import call, days_ago, import_calls, ledger_usage_total
from tests.usage.detection_scenario import BURST_NIGHT, burst_rows, calls, normal_month
from usage.models import CallRecord, Incident, IncidentKind, SpendTotal
from usage.services.detection import baseline, watch
from usage.services.ingest import allocation, checking

pytestmark = pytest.mark.django_db


def test_allocation_totals_written_a_chunk_at_a_time_equal_the_records(org, people, rates, funded, monkeypatch):
    monkeypatch.setattr(checking, "CHUNK_SIZE", 3)
    monkeypatch.setattr(allocation, "ROWS_KEPT", 0)  # written after every chunk that charged
    saves = []
    real_save = allocation.AllocationTotals._save_spend
    monkeypatch.setattr(allocation.AllocationTotals, "_save_spend", lambda self, org: saves.append(len(self.rows)) or real_save(self, org))
    rows = [
        call(start=days_ago(day, hour=9 + n), seconds=60 * (n + 1), country=country, callee=callee)
        for day in (40, 39, 3, 2)
        for n, (country, callee) in enumerate((("GB", "+442079460000"), ("FR", "+33142685300"), ("GB", "+442079460001")))
    ] + [call(start=days_ago(2, hour=15))]  # the same day, person and country as an earlier chunk's calls
    result = import_calls(org, rows)
    assert result.charged > 4
    assert len(saves) > 3  # several writes, not one at the end
    expected = defaultdict(lambda: [0, 0, 0])
    # Allocation counts what was charged to credits.
    for start, person, country, call_type, seconds, charge in CallRecord.objects.filter(organization=org, charge__gt=0).values_list(
        "start_time", "person_id", "external_country", "call_type", "duration_seconds", "charge"
    ):
        slot = expected[(start.date(), person or 0, country, call_type)]
        slot[0] += 1
        slot[1] += seconds
        slot[2] += charge
    stored = {
        (day, person, country, call_type): [records, seconds, charge]
        for day, person, country, call_type, records, seconds, charge in SpendTotal.objects.filter(
            organization=org, period=SpendTotal.DAY
        ).values_list("day", "person_id", "country", "call_type", "records", "seconds", "charge")
    }
    assert len(stored) > 3 and stored == dict(expected)
    months = SpendTotal.objects.filter(organization=org, period=SpendTotal.MONTH).values_list("charge", flat=True)
    assert sum(months) == sum(slot[2] for slot in expected.values()) == ledger_usage_total(org)


@pytest.mark.parametrize("kept", [0, 1_000_000])
def test_a_burst_is_found_the_same_when_the_person_tallies_overflow(org, catalog, monkeypatch, kept):
    normal_month(org)
    monkeypatch.setattr(checking, "CHUNK_SIZE", 50)
    monkeypatch.setattr(watch, "PERSON_HOURS_KEPT", kept)
    read_back = []
    real = baseline.batch_person_hours
    monkeypatch.setattr(watch, "batch_person_hours", lambda *a, **k: read_back.append(1) or real(*a, **k))
    result = calls(org, burst_rows())
    assert bool(read_back) == (kept == 0)
    [incident] = Incident.objects.filter(organization=org)
    assert incident.kind == IncidentKind.PERSON_BURST and incident.upn == "hank@contoso.test" and incident.country == "GB"
    assert incident.window_start == BURST_NIGHT and incident.window_end == BURST_NIGHT + timedelta(hours=4)
    assert incident.calls == 300 and incident.last_batch_id == result.batch.pk
