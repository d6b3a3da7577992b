"""In the browser: from Communications Credits to the rate lookup, a number typed as a person would,
a person picked, the answer (destination, price, who pays, the pool left, the license); then a kind of
number picked instead, a number that is not one, and the rate table filtered and sorted; axe-core on each."""

import pytest
from playwright.sync_api import expect

from tests.e2e.helpers import assert_accessible, screenshot, sign_in
from tests.usage.factories import PersonFactory, fund, standard_rates

pytestmark = pytest.mark.e2e


@pytest.fixture
def usage(org, catalog):
    standard_rates()
    PersonFactory(organization=org, upn="alice@contoso.test", display_name="Alice Adams", licenses="MCOPSTN1 MCOPSTNPP MCOMEETADD")
    PersonFactory(organization=org, upn="carol@contoso.test", display_name="Carol Chen", licenses="MCOPSTN2 MCOPSTNPP")
    PersonFactory(organization=org, upn="bob@contoso.test", display_name="Bob Brooks", licenses="MCOPSTN1")
    fund(org)


def test_an_admin_looks_up_what_a_call_costs_and_who_pays(browser_page, live_url, reports_reader, password, usage):
    page = browser_page
    sign_in(page, live_url, reports_reader.email, password)
    page.goto(f"{live_url}/billing/products/communications-credits/")
    page.get_by_role("main").get_by_role("link", name="Rate lookup").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Rate lookup")

    page.get_by_label("Phone number").fill("0044 (20) 7946-0958")
    page.get_by_label("Person").select_option(label="Carol Chen (carol@contoso.test)")
    page.get_by_role("button", name="Look up").click()
    answer = page.get_by_test_id("lookup-answer")
    expect(answer.get_by_test_id("e164")).to_have_text("+442079460958")
    expect(answer.get_by_test_id("destination")).to_have_text("United Kingdom (GB)")
    expect(answer.get_by_test_id("number-type")).to_have_text("Fixed line (rated as landline by the site's destinations)")
    expect(answer.get_by_test_id("billing")).to_have_text("Whole minutes, rounded up per call")
    expect(answer.get_by_test_id("price")).to_contain_text("0.02 USD")
    expect(answer.get_by_test_id("balance-minutes")).to_contain_text("pays for 5,000 min")
    expect(page.get_by_test_id("person-who-pays")).to_have_text("Included in calling plan minutes")
    expect(page.get_by_test_id("person-license")).to_contain_text("Yes")
    coverage = page.get_by_test_id("coverage")
    expect(coverage.get_by_role("row", name="Conference dial-out")).to_contain_text("60 of 60")
    expect(coverage.get_by_role("row", name="Domestic and International Calling Plan (MCOPSTN2)")).to_contain_text("3,000 of 3,000")
    assert_accessible(page)
    screenshot(page, "rate-lookup-answer")

    # Bob has no Communications Credits license: an international call is refused, and the page says why.
    page.get_by_label("Person").select_option(label="Bob Brooks (bob@contoso.test)")
    page.get_by_role("button", name="Look up").click()
    expect(page.get_by_test_id("person-who-pays")).to_have_text("Refused: could not be charged")
    expect(page.get_by_test_id("lookup-problems")).to_contain_text("no Communications Credits license")

    # A kind of number instead of a number.
    page.get_by_label("Phone number").fill("")
    page.get_by_label("Person").select_option(label="Nobody in particular")
    page.get_by_label("Country or region").select_option("EG")
    page.get_by_label("Number type").select_option(label="Mobile")
    page.get_by_role("button", name="Look up").click()
    expect(page.get_by_test_id("destination")).to_have_text("Egypt (EG)")
    expect(page.get_by_test_id("connection-fee")).to_have_text("0.05 USD")
    expect(page.get_by_test_id("coverage").get_by_role("row", name="Conference dial-out")).to_contain_text("outside Zone A")

    # A number that is not one: said on the field.
    page.get_by_label("Country or region").select_option("")
    page.get_by_label("Number type").select_option("")
    page.get_by_label("Phone number").fill("call me")
    page.get_by_role("button", name="Look up").click()
    expect(page.get_by_text("is not a phone number")).to_be_visible()
    expect(page.get_by_label("Phone number")).to_have_attribute("aria-invalid", "true")
    assert_accessible(page)
    screenshot(page, "rate-lookup-error")

    page.get_by_role("link", name="All rates in force today").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Rates")
    page.get_by_label("Country or region").select_option("GB")
    page.get_by_role("button", name="Filter").click()
    rows = page.get_by_role("table").locator("tbody tr")
    expect(rows).to_have_count(5)  # +44, +4420, +449 (premium), toll-free and SMS lines in force today
    expect(rows.first).to_contain_text("0.02")  # cheapest first, by default
    page.get_by_role("link", name="Price (per min or SMS)").click()
    expect(rows.first).to_contain_text("1.5")  # then dearest first: the premium-rate line
    assert_accessible(page)
    screenshot(page, "rate-table")
