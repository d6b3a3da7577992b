from django import template

from billing.money import format_money

register = template.Library()


@register.filter
def money(amount, currency="USD"):
    """{{ amount|money:currency }}: the one way amounts are shown."""
    if amount is None or amount == "":
        return "—"
    return format_money(amount, currency)
