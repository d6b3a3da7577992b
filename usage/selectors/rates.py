"""Reads of the rate table: the lines a rate card export writes."""

from datetime import date

from django.db.models import Q

from ..models import Rate


def card_rates(currency: str, on: date | None = None):
    """The lines of a currency as a card: those in effect on `on`, or (without it) the latest line of
    every prefix and country that has not ended, scheduled ones included."""
    lines = Rate.objects.filter(currency=currency)
    if on is None:
        lines = lines.filter(effective_to__isnull=True)
    else:
        lines = lines.filter(Q(effective_to__isnull=True) | Q(effective_to__gt=on), effective_from__lte=on)
    return lines.order_by("kind", "prefix", "country", "effective_from")


def rate_currencies() -> list[str]:
    return sorted(set(Rate.objects.values_list("currency", flat=True)))
