import django_tables2 as tables

from .models import LedgerEntry


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

    def order_created_at(self, queryset, is_descending):
        prefix = "-" if is_descending else ""
        return queryset.order_by(f"{prefix}created_at", f"{prefix}pk"), True
