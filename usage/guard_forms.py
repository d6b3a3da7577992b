"""The Spend guard's forms: the organization's caps, an override for a department or a person, a
destination rule, a credit block. They read and show errors; usage.services.guard checks and writes."""

from django import forms

from .choices import NumberType
from .selectors.phone_numbers import country_choices
from .spend_guard import CapAction, GuardScope, RuleAction

MONEY = {"inputmode": "decimal", "autocomplete": "off"}


def cap_field(label, help_text):
    return forms.DecimalField(
        label=label, required=False, min_value=0, max_digits=14, decimal_places=2, help_text=help_text,
        widget=forms.TextInput(attrs=MONEY),
    )


class PolicyForm(forms.Form):
    call_cap = cap_field("Cap per call", "Credits one call may cost. Empty: no cap.")
    person_day_cap = cap_field("Cap per person per day", "Credits one person may spend in a day (UTC). Empty: no cap.")
    organization_day_cap = cap_field("Cap per organization per day", "Credits the whole organization may spend in a day (UTC). Empty: no cap.")
    cap_action = forms.ChoiceField(
        label="At a cap", choices=CapAction.choices, widget=forms.RadioSelect, initial=CapAction.WARN,
        help_text="Warn only: the call is charged and the billing admins are told. Stop: the call is refused and the person's "
        "calls are not charged to credits until the next day (UTC) or until an admin lifts the block.",
    )


class OverrideForm(forms.Form):
    scope = forms.ChoiceField(
        label="For", choices=[(GuardScope.DEPARTMENT, "A department"), (GuardScope.PERSON, "A person")], widget=forms.RadioSelect,
        initial=GuardScope.PERSON,
    )
    department = forms.CharField(label="Department (administrative unit)", required=False, max_length=128)
    person = forms.TypedChoiceField(label="Person", required=False, coerce=int, empty_value=None)
    call_cap = cap_field("Cap per call", "Empty: as the organization (or the department) says.")
    person_day_cap = cap_field("Cap per person per day", "Empty: as the organization (or the department) says.")
    cap_action = forms.ChoiceField(
        label="At a cap", required=False, choices=[("", "As the organization says")] + list(CapAction.choices), widget=forms.RadioSelect,
    )

    def __init__(self, *args, people=(), departments=(), fixed_scope=False, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["person"].choices = [("", "Choose a person")] + list(people)
        self.fields["department"].widget.attrs["list"] = "departments"
        self.departments = departments
        if fixed_scope:
            for name in ("scope", "department", "person"):
                self.fields[name].disabled = True

    def clean(self):
        data = super().clean()
        scope = data.get("scope")
        if scope == GuardScope.PERSON and not data.get("person"):
            self.add_error("person", "Choose the person this override is for.")
        if scope == GuardScope.DEPARTMENT and not (data.get("department") or "").strip():
            self.add_error("department", "Name the department this override is for.")
        return data


class RuleForm(forms.Form):
    action = forms.ChoiceField(label="Calls charged to credits", choices=RuleAction.choices, widget=forms.RadioSelect, initial=RuleAction.BLOCK)
    country = forms.ChoiceField(label="Country or region", required=False)
    number_type = forms.ChoiceField(label="Number type", required=False, choices=[("", "Any number type")] + list(NumberType.choices))
    prefix = forms.CharField(
        label="Number prefix", required=False, max_length=20,
        help_text="E.164 digits, like +881 or +44 9; empty: any number of the country and type.",
        widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "off", "spellcheck": "false"}),
    )
    scope = forms.ChoiceField(
        label="For", choices=GuardScope.choices, widget=forms.RadioSelect, initial=GuardScope.ORGANIZATION,
    )
    department = forms.CharField(label="Department (administrative unit)", required=False, max_length=128)
    person = forms.TypedChoiceField(label="Person", required=False, coerce=int, empty_value=None)
    description = forms.CharField(label="Why", required=False, max_length=200, help_text="Shown with the rule and in refused calls' reasons.")

    def __init__(self, *args, people=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["country"].choices = [("", "Any country or region")] + country_choices()
        self.fields["person"].choices = [("", "Choose a person")] + list(people)
        self.fields["department"].widget.attrs["list"] = "departments"

    def clean(self):
        data = super().clean()
        if not (data.get("country") or data.get("number_type") or (data.get("prefix") or "").strip()) and data.get("action") == RuleAction.ALLOW and data.get("scope") == GuardScope.ORGANIZATION:
            raise forms.ValidationError("Name a country, a number type or a prefix: every destination is allowed when no rule blocks it.")
        if data.get("scope") == GuardScope.PERSON and not data.get("person"):
            self.add_error("person", "Choose the person this rule is for.")
        if data.get("scope") == GuardScope.DEPARTMENT and not (data.get("department") or "").strip():
            self.add_error("department", "Name the department this rule is for.")
        return data


class BlockForm(forms.Form):
    person = forms.TypedChoiceField(label="Person", coerce=int, empty_value=None)
    reason = forms.CharField(label="Reason", max_length=300, help_text="Kept with the block and in the audit log.")
    until = forms.DateTimeField(
        label="Until (UTC)", required=False, help_text="Empty: until an admin lifts it. Format: 2026-12-31 18:00.",
        widget=forms.DateTimeInput(attrs={"autocomplete": "off"}),
    )

    def __init__(self, *args, people=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["person"].choices = [("", "Choose a person")] + list(people)
