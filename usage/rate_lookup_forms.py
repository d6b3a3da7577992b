"""The rate lookup's form (a number, or a country and a number type; optionally a person) and the
rate table's filters. Reading a number is usage.selectors.phone_numbers'; the form only says where
its problem belongs."""

import django_filters
from django import forms

from .choices import NumberType, RateKind
from .models import Rate
from .selectors.phone_numbers import NUMBER_TYPE_CHOICES, NumberProblem, country_choices, example_destination, parse_number


class RateLookupForm(forms.Form):
    number = forms.CharField(
        label="Phone number", required=False, max_length=64,
        help_text="Any common format: +44 20 7946 0958, 0044 20 7946 0958, or (425) 555-0100 for a number in your organization's country.",
        widget=forms.TextInput(attrs={"autocomplete": "off", "inputmode": "tel", "spellcheck": "false"}),
    )
    country = forms.ChoiceField(label="Country or region", required=False)
    number_type = forms.ChoiceField(label="Number type", required=False, choices=[("", "Any number type")] + NUMBER_TYPE_CHOICES)
    user = forms.ChoiceField(
        label="Person", required=False,
        help_text="Pick someone to see what their calling plan and licenses decide for this call.",
    )

    def __init__(self, *args, organization, people=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.organization = organization
        self.fields["country"].choices = [("", "Pick a country or region")] + country_choices()
        self.fields["user"].choices = [("", "Nobody in particular")] + list(people)

    def clean(self):
        data = super().clean()
        number, country, number_type = data.get("number", ""), data.get("country", ""), data.get("number_type", "")
        try:
            if number:
                data["destination"] = parse_number(number, self.organization.country)
            elif country or number_type:
                if not country:
                    raise NumberProblem("country", "Pick a country or region for this number type.")
                data["destination"] = example_destination(country, number_type or "fixed_line")
            else:
                raise NumberProblem("number", "Type a phone number, or pick a country and a number type.")
        except NumberProblem as problem:
            self.add_error(problem.field, problem.message)
        return data


class RateFilter(django_filters.FilterSet):
    country = django_filters.ChoiceFilter(label="Country or region", empty_label="All countries and regions")
    number_type = django_filters.ChoiceFilter(label="Number type", choices=NumberType.choices, empty_label="All number types")
    kind = django_filters.ChoiceFilter(label="Rate for", choices=RateKind.choices, empty_label="All kinds")

    class Meta:
        model = Rate
        fields = ["country", "number_type", "kind"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.filters["country"].extra["choices"] = country_choices()
