"""Filters of the report: by username and call type (as the original), domestic/international and
charged to credits. The per-day totals carry every one of these but the username."""

import django_filters
from django import forms

from .choices import CALL_TYPE_HELP, DestinationContext, Rating
from .models import CallRecord, Person, SmsRecord

MANY_PEOPLE = 100
CHARGED_CHOICES = [("yes", "Charged to credits"), ("no", "Not charged to credits")]


def filter_charged(queryset, name, value):
    if value == "yes":
        return queryset.filter(rating=Rating.CHARGED)
    if value == "no":
        return queryset.exclude(rating=Rating.CHARGED)
    return queryset


class UsageFilterSet(django_filters.FilterSet):
    """A report's filters, for one organization (whose people the username filter looks up)."""

    user = django_filters.CharFilter(
        label="Username",
        method="filter_user",
        widget=forms.TextInput(attrs={"placeholder": "name@contoso.com", "autocomplete": "off"}),
    )

    def __init__(self, data=None, queryset=None, *, organization, **kwargs):
        super().__init__(data, queryset, **kwargs)
        self.organization = organization

    def filter_user(self, queryset, name, value):
        value = value.strip().lower()
        if not value:
            return queryset
        # Through the person (the import gives every record with a UPN one): their ids
        # are read first, so that the planner sees how few they are and walks the records'
        # (organization, person, time) index newest first. A whole UPN is matched exactly, a start of
        # one by prefix; a prefix matching many people is better served by the time index.
        exact = "@" in value
        people = Person.objects.filter(organization=self.organization)
        people = people.filter(upn=value) if exact else people.filter(upn__startswith=value)
        ids = list(people.values_list("pk", flat=True)[: MANY_PEOPLE + 1])
        if not ids:
            # No such person now (deleted, or renamed in the directory): the records' own UPN, which
            # no index serves, but the rows the table shows under that name are found.
            return queryset.filter(upn=value) if exact else queryset.filter(upn__startswith=value)
        if len(ids) <= MANY_PEOPLE:
            return queryset.filter(person_id__in=ids)
        return queryset.filter(person_id__in=people.values("pk"))


class CallRecordFilter(UsageFilterSet):
    call_type = django_filters.ChoiceFilter(
        label="Call type", choices=[(code, f"{code}: {text}") for code, text in CALL_TYPE_HELP.items()], empty_label="All call types"
    )
    destination = django_filters.ChoiceFilter(
        label="Domestic/International", field_name="destination_context", choices=DestinationContext.choices, empty_label="All destinations"
    )
    charged = django_filters.ChoiceFilter(
        label="Charged to credits", choices=CHARGED_CHOICES, empty_label="All calls", method=filter_charged
    )

    class Meta:
        model = CallRecord
        fields = ["user", "call_type", "destination", "charged"]


class SmsRecordFilter(UsageFilterSet):
    direction = django_filters.ChoiceFilter(
        label="Direction", field_name="sms_type", choices=[("outbound", "Outbound"), ("inbound", "Inbound")], empty_label="Both directions"
    )
    destination = django_filters.ChoiceFilter(
        label="Domestic/International", field_name="destination_context", choices=DestinationContext.choices, empty_label="All destinations"
    )
    charged = django_filters.ChoiceFilter(
        label="Charged to credits", choices=CHARGED_CHOICES, empty_label="All messages", method=filter_charged
    )

    class Meta:
        model = SmsRecord
        fields = ["user", "direction", "destination", "charged"]
