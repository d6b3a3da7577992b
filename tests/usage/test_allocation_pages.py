"""The page "Where the credits go": every admin reads it, only their organization's spend, with its
chart, drill-down links, totals, an .xlsx export, and a bounded number of queries."""

from decimal import Decimal

import pytest
from django.urls import reverse

from billing.choices import AdminRole
from tests.conftest import sign_in
from tests.factories import admin_in
from tests.usage.allocation_helpers import call, days_ago, import_calls, ledger_usage_total
from tests.usage.xlsx_reader import read_workbook
from usage.models import Person

pytestmark = pytest.mark.django_db

REPORT = reverse("allocation:report")


@pytest.fixture
def spent(org, people, rates, funded):
    Person.objects.filter(pk=people["hank"].pk).update(cost_center="CC-7")
    import_calls(org, [
        call(start=days_ago(3), seconds=60, units="Sales"),
        call(start=days_ago(2), seconds=125, callee="+4930901820", country="DE", units="Sales"),
        call(upn="alice@contoso.test", start=days_ago(2), seconds=300, callee="+919876543210", country="IN", units="Engineering"),
    ])
    return ledger_usage_total(org)


@pytest.mark.parametrize("role", [AdminRole.GLOBAL_ADMINISTRATOR, AdminRole.BILLING_ADMINISTRATOR,
                                  AdminRole.TEAMS_COMMUNICATIONS_SUPPORT_ENGINEER, AdminRole.USER_ADMINISTRATOR])
def test_every_admin_role_reads_the_report(client, org, spent, role):
    sign_in(client, admin_in(org, role))
    response = client.get(REPORT)
    assert response.status_code == 200
    body = response.content.decode()
    assert "Where the credits go" in body and "Sales" in body and "Engineering" in body
    assert f"{spent:.2f}" in body
    assert '<svg class="chart allocation-chart"' in body and "<script" not in body.split("<main", 1)[-1].split("</main>")[0]


def test_a_member_without_an_admin_role_is_refused(client, org, plain_member):
    sign_in(client, plain_member)
    assert client.get(REPORT).status_code == 403


def test_anonymous_visitors_sign_in_first(client):
    response = client.get(REPORT)
    assert response.status_code == 302 and reverse("login") in response["Location"]


def test_an_admin_of_another_organization_sees_none_of_this_spend(client, org, spent, outsider):
    sign_in(client, outsider)
    body = client.get(REPORT + "?group=person").content.decode()
    assert "hank@contoso.test" not in body and "Sales" not in body


def test_the_page_total_equals_the_ledger_in_every_grouping(client, org, spent, global_admin):
    sign_in(client, global_admin)
    for group in ("department", "cost_center", "person", "country", "call_type"):
        response = client.get(REPORT, {"group": group, "range": "28"})
        assert response.context["report"].charge == spent == ledger_usage_total(org)
        assert f'data-testid="allocation-table-total">{spent:.2f}<' in response.content.decode()


def test_drill_down_from_department_to_people_to_their_calls(client, org, spent, global_admin):
    sign_in(client, global_admin)
    report = client.get(REPORT, {"group": "department"}).context["report"]
    sales = next(row for row in report.rows if row.key == "Sales")
    assert "department=Sales" in sales.drill_url and "group=person" in sales.drill_url
    people = client.get(REPORT + sales.drill_url).context["report"]
    assert [row.upn for row in people.rows] == ["hank@contoso.test"]
    calls_url = people.rows[0].calls_url
    assert calls_url.startswith(reverse("usage:report")) and "user=hank%40contoso.test" in calls_url and "charged=yes" in calls_url
    calls = client.get(calls_url)
    assert calls.status_code == 200
    assert calls.context["summary"].charge == people.rows[0].charge


def test_an_unknown_group_or_filter_value_is_harmless(client, org, spent, global_admin):
    sign_in(client, global_admin)
    response = client.get(REPORT, {"group": "salary", "person": "not-a-number", "country": "ZZ"})
    assert response.status_code == 200
    assert response.context["report"].rows == []


def test_a_custom_range_out_of_bounds_says_so(client, org, global_admin):
    sign_in(client, global_admin)
    response = client.get(REPORT, {"range": "custom", "start": "2020-01-01", "end": "2020-01-02"})
    assert response.status_code == 200
    assert "History goes back one year" in response.content.decode()


def test_the_xlsx_export_has_a_sheet_per_grouping_with_the_ledger_total(client, org, spent, global_admin, tmp_path):
    sign_in(client, global_admin)
    response = client.get(REPORT, {"range": "28", "export": "xlsx"})
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith('attachment; filename="Where the credits go')
    path = tmp_path / "allocation.xlsx"
    path.write_bytes(b"".join(response.streaming_content))
    sheets = read_workbook(path)
    # Rows without a cell (the blank line above the headers) are not in the sheet's XML.
    assert list(sheets) == ["By department", "By cost center", "By person", "By country", "By call type"]
    for rows in sheets.values():
        assert all(kind != "f" for row in rows for kind, _, _ in row)  # never a formula
        total = rows[-1]
        assert total[0][1] == "Total"
        assert Decimal(str(total[4][1])).quantize(Decimal("0.01")) == spent
    departments = {row[0][1]: row[4][1] for row in sheets["By department"][3:-1]}
    assert set(departments) == {"Sales", "Engineering"}
    people = {row[0][1]: row[1][1] for row in sheets["By person"][3:-1]}
    assert "hank@contoso.test · Sales · CC-7" in people.values()


def test_a_filtered_export_holds_the_filtered_rows(client, org, spent, global_admin, tmp_path):
    sign_in(client, global_admin)
    response = client.get(REPORT, {"range": "28", "export": "xlsx", "department": "Engineering"})
    path = tmp_path / "filtered.xlsx"
    path.write_bytes(b"".join(response.streaming_content))
    people = read_workbook(path)["By person"]
    assert [row[0][1] for row in people[3:-1]] == ["Alice"]
    assert "Department: Engineering" in people[1][0][1]


@pytest.mark.parametrize("group", ["department", "cost_center", "person", "country", "call_type"])
def test_the_page_reads_a_bounded_number_of_queries(client, org, people, rates, funded, global_admin, django_assert_max_num_queries, group):
    many = [call(upn=f"user{i}@contoso.test", start=days_ago(i % 20, 9), units=f"Unit {i % 7}", Capability="MCOPSTNPP")
            for i in range(60)]
    import_calls(org, many)
    sign_in(client, global_admin)
    client.get(REPORT)  # the session and tenant are read once before
    # Session, user, tenant (membership and roles), the grouping, the people of the rows: never per row.
    with django_assert_max_num_queries(9):
        response = client.get(REPORT, {"group": group, "range": "28", "department": "Unit 3"})
    assert response.status_code == 200
    with django_assert_max_num_queries(9):
        client.get(REPORT, {"group": group, "range": "custom", "start": days_ago(300).date().isoformat(),
                            "end": days_ago(0).date().isoformat()})


def test_a_long_table_is_paged_and_its_total_is_the_whole(client, org, people, rates, funded, global_admin, monkeypatch):
    from usage import allocation_views

    monkeypatch.setattr(allocation_views, "ROWS_PER_PAGE", 2)
    import_calls(org, [call(upn=f"user{i}@contoso.test", seconds=60 * (i + 1), Capability="MCOPSTNPP") for i in range(5)])
    sign_in(client, global_admin)
    first = client.get(REPORT, {"group": "person"})
    assert [row.upn for row in first.context["rows"]] == ["user4@contoso.test", "user3@contoso.test"]
    assert first.context["paging"]["next"] and "previous" not in first.context["paging"]
    last = client.get(REPORT + first.context["paging"]["next"].replace("page=2", "page=9"))
    assert [row.upn for row in last.context["rows"]] == ["user0@contoso.test"]
    assert last.context["report"].charge == ledger_usage_total(org)
    assert "Rows 5–5 of 5" in last.content.decode()
    assert client.get(REPORT, {"group": "person", "page": "x"}).status_code == 200


def test_the_credits_page_and_the_usage_report_link_to_it(client, org, global_admin):
    sign_in(client, global_admin)
    assert REPORT in client.get(reverse("billing:credits")).content.decode()
    assert REPORT in client.get(reverse("usage:report")).content.decode()


def test_support_sets_department_and_cost_center_in_django_admin(client, org, people, rates, funded, admin_user):
    client.force_login(admin_user)
    hank = people["hank"]
    url = reverse("admin:usage_person_change", args=[hank.pk])
    form = client.get(url).context["adminform"].form
    data = {k: v for k, v in form.initial.items() if v is not None}
    data.update({"organization": org.pk, "department": "Board", "cost_center": "CC-9", "upn": hank.upn,
                 "licenses": hank.licenses})
    data.pop("department_seen_at", None)
    response = client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:2000]
    hank.refresh_from_db()
    assert (hank.department, hank.cost_center, hank.department_locked) == ("Board", "CC-9", True)
    import_calls(org, [call(units="Sales")])
    hank.refresh_from_db()
    assert hank.department == "Board"
