"""In the browser: a month of normal calls, then a fraud burst overnight; the alert by mail and in the
Message center; the incident page read by a read-only role (no action offered, 403 if tried) and acted on
by a billing admin (block the person's credit calls, confirmed); axe-core on each page."""

import re

import pytest
from django.core import mail
from playwright.sync_api import expect

from tests.e2e.helpers import assert_accessible, screenshot, sign_in
from tests.usage.detection_scenario import burst_rows, calls, normal_month
from usage.models import Incident, IncidentStatus
from usage.spend_guard import CreditBlock

pytestmark = pytest.mark.e2e


@pytest.fixture
def incident(org, catalog, billing_admin, reports_reader):
    normal_month(org)
    calls(org, burst_rows())
    return Incident.objects.get(organization=org)


def test_an_alert_leads_to_the_incident_where_a_billing_admin_blocks_the_person(
    browser_page, live_url, org, incident, billing_admin, reports_reader, password
):
    alerts = [m for m in mail.outbox if "unusual calling detected" in m.subject]
    assert {m.to[0] for m in alerts} == {billing_admin.email}  # the billing roles, once each
    page = browser_page

    # A read-only role finds it in the Message center, follows it, and reads it.
    sign_in(page, live_url, reports_reader.email, password)
    page.get_by_role("navigation", name="Admin center").get_by_role("link", name="Message center").click()
    row = page.get_by_test_id("message-center-table").get_by_role("row").filter(has_text="Unusual calling detected")
    expect(row).to_contain_text("hank@contoso.test")
    row.get_by_role("link", name=re.compile("unusual calling detected")).click()
    page.get_by_role("link", name="Open the page the email links to").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Incident: Burst of calls by one person")
    expect(page.get_by_text("hank@contoso.test").first).to_be_visible()
    expect(page.get_by_role("table").last.get_by_role("row")).to_have_count(51)  # a header and the first 50 calls
    expect(page.get_by_role("link", name="Block the person's credit calls")).to_have_count(0)
    assert_accessible(page)
    screenshot(page, "spend-incident-read-only")
    response = page.goto(f"{live_url}/billing/products/communications-credits/spend-guard/incidents/{incident.pk}/block-person/")
    assert response.status == 403
    page.goto(f"{live_url}/billing/products/communications-credits/spend-guard/incidents/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Incidents")
    assert_accessible(page)

    # A billing admin blocks the person's credit calls, after confirming.
    page.get_by_role("button", name="Sign out").click()
    sign_in(page, live_url, billing_admin.email, password)
    page.goto(f"{live_url}/billing/products/communications-credits/")
    page.get_by_role("main").get_by_role("link", name="Incidents").click()
    page.get_by_role("link", name="hank@contoso.test").click()
    page.get_by_role("link", name="Block the person's credit calls").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Block the person's credit calls")
    assert_accessible(page)
    assert not CreditBlock.objects.filter(organization=org).exists()
    page.get_by_role("button", name="Block credit calls").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Incident: Burst of calls by one person")
    expect(page.get_by_text(re.compile("no longer charged to credits"))).to_be_visible()
    expect(page.get_by_text(re.compile("^Actioned by"))).to_be_visible()
    assert_accessible(page)
    screenshot(page, "spend-incident-actioned")
    incident.refresh_from_db()
    assert incident.status == IncidentStatus.ACTIONED
    assert CreditBlock.objects.get(organization=org).incident_id == incident.pk
