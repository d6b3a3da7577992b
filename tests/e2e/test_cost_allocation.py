"""In the browser: from Communications Credits to "Where the credits go", spend by department, then
the people of one department, then one person's calls in the usage report; the chart (SVG, no
script); then Scheduled reports, a mistake said on the field, and a report scheduled; axe-core on each."""

import pytest
from playwright.sync_api import expect

from billing.choices import AdminRole
from tests.e2e.helpers import assert_accessible, screenshot, sign_in
from tests.factories import admin_in
from tests.usage.allocation_helpers import call, import_calls
from tests.usage.factories import PersonFactory, fund, standard_rates
from usage.models import Person

pytestmark = pytest.mark.e2e


@pytest.fixture
def spent(org, catalog):
    standard_rates()
    PersonFactory(organization=org, upn="hank@contoso.test", display_name="Hank Hill", usage_location="GB", licenses="MCOPSTNPP",
                  cost_center="CC-7")
    PersonFactory(organization=org, upn="ivy@contoso.test", display_name="Ivy Irons", usage_location="US", licenses="MCOPSTNPP")
    fund(org)
    import_calls(org, [
        call(seconds=600, units="Sales"),
        call(upn="ivy@contoso.test", seconds=120, callee="+4930901820", country="DE", units="Engineering"),
    ])
    assert Person.objects.get(upn="hank@contoso.test").department == "Sales"


def test_an_admin_follows_the_credits_from_department_to_calls(browser_page, live_url, global_admin, password, spent, org):
    page = browser_page
    billing = admin_in(org, AdminRole.BILLING_ADMINISTRATOR)
    sign_in(page, live_url, global_admin.email, password)
    page.goto(f"{live_url}/billing/products/communications-credits/")
    page.get_by_role("main").get_by_role("link", name="Where the credits go").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Where the credits go")
    table = page.get_by_role("table")
    expect(table.get_by_role("row", name="Sales")).to_contain_text("0.20")  # 10 minutes to +4420 at 0.02
    expect(table.get_by_role("row", name="Engineering")).to_contain_text("0.06")
    expect(page.get_by_test_id("allocation-total")).to_contain_text("0.26")
    expect(page.get_by_role("img", name="Credits spent by department")).to_be_visible()
    assert_accessible(page)
    screenshot(page, "allocation-by-department")

    page.get_by_role("link", name="People of Sales").click()
    expect(page.get_by_role("row", name="Hank Hill")).to_contain_text("CC-7")
    expect(page.get_by_role("list", name="Filters applied")).to_contain_text("Sales")
    assert_accessible(page)
    page.get_by_role("link", name="Calls of Hank Hill").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("PSTN and SMS usage")
    expect(page.get_by_test_id("total-charges")).to_contain_text("0.20")

    page.goto(f"{live_url}/billing/products/communications-credits/allocation/?group=country&range=28")
    expect(page.get_by_role("row", name="Germany (DE)")).to_contain_text("0.06")

    page.goto(f"{live_url}/billing/products/communications-credits/allocation/")
    page.get_by_role("link", name="Scheduled reports").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Scheduled reports")
    page.get_by_label("Monthly").check()
    page.get_by_role("button", name="Schedule report").click()
    expect(page.get_by_text("Choose at least one admin to send the report to.").first).to_be_visible()
    assert_accessible(page)
    page.get_by_label("Report", exact=True).select_option(label="Where the credits go (.xlsx)")
    page.get_by_label("Monthly").check()
    page.get_by_label(billing.email, exact=False).check()
    page.get_by_role("button", name="Schedule report").click()
    expect(page.get_by_role("table")).to_contain_text("Where the credits go (.xlsx)")
    expect(page.get_by_role("table")).to_contain_text(billing.get_full_name() or billing.username)
    assert_accessible(page)
    screenshot(page, "scheduled-reports")
