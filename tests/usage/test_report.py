"""The report page: range, filters, totals, chart, table, edit columns, keyset paging, query count."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils.html import escape

from tests.usage.factories import graph_call, graph_sms, page
from usage.forms import EditColumnsForm
from usage.models import ReportPreference
from usage.paging import Cursor
from usage.services.ingest import import_graph_payload
from usage.tables import CallRecordTable, SmsRecordTable, fast_rows

pytestmark = pytest.mark.django_db

REPORT = reverse("usage:report")


def today_at(days_ago=0, hour=10, minute=0, second=0):
    now = datetime.now(UTC)
    return (now - timedelta(days=days_ago)).replace(hour=hour, minute=minute, second=second, microsecond=0)


def load(org, rows, sms=False):
    return import_graph_payload(org, page(rows, sms=sms), "sms" if sms else "pstn")


@pytest.fixture
def calls(org, people, rates, funded):
    rows = []
    for day in range(10):
        rows.append(graph_call(start=today_at(day, 9), seconds=120))
        rows.append(graph_call(start=today_at(day, 11), callee="+442079460000", seconds=60))
    rows.append(graph_call(upn="bob@contoso.test", call_type="user_in", start=today_at(40, 9)))
    load(org, rows)
    return rows


def test_the_report_shows_totals_chart_and_the_newest_calls_first(client, reports_reader, calls):
    client.force_login(reports_reader)
    response = client.get(REPORT)
    assert response.status_code == 200
    html = response.content.decode()
    summary = response.context["summary"]
    assert (summary.records, summary.units, summary.charge) == (20, 30, Decimal("0.20"))
    assert summary.covered_percent == pytest.approx(66.7)
    assert html.count("<svg") == 2 and "Calls per day" in html and "Credit charges per day (USD)" in html
    rows = response.context["rows"]
    assert rows[0][0][0] == calls[1]["startDateTime"][:19].replace("T", " ")
    assert "Rows 1–20 of 20" in html


def test_a_seven_day_range_and_a_custom_range_choose_the_days(client, reports_reader, calls):
    client.force_login(reports_reader)
    week = client.get(REPORT, {"range": "7"}).context["summary"]
    assert week.records == 14 and len(week.days) == 7
    start = (datetime.now(UTC) - timedelta(days=45)).date()
    end = (datetime.now(UTC) - timedelta(days=35)).date()
    custom = client.get(REPORT, {"range": "custom", "start": start, "end": end}).context["summary"]
    assert custom.records == 1


def test_a_custom_range_beyond_a_year_is_refused_with_the_reason(client, reports_reader, calls):
    client.force_login(reports_reader)
    start = (datetime.now(UTC) - timedelta(days=400)).date()
    response = client.get(REPORT, {"range": "custom", "start": start, "end": datetime.now(UTC).date()})
    assert "History goes back one year" in response.content.decode()
    assert response.context["summary"].records == 20  # the default 28 days is shown meanwhile


def test_filters_by_username_call_type_destination_and_charge(client, reports_reader, calls, org):
    client.force_login(reports_reader)
    international = client.get(REPORT, {"destination": "International"}).context
    assert international["summary"].records == 10 and len(international["rows"]) == 10
    charged = client.get(REPORT, {"charged": "yes"}).context
    assert charged["summary"].charge == Decimal("0.20") and len(charged["rows"]) == 10
    inbound = client.get(REPORT, {"call_type": "user_in", "range": "90"}).context
    assert inbound["summary"].records == 1
    by_user = client.get(REPORT, {"user": "BOB@contoso.test", "range": "90"}).context
    assert by_user["summary"].records == 1 and len(by_user["rows"]) == 1
    by_prefix = client.get(REPORT, {"user": "ali"}).context
    assert by_prefix["summary"].records == 20


def test_the_sms_tab_shows_messages(client, reports_reader, org, people, rates, funded):
    load(org, [graph_sms(start=today_at(1)), graph_sms(start=today_at(2), sms_type="inbound")], sms=True)
    client.force_login(reports_reader)
    response = client.get(reverse("usage:sms_report"))
    assert response.context["summary"].records == 2
    assert "SMS per day" in response.content.decode()


def test_edit_columns_is_kept_per_user(client, reports_reader, global_admin, calls, org):
    client.force_login(reports_reader)
    shown = [name for name, _ in CallRecordTable.column_choices() if name not in ("call_id", "conference_id")]
    response = client.post(reverse("usage:edit_columns", args=["pstn"]), {"shown": shown, "next": REPORT + "?range=7"})
    assert response.status_code == 302 and response["Location"] == REPORT + "?range=7"
    headers = [h["name"] for h in client.get(REPORT).context["headers"]]
    assert "call_id" not in headers and "rating_reason" in headers
    client.force_login(global_admin)
    other = [h["name"] for h in client.get(REPORT).context["headers"]]
    assert "call_id" in other and "rating_reason" not in other
    assert ReportPreference.objects.filter(organization=org).count() == 1


def test_keyset_paging_walks_forward_and_back_without_skipping_or_repeating(client, reports_reader, org, people, rates):
    # 120 calls, many sharing a start time: the id breaks the ties.
    load(org, [graph_call(start=today_at(i % 3, 9)) for i in range(120)])
    client.force_login(reports_reader)
    seen = []
    response = client.get(REPORT)
    while True:
        page_ = response.context["page"]
        seen.extend(r.pk for r in page_.rows)
        if not page_.has_next:
            break
        response = client.get(REPORT + response.context["paging"]["next"])
    assert len(seen) == 120 and len(set(seen)) == 120
    # The last page is the final 50 rows; going back from it never overlaps it.
    last = client.get(REPORT, {"page": "last"}).context["page"]
    assert [r.pk for r in last.rows] == seen[-50:] and last.first_position == 71
    back = client.get(REPORT + client.get(REPORT, {"page": "last"}).context["paging"]["previous"]).context["page"]
    assert [r.pk for r in back.rows] == seen[20:70] and back.first_position == 21
    assert "Rows 51–100 of 120" in client.get(REPORT + client.get(REPORT).context["paging"]["next"]).content.decode()


def test_sorting_by_another_column_pages_by_that_column(client, reports_reader, calls):
    client.force_login(reports_reader)
    first = client.get(REPORT, {"sort": "-charge"}).context
    charges = [r.charge for r in first["page"].rows]
    assert charges == sorted(charges, reverse=True)
    assert first["headers"][[h["name"] for h in first["headers"]].index("charge")]["aria_sort"] == "descending"


def test_a_broken_cursor_is_ignored_not_an_error(client, reports_reader, calls):
    client.force_login(reports_reader)
    assert client.get(REPORT, {"after": "not-a-cursor"}).status_code == 200
    assert Cursor.decode("%%%") is None


@pytest.mark.parametrize("table_class", [CallRecordTable, SmsRecordTable], ids=["calls", "sms"])
def test_the_fast_cells_say_what_django_tables2_would_render(org, people, rates, funded, calls, table_class):
    load(org, [graph_sms(start=today_at(1)), graph_sms(start=today_at(2), sms_type="inbound", units=3)], sms=True)
    model = table_class._meta.model
    # In the table's own order, which django-tables2 applies to the rows it renders.
    records = list(model.objects.order_by(*table_class._meta.order_by, "-pk")[:5])
    assert records, "something to render"
    table = table_class(records)
    names = [c.name for c in table.columns.all()]
    expected = [[str(row.get_cell(name)) for name in names] for row in table.rows]
    assert [[text for text, _ in r] for r in fast_rows(table_class, records, names)] == expected


@pytest.mark.parametrize("count", [5, 400])
def test_the_report_page_takes_the_same_few_queries_whatever_the_data_size(client, reports_reader, org, people, rates,
                                                                            django_assert_max_num_queries, count):
    load(org, [graph_call(start=today_at(i % 27, 9)) for i in range(count)])
    client.force_login(reports_reader)
    client.get(REPORT)  # warm the session and caches
    with django_assert_max_num_queries(9):
        response = client.get(REPORT, {"range": "28"})
    assert response.status_code == 200
    with django_assert_max_num_queries(9):
        client.get(REPORT, {"user": "alice@contoso.test", "page": "last"})


def test_a_member_without_an_admin_role_cannot_open_the_report(client, plain_member, calls):
    client.force_login(plain_member)
    assert client.get(REPORT).status_code == 403


def test_the_nav_links_to_usage_reports(client, reports_reader):
    client.force_login(reports_reader)
    html = client.get(reverse("home")).content.decode()
    assert f'href="{REPORT}"' in html


def test_totals_filtered_by_user_count_minutes_as_the_import_does(client, reports_reader, calls):
    client.force_login(reports_reader)
    all_alice = client.get(REPORT, {"user": "alice@contoso.test"}).context["summary"]
    everyone = client.get(REPORT).context["summary"]
    assert (all_alice.records, all_alice.units, all_alice.charge) == (everyone.records, everyone.units, everyone.charge)


def test_chart_gridlines_are_round_numbers():
    from datetime import date

    from usage.charts import bar_chart
    from usage.selectors import DayPoint

    days = [DayPoint(date(2024, 5, d), records=r, charge=Decimal(c)) for d, r, c in ((1, 3, "0.06"), (2, 0, "0"), (3, 2, "0.01"))]
    calls = bar_chart(days, chart_id="c", title="Calls", description="d", value_of=lambda p: p.records)
    money = bar_chart(days, chart_id="m", title="Charges", description="d", value_of=lambda p: p.charge, money=True)
    assert [">1<", ">2<", ">3<", ">4<"] == [t for t in (">1<", ">2<", ">3<", ">4<") if t in calls]
    assert all(label in money for label in (">0.02<", ">0.04<", ">0.06<", ">0.08<"))
    assert calls.count("<rect") == 2 and 'role="img"' in calls and "<title id=\"c-title\">Calls</title>" in calls


@pytest.mark.parametrize("table_class", [CallRecordTable, SmsRecordTable])
def test_the_column_checkboxes_joined_in_python_are_what_the_widget_renders(table_class):
    columns = table_class.column_choices()
    hidden = {columns[1][0], columns[-1][0]}
    form = EditColumnsForm(columns=columns, hidden=hidden)
    widget = "".join(
        f"<label class=\"checkbox-line\">{choice.tag()} {escape(choice.choice_label)}</label>" for choice in form["shown"]
    )
    assert str(form.checkboxes()) == widget
    assert widget.count(" checked") == len(columns) - 2
