"""The rate table admins browse (sorted by price, country or prefix) and export (.xlsx and CSV):
one declaration of its columns for the page and both exports."""


import django_tables2 as tables
import xlsxwriter

from billing.formulas import neutralize_formula

from .models import Rate
from .selectors.phone_numbers import country_name

NUM = {"td": {"class": "num"}, "th": {"class": "num"}}
KIND_SHORT = {"outbound": "Outbound calls", "toll_free_inbound": "Toll-free inbound", "sms": "SMS"}


class RateTable(tables.Table):
    country = tables.Column(verbose_name="Country or region")
    prefix = tables.Column(verbose_name="Prefix")
    kind = tables.Column(verbose_name="Rate for")
    number_type = tables.Column(verbose_name="Number type", default="—")
    description = tables.Column(verbose_name="Description", orderable=False)
    per_unit = tables.Column(verbose_name="Price (per min or SMS)", attrs=NUM)
    connection_fee = tables.Column(verbose_name="Connection fee", attrs=NUM)
    billing = tables.Column(verbose_name="Billed", accessor="minimum_seconds", orderable=False)
    currency = tables.Column(verbose_name="Currency", orderable=False)
    effective_from = tables.DateColumn(verbose_name="From", format="Y-m-d")
    effective_to = tables.DateColumn(verbose_name="Until", format="Y-m-d", default="—")

    class Meta:
        model = Rate
        fields = ("country", "prefix", "kind", "number_type", "description", "per_unit", "connection_fee", "currency", "effective_from", "effective_to")
        # The price first after what it is for, so that it stays on screen; the description last.
        sequence = (
            "country", "prefix", "number_type", "per_unit", "connection_fee", "currency", "billing", "kind",
            "effective_from", "effective_to", "description",
        )
        order_by = ("per_unit",)
        attrs = {"class": "data-table"}
        empty_text = "No rates in force today match these filters."

    def _order(self, queryset, is_descending, *fields):
        prefix = "-" if is_descending else ""
        return queryset.order_by(*(f"{prefix}{f}" for f in (*fields, "pk"))), True

    def order_per_unit(self, queryset, is_descending):
        return self._order(queryset, is_descending, "per_unit", "connection_fee")

    def order_connection_fee(self, queryset, is_descending):
        return self._order(queryset, is_descending, "connection_fee", "per_unit")

    def order_country(self, queryset, is_descending):
        return self._order(queryset, is_descending, "country", "prefix")

    def order_prefix(self, queryset, is_descending):
        return self._order(queryset, is_descending, "prefix", "country")

    def render_country(self, value):
        return f"{country_name(value)} ({value})"

    def render_kind(self, value, record):
        return KIND_SHORT.get(record.kind, value)

    def render_number_type(self, value, record):
        return record.get_number_type_display()

    def render_billing(self, value, record):
        return billing_text(record)

    def render_prefix(self, value):
        return f"+{value}" if value else "—"

    def render_per_unit(self, value):
        return f"{value.normalize():f}"

    def render_connection_fee(self, value):
        return f"{value.normalize():f}"


def billing_text(rate):
    """How a line bills a call's seconds: "60/60" is whole minutes, "1/1" every second."""
    return f"{rate.minimum_seconds}/{rate.increment_seconds} s"


# The exports: the same columns, values as plain text and numbers.
EXPORT_COLUMNS = [
    ("Country or region", lambda r: country_name(r.country) if r.country else ""),
    ("Country code", lambda r: r.country),
    # Digits without the "+": "+1" would be neutralized as a formula (it is too short for E.164).
    ("Prefix (E.164 digits)", lambda r: r.prefix),
    ("Rate for", lambda r: r.get_kind_display()),
    ("Number type", lambda r: r.get_number_type_display() if r.number_type else ""),
    ("Description", lambda r: r.description),
    ("Price per minute or segment", lambda r: r.per_unit),
    ("Connection fee", lambda r: r.connection_fee),
    ("Minimum seconds", lambda r: r.minimum_seconds),
    ("Increment seconds", lambda r: r.increment_seconds),
    ("Currency", lambda r: r.currency),
    ("Effective from", lambda r: r.effective_from.isoformat()),
    ("Until (not including)", lambda r: r.effective_to.isoformat() if r.effective_to else ""),
]
NUMERIC = {"Price per minute or segment", "Connection fee", "Minimum seconds", "Increment seconds"}


def csv_rows(rates):
    """The rates as CSV rows, the heading first: text neutralized for spreadsheets (billing.formulas),
    amounts as plain numbers."""
    yield [label for label, _value in EXPORT_COLUMNS]
    for rate in rates:
        yield [value(rate) if label in NUMERIC else neutralize_formula(str(value(rate))) for label, value in EXPORT_COLUMNS]


def write_xlsx(rates, target):
    """The rates as an .xlsx workbook into `target` (a path or a binary file), in xlsxwriter's
    constant_memory mode: rows are written as they come and never kept."""
    workbook = xlsxwriter.Workbook(target, {"constant_memory": True, "strings_to_formulas": False, "strings_to_urls": False})
    sheet = workbook.add_worksheet("Rates")
    bold = workbook.add_format({"bold": True})
    price = workbook.add_format({"num_format": "0.000000"})
    for col, (label, _value) in enumerate(EXPORT_COLUMNS):
        sheet.write_string(0, col, label, bold)
    sheet.set_column(0, 0, 28)
    sheet.set_column(3, 4, 36)
    for row_number, rate in enumerate(rates, start=1):
        for col, (label, value) in enumerate(EXPORT_COLUMNS):
            if label in NUMERIC:
                sheet.write_number(row_number, col, float(value(rate)), price if "seconds" not in label else None)
            else:
                sheet.write_string(row_number, col, str(value(rate)))
    workbook.close()
