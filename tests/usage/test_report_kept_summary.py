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
