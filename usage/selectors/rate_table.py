"""The rate table as admins browse it: the lines in the organization's currency that apply today."""

from django.db.models import Q
from django.utils import timezone

from ..models import Rate


def rates_in_force(organization, day=None):
    """The rate lines in the organization's currency effective on `day` (today, UTC): effective from
    that day or before, and not ended by it (`effective_to` is the first day a line no longer applies)."""
    day = day or timezone.now().date()
    return Rate.objects.filter(currency=organization.currency, effective_from__lte=day).filter(
        Q(effective_to__isnull=True) | Q(effective_to__gt=day)
    )
