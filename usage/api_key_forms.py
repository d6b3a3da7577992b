"""Forms of API keys: the page's and Django admin's, with the service's rules for a key's name."""

from django import forms

from .models import ApiToken
from .services.api_keys import NAME_MAX_LENGTH, clean_key_name


def key_name_field():
    """The name of an API key, with the same words on the page and in Django admin."""
    return forms.CharField(
        label="Key name",
        max_length=NAME_MAX_LENGTH,
        help_text=f"What will use the key, e.g. \"Graph forwarder\". Up to {NAME_MAX_LENGTH} characters.",
        error_messages={
            "required": "Give the key a name, e.g. what will use it.",
            "max_length": f"Use {NAME_MAX_LENGTH} characters or fewer (this name has %(show_value)d).",
        },
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )


class ApiKeyForm(forms.Form):
    """The name of a new key for the usage JSON endpoints; the rules are the service's."""

    name = key_name_field()

    def clean_name(self):
        return clean_key_name(self.cleaned_data["name"])


class ApiTokenAdminForm(forms.ModelForm):
    """Support staff's form for a key in Django admin: the name follows the page's rules."""

    name = key_name_field()

    class Meta:
        model = ApiToken
        fields = ["organization", "name"]

    def clean_name(self):
        return clean_key_name(self.cleaned_data["name"])
