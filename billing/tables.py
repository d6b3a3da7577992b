import django_tables2 as tables

from .models import LedgerEntry
from .money import format_money


class LedgerEntryTable(tables.Table):
    created_at = tables.DateTimeColumn(verbose_name="Date (UTC)", format="Y-m-d H:i")
    kind = tables.Column(verbose_name="Type")
    memo = tables.Column(verbose_name="Description", orderable=False)
    amount = tables.Column(verbose_name="Amount", attrs={"td": {"class": "num"}, "th": {"class": "num"}})
    balance_after = tables.Column(verbose_name="Balance", attrs={"td": {"class": "num"}, "th": {"class": "num"}})
    receipt = tables.TemplateColumn(
        verbose_name="Receipt",
        orderable=False,
        accessor="receipt",
        template_code=(
            "{% if record.receipt %}<a href=\"{% url 'billing:receipt' record.receipt.number %}\">"
            "{{ record.receipt.number }}</a>{% endif %}"
        ),
        default="",
    )

    class Meta:
        model = LedgerEntry
        fields = ("created_at", "kind", "memo", "amount", "balance_after", "receipt")
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

    def render_amount(self, value, record):
        return format_money(value, record.account.currency)

    def render_balance_after(self, value, record):
        return format_money(value, record.account.currency)
