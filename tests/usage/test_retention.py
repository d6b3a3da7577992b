"""Retention: records older than the report's year and the margin leave, a batch at a time, with the
per-day figures of their days; the ledger, other organizations and the calls of open incidents stay."""

import io
import re
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.models import Sum
from django.test.utils import CaptureQueriesContext

from billing.models import LedgerEntry
from tests.factories import OrganizationFactory
from tests.usage.allocation_helpers import call, import_calls
from tests.usage.factories import PersonFactory, fund, graph_sms, page
from usage.forms import HISTORY_DAYS
from usage.models import (
    CallRecord,
    DailyUsage,
    HourlyCalls,
    ImportBatch,
    Incident,
    IncidentKind,
    IncidentStatus,
    PoolUsage,
    SmsRecord,
    SpendTotal,
)
from usage.selectors.allocation import allocation
from usage.services.ingest import import_graph_payload
from usage.services.retention import cutoff_day, purge_expired_usage, today_utc

pytestmark = pytest.mark.django_db

MARGIN = 30


@pytest.fixture(autouse=True)
def margin(settings):
    settings.USAGE_RETENTION_MARGIN_DAYS = MARGIN
    settings.USAGE_RETENTION_BATCH_ROWS = 5000


def midnight(day):
    return datetime.combine(day, time(), tzinfo=UTC)


@pytest.fixture
def cut(db):
    return midnight(cutoff_day())


@pytest.fixture
def history(org, people, rates, funded, cut):
    """hank's charged calls (and SMS) on both sides of the cut-off: the expired ones leave, the rest stay."""
    rows = [
        call(start=cut - timedelta(days=40), seconds=120),
        call(upn="alice@contoso.test", start=cut - timedelta(days=40), callee="+12065550100", country="US"),  # draws a pool
        call(start=cut - timedelta(days=1), seconds=60),
        call(start=cut - timedelta(seconds=1), seconds=60),  # the last second before the cut-off: leaves
        call(start=cut, seconds=60),  # exactly at the cut-off: stays
        call(start=cut + timedelta(days=1), seconds=180),
        call(start=midnight(today_utc()) - timedelta(days=1, hours=-10), seconds=60),
    ]
    import_calls(org, rows)
    sms = [graph_sms(upn="hank@contoso.test", start=cut - timedelta(hours=2), to="+447700900123", other_country="GB"),
           graph_sms(upn="hank@contoso.test", start=cut + timedelta(hours=2), to="+447700900123", other_country="GB")]
    import_graph_payload(org, page(sms, sms=True), "sms")
    return rows


def times(org):
    return sorted(CallRecord.objects.filter(organization=org).values_list("start_time", flat=True))


def test_the_cut_off_is_the_reports_year_and_the_margin_before_today(settings):
    today = today_utc()
    assert cutoff_day(today) == today - timedelta(days=HISTORY_DAYS + MARGIN)
    settings.USAGE_RETENTION_MARGIN_DAYS = -5  # a negative margin would cut into the report's year
    assert cutoff_day(today) == today - timedelta(days=HISTORY_DAYS)


def test_records_before_the_cut_off_leave_and_one_exactly_at_it_stays(org, history, cut):
    assert len(times(org)) == 7
    result = purge_expired_usage()
    assert times(org) == [cut, cut + timedelta(days=1), midnight(today_utc()) - timedelta(days=1, hours=-10)]
    assert list(SmsRecord.objects.filter(organization=org).values_list("sent_time", flat=True)) == [
        cut + timedelta(hours=2, microseconds=123456)]  # Graph's seven decimals, kept to the microsecond
    assert result.deleted["call records"] == 4 and result.deleted["SMS records"] == 1 and result.records == 5


def test_the_per_day_figures_of_the_deleted_days_go_and_the_kept_days_stay(org, history, cut):
    cutoff = cut.date()
    kept_daily = list(DailyUsage.objects.filter(organization=org, day__gte=cutoff).order_by("pk").values())
    kept_hourly = list(HourlyCalls.objects.filter(organization=org, hour__gte=cut).order_by("pk").values())
    assert DailyUsage.objects.filter(organization=org, day__lt=cutoff).exists()
    assert HourlyCalls.objects.filter(organization=org, hour__lt=cut).exists()
    purge_expired_usage()
    assert not DailyUsage.objects.filter(organization=org, day__lt=cutoff).exists()
    assert not HourlyCalls.objects.filter(organization=org, hour__lt=cut).exists()
    assert list(DailyUsage.objects.filter(organization=org).order_by("pk").values()) == kept_daily
    assert list(HourlyCalls.objects.filter(organization=org).order_by("pk").values()) == kept_hourly
    # The per-day totals still count exactly the records kept.
    assert DailyUsage.objects.filter(organization=org, kind="pstn").aggregate(n=Sum("records"))["n"] == 3


def test_cost_allocation_and_pool_months_go_by_whole_months(org, history, cut):
    month = cut.date().replace(day=1)
    assert SpendTotal.objects.filter(organization=org, day__lt=month).exists()
    assert PoolUsage.objects.filter(organization=org, month__lt=month).exists()
    # The cut-off's own month keeps all its rows, days before the cut-off included, so "Where the credits go"
    # can take its month row less the days outside a range.
    same_month = list(SpendTotal.objects.filter(organization=org, day__gte=month).order_by("pk").values())
    purge_expired_usage()
    assert not SpendTotal.objects.filter(organization=org, day__lt=month).exists()
    assert not PoolUsage.objects.filter(organization=org, month__lt=month).exists()
    assert list(SpendTotal.objects.filter(organization=org).order_by("pk").values()) == same_month


@pytest.mark.parametrize("days_back", [0, 10, 20])  # the range's first month: whole, under half, over half covered
def test_where_the_credits_go_still_matches_the_records_over_the_longest_range_it_offers(org, history, settings, days_back):
    settings.USAGE_RETENTION_MARGIN_DAYS = 0  # the tightest margin: the purge reaches the range's first day
    today = today_utc() - timedelta(days=days_back)
    start = today - timedelta(days=HISTORY_DAYS)
    import_calls(org, [call(start=midnight(start) + timedelta(hours=1), seconds=240),
                       call(start=midnight(start) - timedelta(hours=1), seconds=240),
                       call(start=midnight(start.replace(day=1)) + timedelta(hours=1), seconds=240)], name="edge.csv")
    purge_expired_usage(today=today)
    end = midnight(today + timedelta(days=1))
    kept = CallRecord.objects.filter(organization=org, start_time__gte=midnight(start), start_time__lt=end, rating="charged")
    kept_sms = SmsRecord.objects.filter(organization=org, sent_time__gte=midnight(start), sent_time__lt=end, rating="charged")
    expected = (kept.aggregate(t=Sum("charge"))["t"] or Decimal(0)) + (kept_sms.aggregate(t=Sum("charge"))["t"] or Decimal(0))
    assert expected > 0
    for group in ("person", "country", "call_type"):  # rows per person and month, and per month
        assert allocation(org, start, today, group).charge == expected, group


def test_the_ledger_and_the_import_batches_are_untouched(org, history):
    entries = list(LedgerEntry.objects.order_by("pk").values())
    batches = list(ImportBatch.objects.order_by("pk").values())
    assert any(e["kind"] == "usage_charge" for e in entries)
    purge_expired_usage()
    assert list(LedgerEntry.objects.order_by("pk").values()) == entries
    assert list(ImportBatch.objects.order_by("pk").values()) == batches


def test_a_purged_file_imported_again_is_left_out_not_charged_again(org, history, cut):
    charged = LedgerEntry.objects.filter(account__organization=org, kind="usage_charge").aggregate(t=Sum("amount"))["t"]
    purge_expired_usage()
    kept = times(org)
    again = import_calls(org, history)
    # The five expired calls are left out (their UsageIds are gone, so they are not duplicates any more);
    # the three kept ones are duplicates as before; nothing is rated or charged.
    assert (again.created, again.expired, again.skipped) == (0, 4, 7)
    assert again.as_dict()["skipped_expired"] == 4 and again.as_dict()["skipped_duplicates"] == 3
    assert times(org) == kept
    assert LedgerEntry.objects.filter(account__organization=org, kind="usage_charge").aggregate(t=Sum("amount"))["t"] == charged
    # A new call after the cut-off is still imported, in the same file as an expired one.
    fresh = import_calls(org, [call(start=cut - timedelta(days=2)), call(start=cut + timedelta(days=2), seconds=60)], name="more.csv")
    assert (fresh.created, fresh.expired) == (1, 1)


def test_a_dry_run_sets_no_mark_and_an_organization_never_purged_imports_old_calls(org, people, rates, funded, cut):
    purge_expired_usage(dry_run=True)
    result = import_calls(org, [call(start=cut - timedelta(days=90))])
    assert (result.created, result.expired) == (1, 0)


def test_other_organizations_are_untouched(org, history, cut, rates, catalog):
    other = OrganizationFactory(name="Fabrikam", slug="fabrikam")
    PersonFactory(organization=other, upn="hank@contoso.test", licenses="MCOPSTNPP")
    fund(other, key="fabrikam:fund")
    import_calls(other, [call(start=cut - timedelta(days=3)), call(start=cut + timedelta(days=3))])
    # Only the first organization: the other's expired call and its figures wait for their own run.
    purge_expired_usage(organization_ids=[org.pk])
    assert CallRecord.objects.filter(organization=other).count() == 2
    assert DailyUsage.objects.filter(organization=other, day__lt=cut.date()).exists()
    assert CallRecord.objects.filter(organization=org).count() == 3
    purge_expired_usage()
    assert list(CallRecord.objects.filter(organization=other).values_list("start_time", flat=True)) == [cut + timedelta(days=3)]


def test_running_it_twice_deletes_nothing_more(org, history):
    first = purge_expired_usage()
    assert first.records == 5
    before = (CallRecord.objects.count(), SmsRecord.objects.count(), DailyUsage.objects.count(), SpendTotal.objects.count())
    second = purge_expired_usage()
    assert second.deleted == {} and second.records == 0
    assert (CallRecord.objects.count(), SmsRecord.objects.count(), DailyUsage.objects.count(), SpendTotal.objects.count()) == before


def test_a_dry_run_counts_and_deletes_nothing(org, history):
    count = CallRecord.objects.count()
    result = purge_expired_usage(dry_run=True)
    assert result.deleted["call records"] == 4 and CallRecord.objects.count() == count
    assert purge_expired_usage().deleted == result.deleted


def test_each_batch_deletes_at_most_the_batch_size_in_its_own_statement(org, people, rates, funded, cut):
    import_calls(org, [call(start=cut - timedelta(days=10, minutes=n)) for n in range(5)])
    with CaptureQueriesContext(connection) as queries:
        result = purge_expired_usage(batch_size=2)
    deletes = [q["sql"] for q in queries if q["sql"].startswith('DELETE FROM "usage_callrecord"')]
    assert [len(re.search(r"IN \(([^)]*)\)", sql).group(1).split(",")) for sql in deletes] == [2, 2, 1]
    assert all(f'"organization_id" = {org.pk}' in sql for sql in deletes)
    assert result.deleted["call records"] == 5
    assert not CallRecord.objects.filter(organization=org).exists()


def incident(org, person, start, status=IncidentStatus.OPEN):
    return Incident.objects.create(
        organization=org, kind=IncidentKind.PERSON_BURST, person=person, upn=person.upn, country="GB",
        window_start=start, window_end=start + timedelta(hours=2), calls=2, spend=Decimal("1.00"), signals=["burst"],
        detected_at=start, updated_at=start, status=status,
        resolved_at=None if status == IncidentStatus.OPEN else start + timedelta(days=1),
    )


def test_the_calls_of_an_open_incident_stay_until_it_is_closed(org, people, rates, funded, cut):
    start = cut - timedelta(days=20)
    import_calls(org, [call(start=start + timedelta(minutes=10)), call(start=start + timedelta(minutes=70)),
                       call(start=start + timedelta(hours=3)),  # after the window
                       call(upn="gina@contoso.test", start=start + timedelta(minutes=20))])  # someone else
    case = incident(org, people["hank"], start)
    result = purge_expired_usage(batch_size=1)
    assert result.kept_for_incidents == 2 and result.deleted["call records"] == 2
    assert sorted(CallRecord.objects.filter(organization=org).values_list("start_time", flat=True)) == [
        start + timedelta(minutes=10), start + timedelta(minutes=70)]
    case.status, case.resolved_at = IncidentStatus.ACTIONED, start + timedelta(days=1)
    case.save()
    purge_expired_usage()
    assert not CallRecord.objects.filter(organization=org).exists()
    assert Incident.objects.filter(pk=case.pk, calls=2).exists()  # the incident keeps its own figures


def test_the_command_reports_what_it_would_delete_and_then_deletes_it(org, history):
    out = io.StringIO()
    call_command("purge_usage", "--dry-run", "--organization", org.slug, stdout=out)
    assert "Would delete 4 call records." in out.getvalue() and CallRecord.objects.count() == 7
    out = io.StringIO()
    call_command("purge_usage", "--batch-size", "2", stdout=out)
    assert "Deleted 4 call records." in out.getvalue() and CallRecord.objects.count() == 3


def test_beat_runs_the_task_daily_and_the_task_purges(org, history, settings):
    from usage.tasks import purge_expired_usage_task

    entry = settings.CELERY_BEAT_SCHEDULE["purge-expired-usage"]
    assert entry["task"] == purge_expired_usage_task.name == "usage.tasks.purge_expired_usage_task"
    assert purge_expired_usage_task.apply().get() == 5


def test_after_the_purge_the_pages_answer_and_a_purged_records_page_is_gone(client, global_admin, org, people, rates, funded, cut):
    from tests.conftest import sign_in

    start = cut - timedelta(days=20)
    import_calls(org, [call(start=start + timedelta(minutes=10)), call(start=cut + timedelta(days=1))])
    gone, kept = CallRecord.objects.filter(organization=org).order_by("start_time")
    case = incident(org, people["hank"], start, status=IncidentStatus.DISMISSED)
    purge_expired_usage()
    sign_in(client, global_admin)
    assert client.get(f"/reports/usage/pstn/records/{gone.pk}/").status_code == 404
    assert client.get(f"/reports/usage/pstn/records/{kept.pk}/").status_code == 200
    page_of_incident = client.get(f"/billing/products/communications-credits/spend-guard/incidents/{case.pk}/")
    assert page_of_incident.status_code == 200 and b"burst" in page_of_incident.content
    assert client.get("/reports/usage/", {"range": "custom", "start": (today_utc() - timedelta(days=HISTORY_DAYS)).isoformat(),
                                          "end": today_utc().isoformat()}).status_code == 200
