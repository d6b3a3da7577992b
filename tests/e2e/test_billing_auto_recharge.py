"""A Billing Administrator turns auto-recharge on and sees what was saved and who changed it."""

from decimal import Decimal

import pytest
from playwright.sync_api import expect

from billing import services
from billing.selectors import credit_account
from tests.e2e.helpers import assert_accessible, screenshot, sign_in
from tests.factories import CardFactory

pytestmark = pytest.mark.e2e


@pytest.fixture
def cards(org):
    return (
        CardFactory(organization=org, brand="visa", last4="4242", exp_month=12, exp_year=2031),
        CardFactory(organization=org, brand="mastercard", last4="4444", exp_month=6, exp_year=2032),
    )


def open_auto_recharge_settings(page, live_url, email, password):
    sign_in(page, live_url, email, password)
    page.get_by_role("navigation", name="Admin center").get_by_role("link", name="Communications Credits").click()
    page.get_by_role("link", name="Edit auto recharge settings").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Edit auto recharge settings")


def test_a_billing_admin_turns_auto_recharge_on_and_sees_the_settings_and_the_audit_row(
    browser_page, live_url, org, billing_admin, password, cards
):
    # A balance above the trigger: saving the settings does not start a recharge at once.
    services.fund_credits(
        organization=org, actor=billing_admin, amount=Decimal("100.00"), payment_method=cards[0], idempotency_key="e2e:ar"
    )
    page = browser_page
    open_auto_recharge_settings(page, live_url, billing_admin.email, password)
    assert_accessible(page)
    screenshot(page, "billing-auto-recharge")

    page.get_by_label("Auto recharge").check()
    page.get_by_label("Recharge with").fill("50")
    page.get_by_label("When the balance falls below").fill("10")
    page.get_by_label("Charge this card").select_option(label="Mastercard ending in 4444 (expires 06/2032)")
    page.get_by_role("button", name="Save").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Communications Credits")
    expect(page.get_by_role("status")).to_contain_text("Auto recharge settings saved.")
    settings = page.get_by_role("region", name="Billing settings")
    expect(page.get_by_test_id("auto-recharge-state")).to_have_text("On")
    expect(settings).to_contain_text("$50.00")
    expect(settings).to_contain_text("$10.00")
    expect(settings).to_contain_text("Mastercard ending in 4444")
    audit = page.get_by_role("region", name="Auto recharge changes")
    rows = audit.get_by_role("row")
    expect(rows).to_have_count(2)  # the header and one change
    expect(rows.nth(1)).to_contain_text(billing_admin.get_full_name())
    expect(rows.nth(1)).to_contain_text("On, 50.00 below 10.00")
    account = credit_account(org)
    assert (account.auto_recharge_policy.enabled, account.auto_recharge_policy.amount, account.auto_recharge_policy.trigger) == (True, 50, 10)
    assert account.auto_recharge_policy.payment_method == cards[1]
    assert account.balance == Decimal("100.00")
    assert_accessible(page)
    screenshot(page, "billing-auto-recharge-saved")


def test_a_trigger_not_below_the_recharge_amount_is_explained_beside_the_field(
    browser_page, live_url, org, billing_admin, password, cards
):
    page = browser_page
    open_auto_recharge_settings(page, live_url, billing_admin.email, password)
    page.get_by_label("Auto recharge").check()
    page.get_by_label("Recharge with").fill("50")
    page.get_by_label("When the balance falls below").fill("50")
    page.get_by_label("Charge this card").select_option(label="Visa ending in 4242 (expires 12/2031)")
    page.get_by_role("button", name="Save").click()

    expect(page.get_by_role("alert")).to_contain_text("Please correct the fields marked below.")
    trigger = page.get_by_label("When the balance falls below")
    expect(trigger).to_have_attribute("aria-invalid", "true")
    error = page.locator(".field", has=trigger).locator(".error")
    expect(error).to_have_text(
        "The trigger must be lower than the recharge amount, or one recharge would not lift the balance above it "
        "and recharges would follow one another."
    )
    # Screen readers announce the error with the field: the input is described by it.
    error_id = error.first.evaluate("e => e.closest('[id]').id")
    assert error_id in trigger.get_attribute("aria-describedby").split()
    # What was typed is kept, and nothing was saved.
    expect(page.get_by_label("Recharge with")).to_have_value("50")
    assert credit_account(org).auto_recharge_policy.enabled is False
    assert_accessible(page)
    screenshot(page, "billing-auto-recharge-invalid")
