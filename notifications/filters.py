import django_filters
from django import forms

from . import kinds


class EventFilter(django_filters.FilterSet):
    STATE_CHOICES = [("waiting", "Waiting to be sent"), ("failed", "Has failed deliveries"), ("sent", "All sent")]

    kind = django_filters.ChoiceFilter(
        label="Notification",
        choices=[(code, kinds.REGISTRY[code].label) for code in kinds.TENANT_VISIBLE],
        empty_label="All notifications",
    )
    state = django_filters.ChoiceFilter(label="Delivery", choices=STATE_CHOICES, empty_label="Any state", method="filter_state")
    start = django_filters.DateFilter(
        label="From", field_name="occurred_at", lookup_expr="date__gte", widget=forms.DateInput(attrs={"type": "date"})
    )
    end = django_filters.DateFilter(
        label="To", field_name="occurred_at", lookup_expr="date__lte", widget=forms.DateInput(attrs={"type": "date"})
    )

    def filter_state(self, queryset, name, value):
        if value == "waiting":
            return queryset.filter(waiting_count__gt=0)
        if value == "failed":
            return queryset.filter(failed_count__gt=0)
        if value == "sent":
            return queryset.filter(waiting_count=0, failed_count=0, sent_count__gt=0)
        return queryset
