"""In the browser: a card that fails auto-recharge, its message, the paused state after three failures,
and recovery when the admin updates the card (the new card is charged at once)."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from billing import services
from billing.models import Payment
from billing.selectors import credit_account
from billing.services.auto_recharge import rounds
from tests.e2e.helpers import assert_accessible, screenshot, sign_in
from tests.factories import CardFactory

pytestmark = pytest.mark.e2e


def test_a_failing_card_is_reported_pauses_auto_recharge_and_a_new_card_recovers_it(
    browser_page, live_url, org, billing_admin, password, catalog
):
    page = browser_page
    good = CardFactory(organization=org, last4="4242")
    failing = CardFactory(organization=org, last4="0341", behaviour="card_declined")
    services.fund_credits(organization=org, actor=billing_admin, amount=Decimal("100.00"), payment_method=good, idempotency_key="e2e:fund")
    services.update_auto_recharge(
        organization=org, actor=billing_admin, enabled=True, amount=Decimal("50.00"), trigger=Decimal("20.00"), payment_method=failing
    )
    account = credit_account(org)
    services.charge_usage(account_id=account.pk, amount=Decimal("85.00"), idempotency_key="e2e:calls")  # 15: the recharge fails

    sign_in(page, live_url, billing_admin.email, password)
    page.goto(f"{live_url}/billing/products/communications-credits/")
    failed = page.get_by_test_id("auto-recharge-failed")
    expect(failed.get_by_role("heading", name="The last auto-recharge failed")).to_be_visible()
    expect(failed).to_contain_text("The card was declined by its issuer.")
    expect(failed).to_contain_text("Visa ending in 0341")
    expect(failed.get_by_role("link", name="Update the payment method")).to_be_visible()
    expect(page.get_by_test_id("auto-recharge-state")).to_have_text("On")
    assert_accessible(page)
    screenshot(page, "auto-recharge-failed")

    # Two more attempts after their cool-downs fail as well: auto-recharge pauses itself.
    rounds.run_auto_recharge(account.pk, now=timezone.now() + timedelta(hours=2))
    rounds.run_auto_recharge(account.pk, now=timezone.now() + timedelta(hours=4))
    page.reload()
    paused = page.get_by_test_id("auto-recharge-paused")
    expect(paused.get_by_role("heading", name="Auto-recharge is paused")).to_be_visible()
    expect(paused).to_contain_text("Paused after 3 failed recharges in a row")
    expect(paused).to_contain_text("The card was declined by its issuer.")
    expect(page.get_by_test_id("auto-recharge-state")).to_have_text("On, paused")
    expect(page.get_by_test_id("balance")).to_have_text("$15.00")
    assert_accessible(page)
    screenshot(page, "auto-recharge-paused")

    paused.get_by_role("link", name="Update the payment method").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Add a card")
    page.get_by_label("Card number").fill("4242 4242 4242 4242")
    page.get_by_label("Expiry month").fill("12")
    page.get_by_label("Expiry year").fill(str(timezone.now().year + 3))
    page.get_by_label("Security code (CVC)").fill("123")
    page.get_by_role("button", name="Add card").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Communications Credits")
    expect(page.get_by_test_id("auto-recharge-paused")).to_have_count(0)
    expect(page.get_by_test_id("auto-recharge-failed")).to_have_count(0)
    expect(page.get_by_test_id("auto-recharge-state")).to_have_text("On")
    expect(page.get_by_test_id("balance")).to_have_text("$65.00")
    assert_accessible(page)
    screenshot(page, "auto-recharge-recovered")

    latest = Payment.objects.filter(account=account, purpose="recharge").order_by("-pk").first()
    assert latest.status == "succeeded" and latest.payment_method.last4 == "4242"
    assert Payment.objects.filter(account=account, purpose="recharge", status="failed").count() == 3
