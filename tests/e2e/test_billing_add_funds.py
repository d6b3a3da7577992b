"""A Billing Administrator of a Web Direct organization adds funds and cards in the browser."""

import re

import pytest
from playwright.sync_api import expect

from billing import services
from billing.models import PaymentMethod, Receipt
from billing.selectors import credit_account
from tests.e2e.helpers import assert_accessible, screenshot, sign_in, stylesheet_applied
from tests.factories import CardFactory

pytestmark = pytest.mark.e2e


def open_credits_from_the_navigation(page):
    nav = page.get_by_role("navigation", name="Admin center")
    nav.get_by_role("link", name="Your products").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your products")
    nav.get_by_role("link", name="Communications Credits").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Communications Credits")


def test_the_sign_in_page_is_styled_and_accessible(browser_page, live_url):
    browser_page.goto(f"{live_url}/sign-in/")
    expect(browser_page.get_by_role("heading", level=1)).to_have_text("Sign in to the admin center")
    assert stylesheet_applied(browser_page), "static/css/site.css was not loaded by the live server"
    assert_accessible(browser_page)
    screenshot(browser_page, "sign-in")


def test_a_billing_admin_adds_funds_with_the_card_on_file_and_opens_the_receipt(
    browser_page, live_url, org, billing_admin, password, catalog
):
    page = browser_page
    CardFactory(organization=org, last4="4242")
    sign_in(page, live_url, billing_admin.email, password)
    assert_accessible(page)
    screenshot(page, "billing-home")

    open_credits_from_the_navigation(page)
    expect(page.get_by_test_id("balance")).to_have_text("$0.00")
    assert_accessible(page)
    screenshot(page, "billing-credits-before-funding")

    page.get_by_role("link", name="Add funds").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Add funds")
    page.get_by_label("Amount").fill("75.50")
    expect(page.get_by_role("radio", name=re.compile("Visa ending in 4242"))).to_be_checked()
    assert_accessible(page)
    screenshot(page, "billing-add-funds")

    page.get_by_role("button", name="Review purchase").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Confirm your purchase")
    expect(page.get_by_test_id("confirm-amount")).to_have_text("$75.50")
    assert_accessible(page)
    screenshot(page, "billing-add-funds-confirm")

    page.get_by_role("button", name="Pay $75.50").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Funds added")
    expect(page.get_by_test_id("new-balance")).to_have_text("$75.50")
    receipt = Receipt.objects.get(account__organization=org)
    receipt_link = page.get_by_test_id("receipt-link")
    expect(receipt_link).to_have_text(receipt.number)
    assert_accessible(page)
    screenshot(page, "billing-funds-added")

    receipt_link.click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Receipt {receipt.number}")
    expect(page.get_by_test_id("receipt-amount")).to_have_text("$75.50")
    assert_accessible(page)
    screenshot(page, "billing-receipt")

    open_credits_from_the_navigation(page)
    expect(page.get_by_test_id("balance")).to_have_text("$75.50")
    expect(page.get_by_test_id("status")).to_have_text("Active")
    expect(page.get_by_role("link", name=receipt.number)).to_be_visible()
    assert credit_account(org).balance == receipt.amount
    assert_accessible(page)
    screenshot(page, "billing-credits-after-funding")


def test_the_receipt_print_button_opens_the_print_dialog(browser_page, live_url, org, billing_admin, password, card):
    payment = services.fund_credits(
        organization=org, actor=billing_admin, amount="20.00", payment_method=card, idempotency_key="e2e:print"
    )
    receipt = Receipt.objects.get(entry=payment.entry)
    page = browser_page
    # Headless chromium has no print dialog: record the call instead.
    page.add_init_script("window.print = () => { window.__printed = true; };")
    sign_in(page, live_url, billing_admin.email, password)
    page.goto(f"{live_url}/billing/receipts/{receipt.number}/")
    page.get_by_role("button", name="Print").click()
    assert page.evaluate("window.__printed === true"), "the Print button did nothing"


def test_a_billing_admin_adds_the_4242_card_on_the_add_a_card_page(browser_page, live_url, org, billing_admin, password):
    page = browser_page
    sign_in(page, live_url, billing_admin.email, password)
    open_credits_from_the_navigation(page)
    page.get_by_role("link", name="Add a card").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Add a card")
    assert_accessible(page)
    screenshot(page, "billing-add-card")

    page.get_by_label("Card number").fill("4242 4242 4242 4242")
    page.get_by_label("Expiry month").fill("12")
    page.get_by_label("Expiry year").fill("2031")
    page.get_by_label("Security code (CVC)").fill("123")
    page.get_by_role("button", name="Add card").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Communications Credits")
    expect(page.get_by_role("status")).to_contain_text("Visa ending in 4242 (expires 12/2031) was added.")
    expect(page.get_by_role("region", name="Payment methods")).to_contain_text("Visa ending in 4242")
    method = PaymentMethod.objects.get(organization=org)
    assert (method.brand, method.last4) == ("visa", "4242")
    assert_accessible(page)
    screenshot(page, "billing-card-added")


def test_the_expired_test_card_is_refused_with_its_message(browser_page, live_url, org, billing_admin, password):
    page = browser_page
    sign_in(page, live_url, billing_admin.email, password)
    page.goto(f"{live_url}/billing/payment-methods/add-card/")
    page.get_by_label("Card number").fill("4000 0000 0000 0069")
    page.get_by_label("Expiry month").fill("12")
    page.get_by_label("Expiry year").fill("2031")
    page.get_by_label("Security code (CVC)").fill("123")
    page.get_by_role("button", name="Add card").click()

    expect(page.get_by_role("alert")).to_contain_text("Please correct the fields marked below.")
    number = page.get_by_label("Card number")
    field = page.locator(".field", has=number)
    expect(field.locator(".error")).to_contain_text("The card has expired.")
    # The number is never sent back to the browser.
    expect(number).to_have_value("")
    assert not PaymentMethod.objects.filter(organization=org).exists()
    assert_accessible(page)
    screenshot(page, "billing-add-card-refused")


def test_a_keyboard_user_skips_the_navigation_and_reaches_add_funds(
    browser_page, live_url, org, billing_admin, password, card
):
    page = browser_page
    sign_in(page, live_url, billing_admin.email, password)
    page.goto(f"{live_url}/billing/products/communications-credits/")
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to main content")).to_be_focused()
    page.keyboard.press("Enter")
    add_funds = page.get_by_role("link", name="Add funds")
    for _ in range(5):  # the breadcrumb links come first
        page.keyboard.press("Tab")
        if add_funds.evaluate("e => e === document.activeElement"):
            break
    expect(add_funds).to_be_focused()
    outline = add_funds.evaluate("e => getComputedStyle(e).outlineStyle")
    assert outline != "none", "the focused Add funds button shows no focus indicator"
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Add funds")
