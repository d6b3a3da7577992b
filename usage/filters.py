"""Filters of the report: by username and call type (as the original), domestic/international and
charged to credits. The per-day totals carry every one of these but the username."""

import django_filters
from django import forms

from .choices import CALL_TYPE_HELP, DestinationContext, Rating
from .models import CallRecord, SmsRecord

CHARGED_CHOICES = [("yes", "Charged to credits"), ("no", "Not charged to credits")]


def filter_user(queryset, name, value):
    value = value.strip().lower()
    if not value:
        return queryset
    # A whole UPN is matched exactly (the user index serves it); a start of one matches by prefix.
    if "@" in value:
        return queryset.filter(upn=value)
    return queryset.filter(upn__startswith=value)


def filter_charged(queryset, name, value):
    if value == "yes":
        return queryset.filter(rating=Rating.CHARGED)
    if value == "no":
        return queryset.exclude(rating=Rating.CHARGED)
    return queryset


class CallRecordFilter(django_filters.FilterSet):
    user = django_filters.CharFilter(
        label="Username",
        method=filter_user,
        widget=forms.TextInput(attrs={"placeholder": "name@contoso.com", "autocomplete": "off"}),
    )
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


class SmsRecordFilter(django_filters.FilterSet):
    user = django_filters.CharFilter(
        label="Username",
        method=filter_user,
        widget=forms.TextInput(attrs={"placeholder": "name@contoso.com", "autocomplete": "off"}),
    )
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
