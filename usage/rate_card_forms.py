"""The forms of the rate card pages in Django admin: upload a card, choose what to export."""

from django import forms

from .services.rate_cards import COLUMNS, CardRejected, check_size


class RateCardUploadForm(forms.Form):
    file = forms.FileField(
        label="Rate card (CSV)",
        help_text="UTF-8 CSV with a header row: " + ", ".join(COLUMNS) + ". You will see what it changes before it is applied.",
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        try:
            check_size(upload.size)  # before a byte of it is read
        except CardRejected as exc:
            raise forms.ValidationError(exc.errors[0]) from None
        return upload


class RateCardExportForm(forms.Form):
    currency = forms.ChoiceField(choices=())
    on = forms.DateField(
        label="Lines in effect on", required=False, help_text="YYYY-MM-DD. Empty: the latest line of each prefix and country."
    )

    def __init__(self, *args, currencies=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["currency"].choices = [(c, c) for c in currencies or ["USD"]]
