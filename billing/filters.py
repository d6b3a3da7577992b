import django_filters
from django import forms

from .choices import EntryKind
from .models import LedgerEntry


class LedgerEntryFilter(django_filters.FilterSet):
    kind = django_filters.ChoiceFilter(label="Type", choices=EntryKind.choices, empty_label="All types")
    start = django_filters.DateFilter(
        label="From", field_name="created_at", lookup_expr="date__gte", widget=forms.DateInput(attrs={"type": "date"})
    )
    end = django_filters.DateFilter(
        label="To", field_name="created_at", lookup_expr="date__lte", widget=forms.DateInput(attrs={"type": "date"})
    )

    class Meta:
        model = LedgerEntry
        fields = ["kind", "start", "end"]
