"""Billing > Communications Credits > Rates: the lines in force today, filtered by country and kind,
sorted by price, exported to .xlsx (constant memory) and CSV (formulas neutralized)."""

import csv
import io
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.urls import reverse

from tests.usage.factories import RateFactory
from tests.usage.xlsx_reader import read_workbook

pytestmark = pytest.mark.django_db


@pytest.fixture
def table(org, rates):
    today = datetime.now(UTC).date()
    RateFactory(prefix="4420", country="GB", per_unit=Decimal("0.777"), effective_from=today + timedelta(days=1))  # not yet
    RateFactory(prefix="33", country="FR", per_unit=Decimal("0.9"), effective_from=today - timedelta(days=30), effective_to=today)  # ended
    RateFactory(prefix="34", country="ES", per_unit=Decimal("0.04"), description="=HYPERLINK(\"http://x\")")
    RateFactory(prefix="1", country="US", currency="EUR", per_unit=Decimal("0.011"))  # another currency
    return reverse("rates:table")


def csv_rows(response):
    text = b"".join(response.streaming_content).decode()
    return list(csv.reader(io.StringIO(text)))


def test_only_lines_in_force_today_in_the_organizations_currency_are_shown(client, global_admin, table, django_assert_max_num_queries):
    client.force_login(global_admin)
    with django_assert_max_num_queries(12):
        response = client.get(table)
    body = response.content.decode()
    assert response.status_code == 200
    assert "+34" in body and "+4420" in body and "0.026" in body  # the +44 line after the 2024 change
    table_html = body.split("<table", 1)[1]
    assert "0.024" not in table_html and "+33" not in table_html and "0.777" not in table_html and "0.011" not in table_html


def test_filter_by_country_and_kind_and_sort_by_price(client, reports_reader, table):
    client.force_login(reports_reader)
    body = client.get(table, {"country": "GB"}).content.decode()
    assert "+4420" in body and "+49" not in body and "+34" not in body
    body = client.get(table, {"kind": "sms"}).content.decode()
    assert "0.0075" in body and "+4420" not in body
    cheapest_first = client.get(table, {"kind": "outbound", "sort": "per_unit"}).content.decode()
    dearest_first = client.get(table, {"kind": "outbound", "sort": "-per_unit"}).content.decode()
    assert cheapest_first.index("0.013") < cheapest_first.index("0.09")
    assert dearest_first.index("0.09") < dearest_first.index("0.013")
    assert client.get(table, {"country": "XX"}).status_code == 200  # an unknown country: a form error, not a 500


def test_the_csv_export_is_the_filtered_lines_with_formulas_neutralized(client, global_admin, table):
    client.force_login(global_admin)
    header, *lines = csv_rows(client.get(table, {"export": "csv", "kind": "outbound"}))
    assert header[:4] == ["Country or region", "Country code", "Prefix (E.164 digits)", "Rate for"]
    by_prefix = {row[2]: dict(zip(header, row)) for row in lines}
    assert set(by_prefix) == {"1", "44", "4420", "449", "49", "91", "20", "675", "34"}
    assert by_prefix["34"]["Description"] == "'=HYPERLINK(\"http://x\")"
    india = by_prefix["91"]
    assert (india["Price per minute or segment"], india["Connection fee"], india["Currency"]) == ("0.090000", "0.050000", "USD")
    assert (india["Minimum seconds"], india["Increment seconds"]) == ("60", "60")
    assert by_prefix["449"]["Number type"] == "Premium-rate / shared-cost"
    only_gb = csv_rows(client.get(table, {"export": "csv", "country": "GB"}))
    assert {row[1] for row in only_gb[1:]} == {"GB"}


def test_filter_by_number_type(client, global_admin, table):
    client.force_login(global_admin)
    body = client.get(table, {"number_type": "premium"}).content.decode().split("<table", 1)[1]
    assert "+449" in body and "+4420" not in body and "1.5" in body


def test_the_xlsx_export_holds_numbers_and_text_never_formulas(client, global_admin, table, tmp_path):
    client.force_login(global_admin)
    response = client.get(table, {"export": "xlsx", "country": "ES"})
    assert response["Content-Disposition"].startswith('attachment; filename="communications-credits-rates-')
    path = tmp_path / "rates.xlsx"
    path.write_bytes(b"".join(response.streaming_content))
    header, *rows = read_workbook(path)["Rates"]
    labels = [cell[1] for cell in header]
    assert labels[:3] == ["Country or region", "Country code", "Prefix (E.164 digits)"]
    assert len(rows) == 1
    row = dict(zip(labels, rows[0]))
    assert row["Description"][:2] == ("s", "=HYPERLINK(\"http://x\")")  # text, not a formula
    assert row["Price per minute or segment"][0] == "n" and float(row["Price per minute or segment"][1]) == 0.04
    assert all(cell[0] != "f" for line in rows for cell in line)
