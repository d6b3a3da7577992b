"""Organizations that cannot buy credits see why, and what to do instead, before any money moves."""

from decimal import Decimal

import pytest
from playwright.sync_api import expect

from billing import services
from billing.choices import AdminRole, CommerceModel, PurchaseChannel
from billing.models import Payment
from billing.selectors import credit_account
from tests.e2e.helpers import assert_accessible, screenshot, sign_in
from tests.factories import CardFactory, OrganizationFactory, admin_in

pytestmark = pytest.mark.e2e


@pytest.fixture
def nce_org_with_auto_recharge_on(transactional_db):
    """An organization that moved to NCE after it had set up prepaid credits with auto-recharge."""
    org = OrganizationFactory(name="Fabrikam Test", slug="fabrikam-test")
    admin = admin_in(org, AdminRole.GLOBAL_ADMINISTRATOR)
    card = CardFactory(organization=org)
    services.fund_credits(
        organization=org, actor=admin, amount=Decimal("100.00"), payment_method=card, idempotency_key="e2e:nce:fund"
    )
    services.update_auto_recharge(
        organization=org, actor=admin, enabled=True, amount=Decimal("50.00"), trigger=Decimal("10.00"), payment_method=card
    )
    org.commerce_model = CommerceModel.NCE
    org.save(update_fields=["commerce_model"])
    return org, admin


def test_an_nce_admin_sees_why_they_cannot_buy_and_turns_auto_recharge_off_in_one_click(
    browser_page, live_url, nce_org_with_auto_recharge_on, password
):
    org, admin = nce_org_with_auto_recharge_on
    page = browser_page
    sign_in(page, live_url, admin.email, password)
    page.get_by_role("navigation", name="Admin center").get_by_role("link", name="Communications Credits").click()

    blocker = page.get_by_role("region", name="You can't buy Communications Credits here")
    expect(blocker).to_contain_text("billed after use under the New commerce experience (NCE)")
    expect(blocker).to_contain_text("What you can do: Calls beyond your plans are billed as pay-as-you-go overage")
    expect(page.get_by_role("link", name="Add funds")).to_have_count(0)
    expect(page.get_by_test_id("status")).to_have_text("Not purchasable")
    expect(page.get_by_test_id("balance")).to_have_text("$100.00")
    warning = page.get_by_role("region", name="Turn off auto-recharge")
    expect(warning).to_contain_text("auto-recharge is still on")
    expect(page.get_by_test_id("auto-recharge-state")).to_have_text("On")
    assert_accessible(page)
    screenshot(page, "billing-nce-credits")

    warning.get_by_role("button", name="Turn off auto-recharge").click()

    expect(page.get_by_role("status")).to_contain_text("Auto recharge is off.")
    expect(page.get_by_role("region", name="Turn off auto-recharge")).to_have_count(0)
    expect(page.get_by_test_id("auto-recharge-state")).to_have_text("Off")
    # The reason to stay blocked is still there; only the warning went away.
    expect(page.get_by_role("region", name="You can't buy Communications Credits here")).to_be_visible()
    assert credit_account(org).auto_recharge_policy.enabled is False
    assert_accessible(page)
    screenshot(page, "billing-nce-auto-recharge-off")


def test_a_csp_admin_sees_the_csp_reason_on_add_funds_and_nothing_is_charged(browser_page, live_url, password):
    org = OrganizationFactory(name="Northwind Test", slug="northwind-test", purchase_channel=PurchaseChannel.CSP)
    admin = admin_in(org, AdminRole.BILLING_ADMINISTRATOR)
    CardFactory(organization=org)
    page = browser_page
    sign_in(page, live_url, admin.email, password)

    page.goto(f"{live_url}/billing/products/communications-credits/add-funds/")

    expect(page.get_by_role("heading", level=1)).to_have_text("Add funds")
    blocker = page.get_by_role("region", name="You can't buy Communications Credits here")
    expect(blocker).to_contain_text("bought through a Cloud Solution Provider (CSP)")
    expect(blocker).to_contain_text("What you can do: Buy your Calling and Audio Conferencing plans directly")
    expect(page.get_by_label("Amount")).to_have_count(0)
    assert not Payment.objects.filter(account__organization=org).exists()
    assert_accessible(page)
    screenshot(page, "billing-csp-add-funds-blocked")
