"""In the browser: from Communications Credits to the Spend guard; the default rules shown and marked;
caps edited (a wrong amount said on its field, then saved); a rule added; a person's credit calls
blocked, then the block lifted after a confirmation; the audit log; a read-only admin sees it all and
no way to change it. axe-core on each page."""

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.helpers import assert_accessible, screenshot, sign_in
from tests.usage.factories import PersonFactory, fund, standard_rates

pytestmark = pytest.mark.e2e


@pytest.fixture
def usage(org, catalog):
    standard_rates()
    PersonFactory(organization=org, upn="alice@contoso.test", display_name="Alice Adams", licenses="MCOPSTN1 MCOPSTNPP")
    PersonFactory(organization=org, upn="dave@contoso.test", display_name="Dave Diaz", licenses="MCOPSTN9 MCOPSTNPP")
    fund(org)


def test_a_billing_admin_sets_caps_adds_a_rule_blocks_and_lifts(browser_page, live_url, global_admin, password, usage):
    page = browser_page
    sign_in(page, live_url, global_admin.email, password)
    page.goto(f"{live_url}/billing/products/communications-credits/")
    page.get_by_role("main").get_by_role("link", name="Spend guard").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Spend guard")
    rules = page.get_by_test_id("rules")
    expect(rules.get_by_text("Default").first).to_be_visible()
    expect(rules).to_contain_text("Premium-rate and shared-cost numbers, in every country")
    expect(page.get_by_test_id("person-day-cap")).to_have_text("No cap")
    assert_accessible(page)
    screenshot(page, "spend-guard")

    page.get_by_role("link", name="Edit caps").click()
    page.get_by_label("Cap per person per day").fill("-5")
    page.get_by_label("Stop charging credits until the next day (UTC) or until lifted").check()
    page.get_by_role("button", name="Save caps").click()
    expect(page.get_by_label("Cap per person per day")).to_have_attribute("aria-invalid", "true")
    assert_accessible(page)
    page.get_by_label("Cap per person per day").fill("25")
    page.get_by_label("Cap per call").fill("5")
    page.get_by_role("button", name="Save caps").click()
    expect(page.get_by_test_id("person-day-cap")).to_have_text("$25.00")
    expect(page.get_by_test_id("cap-action")).to_contain_text("Stop charging credits")

    page.get_by_role("link", name="Add a rule").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Add a destination rule")
    page.get_by_label("Country or region").select_option("CU")
    page.get_by_label("Why").fill("No business in Cuba")
    page.get_by_role("button", name="Add rule").click()
    expect(page.get_by_test_id("rules")).to_contain_text("No business in Cuba")

    # A default rule lifted (it stays listed, marked), then the defaults restored.
    page.get_by_test_id("rules").get_by_role("link", name=re.compile("^Lift rule #")).first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text(re.compile("^Destination rule #"))
    assert_accessible(page)
    page.get_by_role("button", name="Lift rule").click()
    expect(page.get_by_test_id("rules").get_by_text(re.compile("^Lifted "))).to_have_count(1)
    assert_accessible(page)
    page.get_by_role("link", name="Restore defaults").click()
    page.get_by_role("button", name="Restore defaults").click()
    expect(page.get_by_test_id("rules").get_by_text(re.compile("^Lifted "))).to_have_count(0)

    page.get_by_role("link", name="Block a person's credit calls").click()
    page.get_by_label("Person").select_option(label="Dave Diaz (dave@contoso.test)")
    page.get_by_label("Reason").fill("Premium calls at night")
    page.get_by_role("button", name="Block credit calls").click()
    blocks = page.get_by_test_id("blocks")
    expect(blocks).to_contain_text("dave@contoso.test")
    assert_accessible(page)
    blocks.get_by_role("link", name="Lift the block of dave@contoso.test").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Lift a credit block")
    assert_accessible(page)
    page.get_by_role("button", name="Lift block").click()
    expect(page.get_by_test_id("blocks")).to_contain_text("No block in force")

    page.get_by_role("link", name="Audit log").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Spend guard audit log")
    expect(page.get_by_test_id("audit")).to_contain_text("Credit block")
    expect(page.get_by_test_id("audit")).to_contain_text("lifted")
    assert_accessible(page)
    screenshot(page, "spend-guard-audit")


def test_a_read_only_admin_sees_the_spend_guard_but_cannot_change_it(browser_page, live_url, reports_reader, password, usage):
    page = browser_page
    sign_in(page, live_url, reports_reader.email, password)
    page.goto(f"{live_url}/billing/products/communications-credits/spend-guard/")
    expect(page.get_by_test_id("read-only")).to_be_visible()
    expect(page.get_by_role("link", name="Edit caps")).to_have_count(0)
    expect(page.get_by_test_id("rules")).to_contain_text("Premium-rate")
    assert_accessible(page)
    response = page.goto(f"{live_url}/billing/products/communications-credits/spend-guard/policy/")
    assert response.status == 403
