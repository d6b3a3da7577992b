from datetime import datetime

import django_tables2 as tables
from django.template.defaultfilters import date as date_filter
from django.urls import reverse
from django.utils import timezone
from django.utils.html import conditional_escape, format_html
from django.utils.safestring import mark_safe
from django_tables2.data import TableQuerysetData

from .formulas import neutralize_formula
from .models import LedgerEntry
from .money import format_money


class StreamedQuerysetData(TableQuerysetData):
    """A table's queryset read a chunk at a time and never kept (QuerySet.iterator): an export that
    streams the table's rows (Table.as_values) keeps memory flat however many there are."""

    def __init__(self, queryset, *, chunk_size):
        super().__init__(queryset)
        self.chunk_size = chunk_size

    def __iter__(self):
        return self.data.iterator(chunk_size=self.chunk_size)


class TimeColumn(tables.Column):
    """A date and time shown as `format` (the `date` filter's syntax) in the current time zone, as
    django-tables2's DateTimeColumn shows it. That one is a TemplateColumn, which compiles its template
    again for every cell it renders: a large share of a table page's time under load."""

    def __init__(self, *, format, **kwargs):
        self.format = format
        super().__init__(**kwargs)

    def render(self, value):
        return date_filter(timezone.localtime(value) if timezone.is_aware(value) else value, self.format)

    def value(self, value):
        return value.isoformat(sep=" ") if isinstance(value, datetime) else value


class FastBodyMixin:
    """The table's body joined in Python: `cells(record)` gives each column's HTML, and each column's
    <td> attributes are computed once per page, not once per cell. django-tables2's body template asked
    every cell for its attributes and called its render method through inspect.signature: most of a
    table page's time under load. The templates (includes/table.html, notifications/table.html) use
    `fast_tbody` and fall back to django-tables2's body when it is empty (no rows: the empty text).
    Tests check that both give the same HTML."""

    def fast_tbody(self):
        rows = list(self.paginated_rows)
        if not rows:
            return ""
        columns = list(self.columns)
        starts = [format_html("<td {}>", column.attrs["td"].as_html()) for column in columns]
        parts = ["<tbody>"]
        for row in rows:
            cells = self.cells(row.record)
            parts.append(format_html("<tr {}>", row.attrs.as_html()))
            for start, column in zip(starts, columns, strict=True):
                parts += [start, conditional_escape(cells[column.name]), "</td>"]
            parts.append("</tr>")
        parts.append("</tbody>")
        return mark_safe("".join(parts))  # noqa: S308 - every part is escaped or built by format_html

    def cell(self, name, value, render=None):
        """What django-tables2 shows: the column's default for an empty value, else render(value) or value."""
        if value in self.columns[name].column.empty_values:
            return self.columns[name].default
        return render(value) if render else value


class LedgerEntryTable(FastBodyMixin, tables.Table):
    created_at = TimeColumn(verbose_name="Date (UTC)", format="Y-m-d H:i")
    kind = tables.Column(verbose_name="Type")
    memo = tables.Column(verbose_name="Description", orderable=False)
    amount = tables.Column(verbose_name="Amount", attrs={"td": {"class": "num"}, "th": {"class": "num"}})
    balance_after = tables.Column(verbose_name="Balance", attrs={"td": {"class": "num"}, "th": {"class": "num"}})
    # A plain column rendered by render_receipt: a TemplateColumn compiles its template again for every
    # row it renders, which was a third of the transactions page's time. empty_values=(): asked for
    # every row, with None where the entry has no receipt (render_receipt and value_receipt say "").
    receipt = tables.Column(verbose_name="Receipt", orderable=False, accessor="receipt", empty_values=(), default="")
    # Exports only: their amounts are plain numbers, which the page shows with the currency.
    currency = tables.Column(verbose_name="Currency", accessor="account__currency", orderable=False, visible=False)

    class Meta:
        model = LedgerEntry
        fields = ("created_at", "kind", "memo", "amount", "balance_after", "receipt")
        sequence = ("created_at", "kind", "memo", "amount", "balance_after", "currency", "receipt")
        order_by = ("-created_at",)
        attrs = {"class": "data-table"}
        empty_text = "No transactions yet."

    # Every sort ends with the primary key, so that pages never skip or repeat rows.
    def _order_with_tie_breaker(self, queryset, is_descending, field):
        prefix = "-" if is_descending else ""
        return queryset.order_by(f"{prefix}{field}", f"{prefix}pk"), True

    def order_created_at(self, queryset, is_descending):
        return self._order_with_tie_breaker(queryset, is_descending, "created_at")

    def order_kind(self, queryset, is_descending):
        return self._order_with_tie_breaker(queryset, is_descending, "kind")

    def order_amount(self, queryset, is_descending):
        return self._order_with_tie_breaker(queryset, is_descending, "amount")

    def order_balance_after(self, queryset, is_descending):
        return self._order_with_tie_breaker(queryset, is_descending, "balance_after")

    def cells(self, record):
        currency = record.account.currency
        return {
            "created_at": self.cell("created_at", record.created_at, self.base_columns["created_at"].render),
            "kind": self.cell("kind", record.get_kind_display()),
            "memo": self.cell("memo", record.memo),
            "amount": self.cell("amount", record.amount, lambda v: format_money(v, currency)),
            "balance_after": self.cell("balance_after", record.balance_after, lambda v: format_money(v, currency)),
            "currency": self.cell("currency", currency),
            "receipt": self.render_receipt(getattr(record, "receipt", None)),
        }

    def render_receipt(self, value):
        if value is None:
            return ""
        return format_html('<a href="{}">{}</a>', reverse("billing:receipt", args=[value.number]), value.number)

    def render_amount(self, value, record):
        return format_money(value, record.account.currency)

    def render_balance_after(self, value, record):
        return format_money(value, record.account.currency)

    # Values of the exports (Table.as_values): UTC ISO 8601 times, plain numbers, the receipt's number.
    def value_created_at(self, value):
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")

    def value_memo(self, value):
        # Free text (a support adjustment's reason, for one): a spreadsheet must never run it (billing.formulas).
        return neutralize_formula(str(value))

    def value_amount(self, value):
        return value

    def value_balance_after(self, value):
        return value

    def value_receipt(self, value):
        # Asked for every row (empty_values=()), with None where the entry has no receipt.
        return value.number if value is not None else ""
