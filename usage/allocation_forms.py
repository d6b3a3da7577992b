"""Forms of "Where the credits go" and of the scheduled reports."""

from django import forms
from django.contrib.auth import get_user_model

from .models import ReportSubscription
from .selectors.allocation import GROUPS


class GroupForm(forms.Form):
    group = forms.ChoiceField(label="Group by", choices=list(GROUPS.items()), initial="department", required=False)


class SubscriptionForm(forms.Form):
    report = forms.ChoiceField(label="Report", choices=ReportSubscription.Report.choices, initial=ReportSubscription.Report.ALLOCATION)
    frequency = forms.ChoiceField(label="How often", choices=ReportSubscription.Frequency.choices, widget=forms.RadioSelect)
    recipients = forms.ModelMultipleChoiceField(
        label="Send to",
        queryset=get_user_model().objects.none(),
        widget=forms.CheckboxSelectMultiple,
        help_text="Admins of this organization only. Each gets an email with a link to the report in Downloads.",
        error_messages={
            "required": "Choose at least one admin to send the report to.",
            "invalid_choice": "Only admins of this organization can receive its reports.",
            "invalid_pk_value": "Only admins of this organization can receive its reports.",
        },
    )

    def __init__(self, *args, admins, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["recipients"].queryset = admins
        self.fields["recipients"].label_from_instance = lambda user: f"{user.get_full_name() or user.username} ({user.email})"
