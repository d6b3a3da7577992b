"""In the browser: the PSTN and SMS usage report on a few weeks of calls - totals, chart, filters,
edit columns, paging, the SMS tab, an Excel export downloaded, and how many credits to buy."""

import re
import zipfile
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect

from tests.e2e.helpers import assert_accessible, screenshot, sign_in
from tests.usage.factories import PersonFactory, fund, graph_call, graph_sms, standard_rates
from tests.usage.factories import page as graph_page
from tests.usage.xlsx_reader import read_workbook
from usage.services.ingest import import_graph_payload

pytestmark = pytest.mark.e2e


@pytest.fixture
def usage(org, catalog):
    standard_rates()
    PersonFactory(organization=org, upn="alice@contoso.test", display_name="Alice Adams", licenses="MCOPSTN1 MCOPSTNPP MCOMEETADD")
    PersonFactory(organization=org, upn="bob@contoso.test", display_name="Bob Brooks", licenses="MCOPSTN1 MCOPSTNPP")
    fund(org)
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    calls = []
    for day in range(20):
        start = (now - timedelta(days=day)).replace(hour=9)
        calls += [
            graph_call(start=start, seconds=300),
            graph_call(upn="bob@contoso.test", start=start + timedelta(hours=1), callee="+442079460000", seconds=125),
            graph_call(upn="bob@contoso.test", call_type="user_in", start=start + timedelta(hours=2), caller="+123 456789***"),
        ]
    import_graph_payload(org, graph_page(calls), "pstn")
    import_graph_payload(org, graph_page([graph_sms(start=now - timedelta(days=1, hours=2))], sms=True), "sms")


def test_an_admin_reads_filters_arranges_and_exports_the_usage_report(browser_page, live_url, reports_reader, password, usage, tmp_path):
    page = browser_page
    sign_in(page, live_url, reports_reader.email, password)
    page.get_by_role("navigation", name="Admin center").get_by_role("link", name="Usage reports").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("PSTN and SMS usage")
    expect(page.get_by_test_id("total-records")).to_have_text("60")
    expect(page.get_by_test_id("total-charges")).to_contain_text("1.20")
    expect(page.get_by_role("img", name="Calls per day")).to_be_visible()
    expect(page.get_by_role("img", name="Credit charges per day (USD)")).to_be_visible()
    expect(page.get_by_test_id("row-position")).to_have_text("Rows 1–50 of 60")
    assert_accessible(page)
    screenshot(page, "usage-report")

    # Next page, by keyset: the last 10 rows.
    page.get_by_role("link", name="Next").click()
    expect(page.get_by_test_id("row-position")).to_have_text("Rows 51–60 of 60")

    # Last 7 days, international calls only.
    settings_form = page.get_by_role("form", name="Report settings")
    settings_form.get_by_label("Date range").select_option("7")
    settings_form.get_by_label("Domestic/International").select_option("International")
    settings_form.get_by_role("button", name="Run report").click()
    expect(page.get_by_test_id("total-records")).to_have_text("7")
    expect(page.get_by_test_id("covered-share")).to_have_text("0.0%")
    rows = page.locator("table.usage-table tbody tr")
    expect(rows).to_have_count(7)
    expect(rows.first).to_contain_text("bob@contoso.test")

    # Edit columns: hide Call ID; it stays hidden on the next visit.
    page.get_by_text("Edit columns").click()
    page.get_by_role("group", name="Columns to show").get_by_label("Call ID").uncheck()
    page.get_by_role("button", name="Save columns").click()
    expect(page.get_by_role("columnheader", name="Call ID")).to_have_count(0)
    page.goto(f"{live_url}/reports/usage/")
    expect(page.get_by_role("columnheader", name="Call ID")).to_have_count(0)
    expect(page.get_by_role("columnheader", name="Called to")).to_be_visible()

    # Export to Excel: the filtered rows, downloaded at once.
    settings_form = page.get_by_role("form", name="Report settings")
    settings_form.get_by_label("Date range").select_option("7")
    settings_form.get_by_label("Domestic/International").select_option("International")
    settings_form.get_by_role("button", name="Run report").click()
    with page.expect_download() as download_info:
        page.get_by_role("button", name="Export to Excel").click()
    download = download_info.value
    assert re.match(r"PSTN usage .*\.xlsx", download.suggested_filename)
    path = tmp_path / "usage.xlsx"
    download.save_as(path)
    assert zipfile.is_zipfile(path)
    sheet = read_workbook(path)["PSTN calls"]
    assert len(sheet) == 1 + 7 and sheet[0][0][1] == "UsageId"

    # The SMS tab, then how many credits to buy.
    page.get_by_role("link", name="SMS", exact=True).click()
    expect(page.get_by_test_id("total-records")).to_have_text("1")
    expect(page.get_by_role("img", name="SMS per day")).to_be_visible()
    assert_accessible(page)
    page.get_by_role("link", name="How many credits to buy").click()
    expect(page.get_by_test_id("coverage-sentence")).to_contain_text("of your call minutes in the last 90 days were covered")
    expect(page.get_by_test_id("recommendation-reasoning")).to_contain_text("a day on average")
    assert_accessible(page)
    screenshot(page, "usage-credits-to-buy")


def test_an_admin_imports_a_file_and_finds_a_large_export_under_downloads(browser_page, live_url, global_admin, password, usage, settings,
                                                                          tmp_path):
    from tests.usage.factories import csv_bytes, export_row

    settings.USAGE_EXPORT_IMMEDIATE_ROWS = 10
    settings.MEDIA_ROOT = str(tmp_path / "media")
    page = browser_page
    sign_in(page, live_url, global_admin.email, password)
    page.goto(f"{live_url}/reports/usage/")
    page.get_by_role("link", name="Import usage").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Import usage")
    assert_accessible(page)
    upload = tmp_path / "PSTN.calls.2024-05-06.csv"
    upload.write_bytes(csv_bytes([export_row(), export_row(**{"Duration Seconds": "-1"})]))
    page.get_by_label("File").set_input_files(str(upload))
    page.get_by_role("button", name="Import").click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("Nothing was imported")
    expect(alert).to_contain_text("line 3")
    assert_accessible(page)
    upload.write_bytes(csv_bytes([export_row(), export_row()]))
    page.get_by_label("File").set_input_files(str(upload))
    page.get_by_role("button", name="Import").click()
    expect(page.get_by_role("status").filter(has_text="Imported")).to_contain_text("2 new records of 2 rows")

    # 60 calls are more than 10: the export is built in the background (eagerly here) and kept under Downloads.
    page.goto(f"{live_url}/reports/usage/")
    page.get_by_role("button", name="Export original format (.zip)").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Original format (.zip of CSV files)")
    expect(page.get_by_label("Progress")).to_have_attribute("value", "100")
    expect(page.get_by_role("link", name=re.compile(r"Download Calls\.Export\..*\.zip"))).to_be_visible()
    assert_accessible(page)
    page.get_by_role("link", name="All downloads").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Downloads")
    with page.expect_download() as download_info:
        page.get_by_role("link", name=re.compile("^Download")).first.click()
    assert download_info.value.suggested_filename.startswith("Calls.Export.")
    assert_accessible(page)


def test_over_a_range_too_large_to_sort_a_column_its_header_says_how_to_sort_it(browser_page, live_url, reports_reader, password, usage,
                                                                                monkeypatch):
    from usage import paging, views

    # 60 calls stand for a million: columns without an index sort over at most 20 records here.
    monkeypatch.setattr(paging, "SORT_IN_DATABASE_ROWS", 20)
    monkeypatch.setattr(views, "SORT_IN_DATABASE_ROWS", 20)
    page = browser_page
    sign_in(page, live_url, reports_reader.email, password)
    page.goto(f"{live_url}/reports/usage/")
    hint = page.get_by_test_id("sort-hint")
    expect(hint).to_contain_text("filter by user to sort by Username, Call type, Charge or Duration")
    charge = page.get_by_role("columnheader", name="Charge")
    expect(charge.get_by_role("link")).to_have_count(0)
    expect(charge).to_have_attribute("aria-describedby", "sort-hint")
    assert_accessible(page)
    # A link kept from elsewhere: the default order, with why.
    page.goto(f"{live_url}/reports/usage/?range=28&sort=-charge")
    expect(page.get_by_role("status")).to_contain_text("Shown newest first.")
    expect(page).to_have_url(f"{live_url}/reports/usage/?range=28")
    # Alice's 20 calls sort by any column.
    settings_form = page.get_by_role("form", name="Report settings")
    settings_form.get_by_label("Username").fill("alice@contoso.test")
    settings_form.get_by_role("button", name="Run report").click()
    expect(page.get_by_test_id("total-records")).to_have_text("20")
    expect(page.get_by_test_id("sort-hint")).to_have_count(0)
    page.get_by_role("columnheader", name="Charge").get_by_role("link").click()
    expect(page.get_by_role("columnheader", name="Charge")).to_have_attribute("aria-sort", "descending")
    assert_accessible(page)
