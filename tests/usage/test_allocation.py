"""Cost allocation: the charged spend the import keeps (SpendTotal), departments from the export's
Administrative Units column, and the report's selector (each grouping, range edges, the ledger match)."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db.models import Sum

from billing.money import to_money
from tests.usage.allocation_helpers import call, days_ago, import_calls, ledger_usage_total
from tests.usage.factories import graph_sms, page
from usage.models import CallRecord, Person, SmsRecord, SpendTotal
from usage.selectors.allocation import NONE, allocation, span
from usage.services.ingest import import_graph_payload
from usage.services.ingest.allocation import first_unit

pytestmark = pytest.mark.django_db


def day_rows(org):
    return SpendTotal.objects.filter(organization=org, period=SpendTotal.DAY)


def spend(org):
    return day_rows(org).aggregate(t=Sum("charge"))["t"] or Decimal("0")


def records_charge(org):
    calls = CallRecord.objects.filter(organization=org).aggregate(t=Sum("charge"))["t"] or Decimal("0")
    sms = SmsRecord.objects.filter(organization=org).aggregate(t=Sum("charge"))["t"] or Decimal("0")
    return calls + sms


@pytest.fixture
def mixed(org, people, rates, funded):
    """Calls of several people, countries, call types and days, and charged SMS."""
    people["hank"].cost_center = "CC-100"
    people["hank"].save()
    rows = [
        call(start=days_ago(3), seconds=60, units="Sales; EMEA"),  # GB 4420: 0.02
        call(start=days_ago(3, 11), seconds=125, callee="+4930901820", country="DE", units="Sales"),  # DE 3 min: 0.09
        call(start=days_ago(2), seconds=600, callee="+12065550100", country="US", units="Sales"),  # US 10 min: 0.13
        call(upn="alice@contoso.test", start=days_ago(2), seconds=300, callee="+919876543210", country="IN",
             units="Engineering"),  # alice: international, charged (no international plan)
        call(upn="bob@contoso.test", start=days_ago(1), seconds=300, callee="+919876543210", country="IN"),  # refused: no license
        call(upn="alice@contoso.test", start=days_ago(1), seconds=60, callee="+12065550100", country="US"),  # in plan: free
    ]
    result = import_calls(org, rows)
    import_graph_payload(org, page([graph_sms(upn="hank@contoso.test", start=days_ago(1), to="+447700900123", other_country="GB")],
                                   sms=True), "sms")
    return result


def test_the_aggregate_is_exactly_the_charged_records_and_the_ledger(org, mixed):
    assert spend(org) > 0
    assert spend(org) == records_charge(org) == ledger_usage_total(org)
    charged = CallRecord.objects.filter(organization=org, rating="charged").count() + SmsRecord.objects.filter(
        organization=org, rating="charged").count()
    assert day_rows(org).aggregate(n=Sum("records"))["n"] == charged


def test_reimporting_the_same_file_and_duplicates_in_it_counts_nothing_twice(org, people, rates, funded):
    rows = [call(start=days_ago(2, hour) , seconds=60) for hour in (8, 9, 10)]
    rows.append(dict(rows[0]))  # the same UsageId twice in one file
    import_calls(org, rows)
    first = spend(org)
    assert first == Decimal("0.06")
    again = import_calls(org, rows + [call(start=days_ago(2, 11), seconds=60)])  # the file again, one call more
    assert again.created == 1 and again.skipped == 4
    assert spend(org) == Decimal("0.08") == ledger_usage_total(org) == records_charge(org)
    assert day_rows(org).aggregate(n=Sum("records"))["n"] == 4


def test_the_report_total_matches_the_ledger_to_the_cent(org, mixed):
    report = allocation(org, days_ago(30).date(), days_ago(0).date(), "department")
    assert report.charge == ledger_usage_total(org)
    for group in ("cost_center", "person", "country", "call_type"):
        assert allocation(org, days_ago(30).date(), days_ago(0).date(), group).charge == report.charge


def test_each_grouping(org, mixed, people):
    start, end = days_ago(30).date(), days_ago(0).date()
    by = {g: {row.key: row for row in allocation(org, start, end, g).rows} for g in
          ("department", "cost_center", "person", "country", "call_type")}
    sms_charge = SmsRecord.objects.get(organization=org).charge
    assert by["department"]["Sales"].charge == Decimal("0.24") + sms_charge  # hank's calls and his SMS
    assert by["department"]["Engineering"].charge == CallRecord.objects.get(upn="alice@contoso.test", external_country="IN").charge
    assert by["cost_center"]["CC-100"].charge == by["department"]["Sales"].charge
    assert by["cost_center"][NONE].charge == by["department"]["Engineering"].charge
    assert by["person"][str(people["hank"].pk)].upn == "hank@contoso.test"
    assert set(by["country"]) == {"GB", "DE", "US", "IN"}
    assert by["country"]["DE"].charge == Decimal("0.09")
    assert by["country"]["US"].charge == Decimal("0.13")
    assert by["call_type"]["user_out"].records == 4
    assert by["call_type"]["sms:outbound"].charge == sms_charge


def test_drill_down_filters_narrow_a_grouping(org, mixed, people):
    start, end = days_ago(30).date(), days_ago(0).date()
    sales_people = allocation(org, start, end, "person", {"department": "Sales"})
    assert [row.upn for row in sales_people.rows] == ["hank@contoso.test"]
    hank_countries = allocation(org, start, end, "country", {"person": str(people["hank"].pk), "call_type": "user_out"})
    assert {row.key for row in hank_countries.rows} == {"GB", "DE", "US"}
    nobody = allocation(org, start, end, "person", {"department": "Nobody here"})
    assert nobody.rows == [] and nobody.charge == 0


def test_range_edges_are_whole_utc_days(org, people, rates, funded):
    day = days_ago(5).date()
    import_calls(org, [
        call(start=days_ago(5, 0, 0), seconds=60),  # first minute of the day
        call(start=days_ago(5, 23, 59), seconds=60),  # last minute of the day
        call(start=days_ago(6, 23, 59), seconds=60),  # the day before
        call(start=days_ago(4, 0, 0), seconds=60),  # the day after
    ])
    assert allocation(org, day, day, "person").charge == Decimal("0.04")
    assert allocation(org, day, day, "person").records == 2
    assert allocation(org, day - timedelta(days=1), day + timedelta(days=1), "person").charge == Decimal("0.08")


def test_the_department_comes_from_the_first_administrative_unit(org, people, rates, funded):
    import_calls(org, [call(units=" ; Finance ;Legal")])
    assert Person.objects.get(pk=people["hank"].pk).department == "Finance"
    assert first_unit("") == "" and first_unit("A;B") == "A" and first_unit("x" * 300) == "x" * 128


def test_the_latest_call_decides_the_department_across_imports(org, people, rates, funded):
    import_calls(org, [call(start=days_ago(2), units="Sales"), call(start=days_ago(5), units="Support")])
    hank = Person.objects.get(pk=people["hank"].pk)
    assert hank.department == "Sales"
    import_calls(org, [call(start=days_ago(10), units="Marketing")])  # an older file: no change
    assert Person.objects.get(pk=hank.pk).department == "Sales"
    import_calls(org, [call(start=days_ago(1), units="Marketing")])  # a newer call moves them
    assert Person.objects.get(pk=hank.pk).department == "Marketing"
    import_calls(org, [call(start=days_ago(0, 1))])  # no unit on the row: the department stays
    assert Person.objects.get(pk=hank.pk).department == "Marketing"


def test_a_department_set_by_support_is_not_overwritten(org, people, rates, funded):
    Person.objects.filter(pk=people["hank"].pk).update(department="Board", department_locked=True)
    import_calls(org, [call(units="Sales")])
    assert Person.objects.get(pk=people["hank"].pk).department == "Board"


def test_people_added_by_the_import_get_their_department(org, rates, funded, catalog):
    import_calls(org, [call(upn="new.person@contoso.test", units="Operations", Capability="MCOPSTNPP")])
    assert Person.objects.get(organization=org, upn="new.person@contoso.test").department == "Operations"


def test_another_organization_s_spend_is_never_read(org, other_org, mixed):
    assert allocation(other_org, days_ago(30).date(), days_ago(0).date(), "person").rows == []


def test_a_failed_import_leaves_no_spend(org, people, rates, funded):
    from usage.services.ingest import ImportRejected

    rows = [call(), call(**{"Start Time": "not a time"})]
    with pytest.raises(ImportRejected):
        import_calls(org, rows)
    assert not SpendTotal.objects.filter(organization=org).exists()


def test_month_rows_are_the_day_rows_rolled_up(org, people, rates, funded):
    import_calls(org, [call(start=days_ago(n, 9 + n % 10), seconds=60 + n) for n in range(0, 75, 3)])
    import_calls(org, [call(start=days_ago(n, 20), seconds=60) for n in range(1, 75, 7)])  # a second import adds to them
    months = {}
    for row in day_rows(org):
        key = (row.day.replace(day=1), row.person_id, row.country, row.call_type)
        months[key] = months.get(key, Decimal("0")) + row.charge
    stored = {(r.day, r.person_id, r.country, r.call_type): r.charge
              for r in SpendTotal.objects.filter(organization=org, period=SpendTotal.MONTH)}
    assert stored == months


@pytest.mark.parametrize("first,last", [(74, 0), (60, 30), (45, 44), (31, 1), (74, 40), (20, 0), (40, 40), (70, 3), (58, 50)])
def test_any_range_adds_up_from_months_and_edge_days(org, people, rates, funded, first, last):
    import_calls(org, [call(start=days_ago(n, 0 if n % 2 else 23, 59 if n % 2 else 0), seconds=60 + n) for n in range(75)])
    import_calls(org, [call(upn="alice@contoso.test", start=days_ago(n, 12), seconds=120, callee="+919876543210", country="IN")
                       for n in range(0, 75, 4)])
    start, end = days_ago(first).date(), days_ago(last).date()
    within = day_rows(org).filter(day__gte=start, day__lte=end)
    expected = to_money(within.aggregate(t=Sum("charge"))["t"] or Decimal("0"))  # SQLite sums as floats
    assert expected > 0
    for group in ("person", "department", "cost_center", "country", "call_type"):
        report = allocation(org, start, end, group)
        assert report.charge == expected and report.records == within.aggregate(n=Sum("records"))["n"]
    hank = allocation(org, start, end, "country", {"person": str(people["hank"].pk)})
    assert hank.charge == to_money(within.filter(person=people["hank"]).aggregate(t=Sum("charge"))["t"])


def test_the_span_reads_at_most_half_a_month_of_days_at_each_edge():
    def parts(start, end):
        add, take = span(start, end)
        return str(add), str(take)

    add, take = parts(date(2025, 12, 2), date(2026, 12, 1))  # a year-long custom range
    assert add.count("'m'") == 12 and take.count("'d'") == 1 and add.count("'d'") == 1  # Dec 2025 less Dec 1, and Dec 1 2026
    add, take = parts(date(2026, 1, 1), date(2026, 1, 31))
    assert add.count("'m'") == 1 and take == "None"
    add, take = parts(date(2026, 1, 2), date(2026, 1, 30))  # within a month, more than half: the month less two days
    assert add.count("'m'") == 1 and take.count("'d'") == 2
    add, take = parts(date(2026, 1, 20), date(2026, 2, 3))  # less than half of each: days only
    assert "'m'" not in add and add.count("'d'") == 2
    assert str(span(date(2026, 1, 1), date(2026, 2, 28), SpendTotal.PERSON_MONTH)[0]).count("'p'") == 2


def test_totals_are_written_in_batches_alike(org, people, rates, funded, monkeypatch):
    from usage.services.ingest import allocation as module

    monkeypatch.setattr(module, "BATCH", 2)
    import_calls(org, [call(start=days_ago(n, 10), seconds=60) for n in range(7)])
    import_calls(org, [call(start=days_ago(n, 11), seconds=60) for n in range(7)])
    assert day_rows(org).count() == 7 and spend(org) == Decimal("0.28") == ledger_usage_total(org)
