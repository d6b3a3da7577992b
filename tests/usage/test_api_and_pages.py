"""The JSON endpoints (a key per organization), the upload page, the command, and the recommendation."""

import io
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.urls import reverse

from tests.usage.factories import csv_bytes, export_row, fund, graph_call, graph_sms, page
from usage import selectors
from usage.models import ApiToken, CallRecord, SmsRecord
from usage.selectors import coverage_summary, recommendation
from usage.services.api_keys import create_api_key
from usage.services.ingest import import_graph_payload

pytestmark = pytest.mark.django_db


@pytest.fixture
def key(org):
    return create_api_key(organization=org, name="Graph forwarder")[1]


def post_json(client, url, payload, key):
    return client.post(url, data=json.dumps(payload), content_type="application/json", headers={"Authorization": f"Bearer {key}"})


def test_a_graph_page_posted_as_is_is_imported_once(client, org, people, rates, key):
    body = page([graph_call(), graph_call(call_type="user_in")])
    url = reverse("usage_api:pstn_calls")
    first = post_json(client, url, body, key)
    assert first.status_code == 201 and first.json()["created"] == 2
    again = post_json(client, url, body, key)
    assert again.status_code == 200 and again.json()["created"] == 0 and again.json()["skipped_duplicates"] == 2
    assert CallRecord.objects.filter(organization=org).count() == 2
    assert ApiToken.objects.get().last_used_at is not None


def test_sms_pages_have_their_own_endpoint(client, org, people, rates, key):
    response = post_json(client, reverse("usage_api:sms"), page([graph_sms()], sms=True), key)
    assert response.status_code == 201 and SmsRecord.objects.count() == 1


def test_a_bad_row_is_refused_with_row_column_and_problem(client, org, people, rates, key):
    body = page([graph_call(), graph_call(startDateTime="tomorrow")])
    response = post_json(client, reverse("usage_api:pstn_calls"), body, key)
    assert response.status_code == 400
    assert response.json()["errors"] == [{"row": "value[1]", "column": "startDateTime", "problem": response.json()["errors"][0]["problem"]}]
    assert "not a UTC ISO 8601 time" in response.json()["errors"][0]["problem"]
    assert not CallRecord.objects.exists()


def test_requests_without_a_valid_key_are_refused(client, org, key):
    url = reverse("usage_api:pstn_calls")
    assert client.post(url, data="{}", content_type="application/json").status_code == 401
    assert post_json(client, url, page([]), "ccu_wrong").status_code == 401
    ApiToken.objects.update(revoked_at=datetime.now(UTC))
    assert post_json(client, url, page([graph_call()]), key).status_code == 401


def test_a_key_only_ever_writes_to_its_own_organization(client, org, other_org, people, rates):
    other_key = create_api_key(organization=other_org, name="theirs")[1]
    post_json(client, reverse("usage_api:pstn_calls"), page([graph_call()]), other_key)
    assert CallRecord.objects.filter(organization=other_org).count() == 1
    assert not CallRecord.objects.filter(organization=org).exists()


def test_the_authorization_endpoint_says_how_long_a_user_may_call(client, org, people, rates, funded, key):
    url = reverse("usage_api:authorize")
    headers = {"Authorization": f"Bearer {key}"}
    abroad = client.get(url, {"user": "alice@contoso.test", "number": "+442079460000"}, headers=headers).json()
    assert abroad["allowed"] is True and abroad["minutes"] == 5000 and abroad["rate_per_minute"] == "0.020000"
    refused = client.get(url, {"user": "bob@contoso.test", "number": "+442079460000"}, headers=headers).json()
    assert refused["allowed"] is False and "license" in refused["reason"]
    assert client.get(url, {"user": "alice@contoso.test"}, headers=headers).status_code == 400


def test_the_upload_page_imports_a_csv_and_shows_what_happened(client, global_admin, org, people, rates, funded):
    client.force_login(global_admin)
    data = csv_bytes([export_row(), export_row(**{"Destination Number": "+442079460000", "Domestic/International": "International"})])
    upload = io.BytesIO(data)
    upload.name = "PSTN.calls.2024-05-06.csv"
    response = client.post(reverse("usage:import"), {"kind": "pstn", "file": upload})
    html = response.content.decode()
    assert response.status_code == 200 and "2 new records of 2 rows" in html
    assert CallRecord.objects.filter(organization=org).count() == 2


def test_the_upload_page_lists_each_problem_and_imports_nothing(client, global_admin, org, rates):
    client.force_login(global_admin)
    upload = io.BytesIO(csv_bytes([export_row(**{"Duration Seconds": "-3"})]))
    upload.name = "calls.csv"
    response = client.post(reverse("usage:import"), {"kind": "pstn", "file": upload})
    html = response.content.decode()
    assert response.status_code == 400 and "Nothing was imported" in html
    assert "line 2" in html and "Duration Seconds" in html and "-3 is negative" in html
    assert not CallRecord.objects.exists()


def test_the_upload_page_refuses_a_time_whose_utc_leaves_the_calendar(client, global_admin, org, rates):
    client.force_login(global_admin)
    upload = io.BytesIO(csv_bytes([export_row(**{"Start Time": "0001-01-01T00:05:00+02:24", "End Time": ""})]))
    upload.name = "calls.csv"
    response = client.post(reverse("usage:import"), {"kind": "pstn", "file": upload})
    html = response.content.decode()
    assert response.status_code == 400 and "line 2" in html and "Start Time" in html and "outside the calendar" in html
    assert not CallRecord.objects.exists()


def test_a_reports_reader_can_read_but_not_import(client, reports_reader):
    client.force_login(reports_reader)
    assert client.get(reverse("usage:import")).status_code == 403
    assert client.get(reverse("usage:report")).status_code == 200


def test_the_import_command_reads_a_file_of_any_size_and_fails_loudly_on_a_bad_one(org, people, rates, tmp_path):
    good = tmp_path / "good.csv"
    good.write_bytes(csv_bytes([export_row() for _ in range(3)]))
    out = io.StringIO()
    call_command("import_usage", org.slug, str(good), stdout=out)
    assert "3 new of 3 rows" in out.getvalue()
    bad = tmp_path / "bad.csv"
    bad.write_bytes(csv_bytes([export_row(**{"UsageId": "x"})]))
    err = io.StringIO()
    with pytest.raises(Exception, match="not imported"):
        call_command("import_usage", org.slug, str(bad), stdout=io.StringIO(), stderr=err)
    assert "line 2, column \"UsageId\"" in err.getvalue()


def spend(org, per_day, days, today):
    """Calls charged to credits, `per_day` minutes a day at 0.013 (pay-as-you-go)."""
    rows = []
    for d in range(days):
        start = datetime.combine(today - timedelta(days=d), datetime.min.time(), tzinfo=UTC) + timedelta(hours=9)
        rows.append(graph_call(upn="dave@contoso.test", start=start, seconds=per_day * 60))
    import_graph_payload(org, page(rows), "pstn")


def test_the_recommendation_follows_the_burn_rate_and_says_why(org, people, rates):
    fund(org, "50.00")
    today = datetime.now(UTC).date()
    spend(org, 100, 28, today)  # 1.30 a day for 28 days
    advice = recommendation(org, today=today)
    assert advice.burn_28 == Decimal("1.30") and advice.burn_rate == Decimal("1.30")
    assert advice.balance == Decimal("50.00") - Decimal("1.30") * 28
    assert advice.days_left == int(advice.balance / Decimal("1.30"))
    assert advice.trigger == Decimal("10") and advice.recharge == Decimal("40")
    assert "busier of the 28- and 90-day windows" in advice.reasoning


def test_without_spending_the_recommendation_suggests_starting_small(org, people, rates):
    advice = recommendation(org)
    assert advice.days_left is None and advice.recharge == Decimal("50.00") and "start small" in advice.reasoning


def test_coverage_says_whether_calls_are_mostly_covered_by_subscriptions(org, people, rates, funded):
    today = datetime.now(UTC).date()
    start = datetime.combine(today, datetime.min.time(), tzinfo=UTC) + timedelta(hours=8)
    import_graph_payload(org, page([graph_call(start=start, seconds=90 * 60), graph_call(start=start, seconds=10 * 60, callee="+442079460000")]), "pstn")
    coverage = coverage_summary(org, today=today)
    assert coverage.minutes == 100 and coverage.covered_minutes == 90 and coverage.mostly_covered
    assert coverage.sentence.startswith("90% of your call minutes in the last 90 days were covered")


def test_the_totals_without_days_are_the_totals_of_the_per_day_summary(org, people, rates, funded):
    today = datetime.now(UTC).date()
    start = datetime.combine(today, datetime.min.time(), tzinfo=UTC) + timedelta(hours=8)
    calls = [graph_call(start=start - timedelta(days=d), seconds=(d + 1) * 60) for d in range(5)]
    calls.append(graph_call(start=start, seconds=10 * 60, callee="+442079460000"))
    import_graph_payload(org, page(calls), "pstn")
    first = today - timedelta(days=89)
    full, quick = selectors.summary(org, "pstn", first, today), selectors.totals(org, "pstn", first, today)
    fields = ("records", "seconds", "units", "charged_units", "covered_units", "charge", "charged_records", "refused_records")
    assert full.records == 6 and full.charged_records == 1
    assert {f: getattr(quick, f) for f in fields} == {f: getattr(full, f) for f in fields}


def test_the_recommendation_page_shows_the_advice(client, billing_admin, org, people, rates, funded):
    client.force_login(billing_admin)
    html = client.get(reverse("usage:recommendation")).content.decode()
    assert "How many credits to buy" in html and "Before you buy" in html and "Set up auto-recharge" in html


def test_support_creates_an_api_key_in_django_admin_and_sees_it_once(client, org, admin_user):
    client.force_login(admin_user)
    response = client.post("/admin/usage/apitoken/add/", {"organization": org.pk, "name": "Graph forwarder"}, follow=True)
    token = ApiToken.objects.get()
    message = [str(m) for m in response.context["messages"]][0]
    key = message.split(" is ")[1].split(" - ")[0]
    assert key.startswith(token.prefix) and token.key_hash != key and token.created_by == admin_user
    for page_url in ("/admin/usage/person/", "/admin/usage/importbatch/", "/admin/usage/export/", "/admin/usage/poolusage/",
                     "/admin/usage/dailyusage/", "/admin/usage/smsrecord/", "/admin/usage/apitoken/"):
        assert client.get(page_url).status_code == 200, page_url


def test_the_add_funds_page_says_how_much_of_the_calls_the_subscriptions_cover(client, billing_admin, org, people, rates, funded):
    today = datetime.now(UTC).date()
    start = datetime.combine(today, datetime.min.time(), tzinfo=UTC) + timedelta(hours=8)
    import_graph_payload(org, page([graph_call(start=start, seconds=90 * 60), graph_call(start=start, seconds=10 * 60, callee="+442079460000")]), "pstn")
    client.force_login(billing_admin)
    html = client.get(reverse("billing:add_funds")).content.decode()
    assert "Before you buy" in html
    assert "90% of your call minutes in the last 90 days were covered" in html
