"""Keyboard-only journeys, with no mouse: Tab and Shift+Tab, Enter and Space, the arrow keys. Every element
that takes focus on the way must show it, and focus must land where the person expects (the skip link
first, then the main content)."""

import re
import zipfile
from datetime import date
from decimal import Decimal

import pytest
from django.http import QueryDict
from playwright.sync_api import expect

from billing import services
from billing.money import format_money
from billing.selectors import credit_account
from tests.e2e.keyboard import (
    activate_in_main,
    choose_option,
    focus_shown,
    press_until_focused,
    sign_in_with_the_keyboard,
    skip_to_main,
    type_over,
)
from tests.e2e.site_demo import GLOBAL_ADMIN, site_demo_fixture  # noqa: F401 - the site_demo fixture
from tests.usage.xlsx_reader import read_workbook
from usage.choices import RecordKind
from usage.selectors import ReportState

pytestmark = pytest.mark.e2e


def heading(page):
    return page.get_by_role("heading", level=1)


@pytest.fixture
def admin_page(browser_page, live_url, site_demo):
    """Contoso's Global Administrator, signed in with the keyboard, on the admin center's home page."""
    sign_in_with_the_keyboard(browser_page, live_url, GLOBAL_ADMIN, site_demo.password(GLOBAL_ADMIN))
    return browser_page


def test_a_keyboard_user_adds_funds_through_the_confirmation_to_the_receipt(admin_page, site_demo):
    page, org = admin_page, site_demo.organization
    services.add_card(
        organization=org, actor=site_demo.user(GLOBAL_ADMIN), number="5555 5555 5555 4444", exp_month=6,
        exp_year=date.today().year + 3, cvc="123",
    )
    balance = credit_account(org).balance

    activate_in_main(page, page.get_by_role("link", name="Go to Communications Credits"))
    expect(heading(page)).to_have_text("Communications Credits")
    activate_in_main(page, page.get_by_role("link", name="Add funds"))
    expect(heading(page)).to_have_text("Add funds")

    skip_to_main(page)
    press_until_focused(page, page.get_by_label("Amount"))
    page.keyboard.type("75.50")
    # Tab enters the group of cards at the one chosen; an arrow key chooses the other.
    page.keyboard.press("Tab")
    expect(page.locator("input[type=radio]:checked")).to_be_focused()
    first_choice = page.locator("input[type=radio]:checked").get_attribute("value")
    page.keyboard.press("ArrowDown")
    chosen = page.locator("input[type=radio]:checked")
    expect(chosen).to_be_focused()
    focus_shown(page)
    assert chosen.get_attribute("value") != first_choice, "the arrow key did not choose the other card"
    card_label = page.locator(f"label:has(#{chosen.get_attribute('id')})").inner_text().strip()
    press_until_focused(page, page.get_by_role("button", name="Review purchase"))
    page.keyboard.press("Enter")

    expect(heading(page)).to_have_text("Confirm your purchase")
    expect(page.get_by_test_id("confirm-amount")).to_have_text("$75.50")
    expect(page.get_by_role("main")).to_contain_text(card_label)
    activate_in_main(page, page.get_by_role("button", name="Pay $75.50"), key="Space")

    expect(heading(page)).to_have_text("Funds added")
    expect(page.get_by_test_id("new-balance")).to_have_text(format_money(balance + Decimal("75.50"), "USD"))
    activate_in_main(page, page.get_by_test_id("receipt-link"))
    expect(heading(page)).to_have_text(re.compile("^Receipt "))
    expect(page.get_by_test_id("receipt-amount")).to_have_text("$75.50")
    # Reached, not pressed: headless Chromium has no print dialog to close.
    skip_to_main(page)
    press_until_focused(page, page.get_by_role("button", name="Print"))


def test_a_keyboard_user_turns_auto_recharge_on_and_confirms_the_charge_that_saving_makes(admin_page, site_demo):
    page, org = admin_page, site_demo.organization
    services.turn_off_auto_recharge(organization=org, actor=site_demo.user(GLOBAL_ADMIN))
    balance = credit_account(org).balance
    trigger = (balance + 50).quantize(Decimal("1"))  # above the balance: saving recharges at once

    activate_in_main(page, page.get_by_role("link", name="Go to Communications Credits"))
    expect(heading(page)).to_have_text("Communications Credits")
    activate_in_main(page, page.get_by_role("link", name="Edit auto recharge settings"))
    expect(heading(page)).to_have_text("Edit auto recharge settings")

    skip_to_main(page)
    switch = page.get_by_label("Auto recharge")
    press_until_focused(page, switch)
    page.keyboard.press("Space")
    expect(switch).to_be_checked()
    press_until_focused(page, page.get_by_label("Recharge with"))
    type_over(page, "30")
    press_until_focused(page, page.get_by_label("When the balance falls below"))
    type_over(page, str(trigger))
    # The recharge must be larger than the trigger: back to it with Shift+Tab, to correct it.
    press_until_focused(page, page.get_by_label("Recharge with"), key="Shift+Tab")
    type_over(page, "300")
    card = page.get_by_label("Charge this card")
    press_until_focused(page, card)
    choose_option(page, card, "Visa ending in 4242 (expires 12/2030)")
    press_until_focused(page, page.get_by_role("button", name="Save", exact=True))
    page.keyboard.press("Enter")

    # Nothing is charged yet: the page says what saving will do, with what was typed kept.
    warning = page.get_by_role("alert")
    expect(warning).to_contain_text("Saving will charge your card now")
    expect(warning).to_contain_text("saving charges $300.00 to Visa ending in 4242")
    expect(page.get_by_label("When the balance falls below")).to_have_value(str(trigger))
    assert credit_account(org).balance == balance
    activate_in_main(page, page.get_by_role("button", name="Save and charge $300.00 now"))

    expect(heading(page)).to_have_text("Communications Credits")
    expect(page.get_by_role("status")).to_contain_text("Auto recharge settings saved.")
    expect(page.get_by_role("status")).to_contain_text("a recharge of $300.00 was charged right away")
    expect(page.get_by_test_id("auto-recharge-state")).to_have_text("On")
    expect(page.get_by_test_id("balance")).to_have_text(format_money(balance + 300, "USD"))


def test_a_keyboard_user_runs_the_usage_report_for_a_week_filters_sorts_and_exports_it(admin_page, site_demo, settings, tmp_path):
    page = admin_page
    week = ReportState(site_demo.organization, RecordKind.PSTN, QueryDict("range=7&destination=Domestic")).summary.records
    assert week > 1, "the demo has no week of domestic calls to sort"

    # Through the navigation, from the top of the page.
    press_until_focused(page, page.get_by_role("navigation", name="Admin center").get_by_role("link", name="Usage reports"))
    page.keyboard.press("Enter")
    expect(heading(page)).to_have_text("PSTN and SMS usage")

    skip_to_main(page)
    settings_form = page.get_by_role("form", name="Report settings")
    for label, option in (("Date range", "Last 7 days"), ("Domestic/International", "Domestic")):
        field = settings_form.get_by_label(label)
        press_until_focused(page, field)
        choose_option(page, field, option)
    press_until_focused(page, settings_form.get_by_role("button", name="Run report"))
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("total-records")).to_have_text(str(week))

    duration = page.get_by_role("columnheader", name=re.compile("^Duration"))
    activate_in_main(page, duration.get_by_role("link"))
    expect(duration).to_have_attribute("aria-sort", re.compile("ascending|descending"))
    expect(page.get_by_test_id("total-records")).to_have_text(str(week))
    column = page.get_by_role("columnheader").all_inner_texts().index(duration.inner_text())
    cells = page.locator(f"table.usage-table tbody tr td:nth-child({column + 1})").all_inner_texts()
    descending = duration.get_attribute("aria-sort") == "descending"
    assert cells == sorted(cells, reverse=descending), f"the rows are not sorted by duration: {cells}"

    # Up to the immediate limit, the export downloads at once.
    skip_to_main(page)
    press_until_focused(page, page.get_by_role("button", name="Export to Excel"))
    with page.expect_download() as download:
        page.keyboard.press("Enter")
    workbook = tmp_path / "week.xlsx"
    download.value.save_as(workbook)
    assert len(read_workbook(workbook)["PSTN calls"]) == 1 + week

    # Over it, the export is built in the background, with a page that follows its progress.
    settings.USAGE_EXPORT_IMMEDIATE_ROWS = 1
    press_until_focused(page, page.get_by_role("button", name="Export original format (.zip)"))
    page.keyboard.press("Enter")
    expect(heading(page)).to_have_text("Original format (.zip of CSV files)")
    expect(page.get_by_label("Progress")).to_have_attribute("value", "100")
    expect(page.get_by_role("status").filter(has_text="Ready to download.")).to_be_visible()
    skip_to_main(page)
    press_until_focused(page, page.get_by_role("link", name=re.compile(r"^Download Calls\.Export\.")))
    with page.expect_download() as download:
        page.keyboard.press("Enter")
    archive = tmp_path / "week.zip"
    download.value.save_as(archive)
    assert zipfile.is_zipfile(archive)
