"""The report's totals are kept in the cache under the organization's usage version: read once per
range and filters, read again after every import."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.usage.factories import graph_call, page, today_at
from usage.services.ingest import import_graph_payload

pytestmark = pytest.mark.django_db

REPORT = reverse("usage:report")


def daily_reads(queries):
    return [q["sql"] for q in queries if "usage_dailyusage" in q["sql"]]


def test_the_same_range_is_summed_once_and_again_after_an_import(client, reports_reader, org, calls):
    client.force_login(reports_reader)
    first = client.get(REPORT, {"range": "28"}).context["summary"]
    with CaptureQueriesContext(connection) as again:
        kept = client.get(REPORT, {"range": "28"}).context["summary"]
    assert (kept.records, kept.charge, [d.records for d in kept.days]) == (first.records, first.charge, [d.records for d in first.days])
    assert daily_reads(again.captured_queries) == []

    import_graph_payload(org, page([graph_call(start=today_at(1, 11), seconds=30)]), "pstn")
    with CaptureQueriesContext(connection) as after:
        fresh = client.get(REPORT, {"range": "28"}).context["summary"]
    assert fresh.records == first.records + 1
    assert daily_reads(after.captured_queries) != []


TWO_DAYS = {"range": "custom", "start": today_at(1).date().isoformat(), "end": today_at().date().isoformat()}


@pytest.mark.parametrize("query", [TWO_DAYS, {"range": "28", "charged": "yes"}, {"range": "28", "user": "bob@contoso.test"}])
def test_another_range_or_filter_is_not_given_the_kept_figures(client, reports_reader, calls, query):
    client.force_login(reports_reader)
    whole = client.get(REPORT, {"range": "28"}).context["summary"]
    part = client.get(REPORT, query).context["summary"]
    assert part.records < whole.records


def test_the_charts_are_drawn_once_per_range_and_again_after_an_import(client, reports_reader, org, calls, monkeypatch):
    import usage.charts

    drawn = []
    draw = usage.charts.bar_chart
    monkeypatch.setattr(usage.charts, "bar_chart", lambda *args, **kwargs: drawn.append(kwargs["chart_id"]) or draw(*args, **kwargs))
    client.force_login(reports_reader)
    first = client.get(REPORT, {"range": "28"})
    assert drawn == ["chart-records", "chart-charges"]
    again = client.get(REPORT, {"range": "28"})
    assert drawn == ["chart-records", "chart-charges"]
    assert again.context["charts"] == first.context["charts"]
    assert again.context["chart_rows_html"] == first.context["chart_rows_html"]

    records = first.context["summary"].records
    import_graph_payload(org, page([graph_call(start=today_at(1, 11), seconds=30)]), "pstn")
    after = client.get(REPORT, {"range": "28"})
    assert drawn[2:] == ["chart-records", "chart-charges"]
    assert f"{records + 1:,} calls from" in after.context["charts"][0]["svg"]
    assert f"{records + 1:,} calls from" in after.content.decode()


def test_the_sms_report_draws_its_own_charts_for_the_same_range(client, reports_reader, calls):
    client.force_login(reports_reader)
    calls_page = client.get(REPORT, {"range": "28"}).context["charts"]
    sms_page = client.get(reverse("usage:sms_report"), {"range": "28"}).context["charts"]
    assert calls_page[0]["title"] == "Calls per day"
    assert sms_page[0]["title"] == "SMS per day"
    assert " SMS from " in sms_page[0]["svg"]
