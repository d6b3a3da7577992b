"""In the browser: from the usage report's "Who pays" to a record's "Why this charge" page - the rate
line and its rounding, the ledger entry and the lot that paid - and from a call in a pool to what is
left of the pool; axe-core on both."""

from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect

from tests.e2e.helpers import assert_accessible, screenshot, sign_in
from tests.usage.factories import PersonFactory, fund, graph_call, standard_rates
from tests.usage.factories import page as graph_page
from usage.services.ingest import import_graph_payload

pytestmark = pytest.mark.e2e


@pytest.fixture
def usage(org, catalog):
    standard_rates()
    PersonFactory(organization=org, upn="alice@contoso.test", display_name="Alice Adams", licenses="MCOPSTN1 MCOPSTNPP")
    PersonFactory(organization=org, upn="dave@contoso.test", display_name="Dave Diaz", licenses="MCOPSTN9 MCOPSTNPP")
    fund(org)
    yesterday = datetime.now(UTC).replace(hour=9, minute=0, second=0, microsecond=0) - timedelta(days=1)
    calls = [
        graph_call(start=yesterday, seconds=300),
        graph_call(upn="dave@contoso.test", start=yesterday + timedelta(hours=1), seconds=190, callee="+919876543210"),
    ]
    import_graph_payload(org, graph_page(calls), "pstn")


def test_an_admin_opens_why_a_call_was_charged_from_the_report(browser_page, live_url, reports_reader, password, usage):
    page = browser_page
    sign_in(page, live_url, reports_reader.email, password)
    page.goto(f"{live_url}/reports/usage/")
    page.get_by_role("link", name="Charged to Communications Credits").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Why this charge")
    expect(page.get_by_test_id("who-pays")).to_have_text("Charged to Communications Credits")
    # 190 s is 4 min: 4 x 0.09 + 0.05 = 0.41.
    expect(page.get_by_test_id("rate")).to_contain_text("+91")
    expect(page.get_by_test_id("rate-sum")).to_contain_text("4 min × 0.09 + 0.05 = 0.41, rounded once to the cent (half up): 0.41 USD")
    expect(page.get_by_test_id("ledger-entry")).to_contain_text("usage-import:")
    expect(page.get_by_role("table", name="Credit lots that paid the entry (oldest first)")).to_contain_text("0.41")
    assert_accessible(page)
    screenshot(page, "usage-why-charge")

    page.get_by_role("link", name="Back to the report").click()
    page.get_by_role("link", name="Included in calling plan minutes").click()
    expect(page.get_by_test_id("pool-left")).to_contain_text("5 of 3,000 min used: 2,995 left in")
    assert_accessible(page)
    screenshot(page, "usage-why-pool")
