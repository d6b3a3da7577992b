"""The Message center in the browser: after an auto-recharge fails, and after funds are added."""

import re
from decimal import Decimal

import pytest
from django.core import mail
from playwright.sync_api import expect

from billing import services
from notifications.models import Delivery, DeliveryStatus, Event
from tests.e2e.helpers import assert_accessible, screenshot, sign_in
from tests.factories import CardFactory

pytestmark = pytest.mark.e2e


def open_message_center(page):
    page.get_by_role("navigation", name="Admin center").get_by_role("link", name="Message center").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Message center")


def test_the_message_center_shows_a_failed_recharge_then_a_successful_funding(
    browser_page, live_url, org, billing_admin, reports_reader, password, catalog
):
    page = browser_page
    good = CardFactory(organization=org, last4="4242")
    declining = CardFactory(organization=org, behaviour="card_declined", last4="0341")
    services.fund_credits(
        organization=org, actor=billing_admin, amount=Decimal("30.00"), payment_method=good, idempotency_key="e2e:seed"
    )
    services.update_auto_recharge(
        organization=org, actor=billing_admin, enabled=True, amount="50.00", trigger="20.00", payment_method=declining
    )
    # A call takes the balance below the trigger: auto-recharge runs and the card is declined.
    services.charge_usage(account_id=org.credit_account.pk, amount=Decimal("15.00"), idempotency_key="e2e:call")
    failure = Event.objects.get(kind="recharge_failed")
    assert {m.to[0] for m in mail.outbox if "failed" in m.subject} == {billing_admin.email, reports_reader.email}

    sign_in(page, live_url, reports_reader.email, password)
    open_message_center(page)
    table = page.get_by_test_id("message-center-table")
    failed_row = table.get_by_role("row").filter(has_text="Recharge failed")
    expect(failed_row).to_contain_text("Contoso Test: auto-recharge of $50.00 failed")
    expect(failed_row).to_contain_text("2 sent")
    assert_accessible(page)
    screenshot(page, "notifications-message-center-after-recharge-failure")

    failed_row.get_by_role("link", name=re.compile("auto-recharge of \\$50.00 failed")).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Recharge failed")
    expect(page.get_by_test_id("event-summary")).to_have_text("Contoso Test: auto-recharge of $50.00 failed")
    expect(page.get_by_text("The card was declined by its issuer.")).to_be_visible()
    deliveries = page.get_by_test_id("deliveries-table")
    expect(deliveries.get_by_role("row").filter(has_text=billing_admin.email)).to_contain_text("Sent")
    expect(deliveries.get_by_role("row").filter(has_text=reports_reader.email)).to_contain_text(
        "Teams Communications Support Engineer"
    )
    assert_accessible(page)
    screenshot(page, "notifications-recharge-failure-recipients")

    # The billing admin adds funds in the browser; the success goes out to every admin.
    page.get_by_role("button", name="Sign out").click()
    sign_in(page, live_url, billing_admin.email, password)
    page.goto(f"{live_url}/billing/products/communications-credits/add-funds/")
    page.get_by_label("Amount").fill("40.00")
    page.get_by_role("radio", name=re.compile("Visa ending in 4242")).check()
    page.get_by_role("button", name="Review purchase").click()
    page.get_by_role("button", name="Pay $40.00").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Funds added")

    open_message_center(page)
    rows = page.get_by_test_id("message-center-table").get_by_role("row")
    newest = rows.nth(1)
    expect(newest).to_contain_text("Transaction succeeded")
    expect(newest).to_contain_text("Contoso Test: $40.00 added to Communications Credits")
    expect(newest).to_contain_text("2 sent")
    expect(rows.filter(has_text="Recharge failed")).to_have_count(1)
    assert_accessible(page)
    screenshot(page, "notifications-message-center-after-funding")

    success = Event.objects.filter(kind="transaction_succeeded").latest("occurred_at")
    assert success.occurred_at > failure.occurred_at
    assert set(Delivery.objects.filter(event=success).values_list("status", flat=True)) == {DeliveryStatus.SENT}
    funded = [m for m in mail.outbox if m.subject == "Contoso Test: $40.00 added to Communications Credits"]
    assert sorted(m.to[0] for m in funded) == sorted([billing_admin.email, reports_reader.email])


def test_the_notification_settings_page_is_usable_and_accessible(browser_page, live_url, org, billing_admin, password):
    page = browser_page
    sign_in(page, live_url, billing_admin.email, password)
    open_message_center(page)
    page.get_by_role("link", name="Notification settings").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Notification settings")

    page.get_by_label("Warn when the balance falls below").fill("25")
    page.get_by_role("button", name="Add warning").click()
    expect(page.get_by_test_id("thresholds")).to_contain_text("Below $25.00")

    low_balance = page.get_by_role("group", name="Low balance")
    low_balance.get_by_label("Helpdesk Administrator").check()
    page.get_by_role("button", name="Save recipients").click()
    expect(page.get_by_role("status")).to_contain_text("Notification recipients saved.")
    expect(page.get_by_role("group", name="Low balance").get_by_label("Helpdesk Administrator")).to_be_checked()
    assert_accessible(page)
    screenshot(page, "notifications-settings")
