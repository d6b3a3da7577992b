"""The credits page on a phone-sized screen."""

from decimal import Decimal

import pytest
from playwright.sync_api import expect

from billing import services
from tests.e2e.helpers import assert_accessible, screenshot, sign_in

pytestmark = pytest.mark.e2e

PHONE = {"width": 390, "height": 844}


@pytest.fixture
def browser_context_args():
    return {"viewport": PHONE, "device_scale_factor": 2, "is_mobile": True, "has_touch": True, "locale": "en-US"}


def test_the_credits_page_fits_a_phone_screen_without_sideways_scrolling(
    browser_page, live_url, org, billing_admin, password, card
):
    services.fund_credits(
        organization=org, actor=billing_admin, amount=Decimal("250.00"), payment_method=card, idempotency_key="e2e:phone"
    )
    services.update_auto_recharge(
        organization=org, actor=billing_admin, enabled=True, amount=Decimal("50.00"), trigger=Decimal("10.00"),
        payment_method=card,
    )
    page = browser_page
    sign_in(page, live_url, billing_admin.email, password)
    page.goto(f"{live_url}/billing/products/communications-credits/")
    expect(page.get_by_test_id("balance")).to_have_text("$250.00")
    expect(page.get_by_role("link", name="Add funds")).to_be_in_viewport()

    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"the page scrolls sideways by {overflow}px on a {PHONE['width']}px screen"
    assert_accessible(page)
    screenshot(page, "billing-credits-phone")
