from django import forms

from billing.choices import AdminRole
from billing.money import CENT

from . import kinds
from .services.preferences import THRESHOLD_MAX, THRESHOLD_MIN


class ThresholdForm(forms.Form):
    amount = forms.DecimalField(
        label="Warn when the balance falls below",
        min_value=THRESHOLD_MIN,
        max_value=THRESHOLD_MAX,
        max_digits=12,
        decimal_places=2,
        widget=forms.NumberInput(attrs={"step": str(CENT), "min": str(THRESHOLD_MIN), "max": str(THRESHOLD_MAX)}),
        help_text=f"From {THRESHOLD_MIN:,.2f} to {THRESHOLD_MAX:,.2f}, in your account's currency. One email each time "
        "the balance falls below it; the next one only after the balance has been back at or above it.",
    )


class PreferencesForm(forms.Form):
    """A field per optional event: the roles that receive it."""

    def __init__(self, *args, current, disabled=False, **kwargs):
        super().__init__(*args, **kwargs)
        for event_type in kinds.OPTIONAL:
            self.fields[event_type.code] = forms.MultipleChoiceField(
                label=event_type.label,
                help_text=event_type.description,
                choices=AdminRole.choices,
                required=False,
                initial=sorted(current.get(event_type.code, ())),
                widget=forms.CheckboxSelectMultiple,
                disabled=disabled,
            )
