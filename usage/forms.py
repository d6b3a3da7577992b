"""Forms of the report and the import page (the API keys' are in api_key_forms.py)."""

from datetime import timedelta

from django import forms
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from .choices import RecordKind

RANGE_CHOICES = [("7", "Last 7 days"), ("28", "Last 28 days"), ("90", "Last 90 days"), ("custom", "Custom range")]
HISTORY_DAYS = 365


class ReportRangeForm(forms.Form):
    """Date range of the report: 7, 28 or 90 days up to today (UTC), or custom, up to a year back."""

    range = forms.ChoiceField(label="Date range", choices=RANGE_CHOICES, initial="28", required=False)
    start = forms.DateField(label="From", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label="To", required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, today, **kwargs):
        super().__init__(*args, **kwargs)
        self.today = today
        earliest = today - timedelta(days=HISTORY_DAYS)
        for name in ("start", "end"):
            self.fields[name].widget.attrs.update({"min": earliest.isoformat(), "max": today.isoformat()})
        self.fields["start"].help_text = f"History goes back one year, to {earliest:%Y-%m-%d}. Days are UTC."

    def clean(self):
        data = super().clean()
        choice = data.get("range") or "28"
        data["range"] = choice
        if choice != "custom":
            days = int(choice)
            data["start"], data["end"] = self.today - timedelta(days=days - 1), self.today
            return data
        start, end = data.get("start"), data.get("end")
        if start is None or end is None:
            raise forms.ValidationError("Choose the first and the last day of a custom range.")
        earliest = self.today - timedelta(days=HISTORY_DAYS)
        if start > end:
            self.add_error("end", "The last day comes before the first day.")
        if start < earliest:
            self.add_error("start", f"History goes back one year: choose {earliest:%Y-%m-%d} or later.")
        if end > self.today:
            self.add_error("end", f"Choose today ({self.today:%Y-%m-%d}) or earlier.")
        return data

    def period(self):
        """(start, end) of a valid form, or the default 28 days."""
        if self.is_bound and self.is_valid():
            return self.cleaned_data["start"], self.cleaned_data["end"]
        return self.today - timedelta(days=27), self.today


class EditColumnsForm(forms.Form):
    def __init__(self, *args, columns, hidden, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["shown"] = forms.MultipleChoiceField(
            label="Columns to show",
            choices=columns,
            required=False,
            widget=forms.CheckboxSelectMultiple,
            initial=[name for name, _ in columns if name not in hidden],
        )
        self.columns, self.hidden = columns, hidden

    def checkboxes(self):
        """One checkbox per column, as the field's widget renders it, joined here: the widget's templates
        (an input and its attributes per column) were a fifth of the report page's time."""
        name = self.add_prefix("shown")
        return mark_safe("".join(  # noqa: S308 - built by format_html
            format_html(
                '<label class="checkbox-line"><input type="checkbox" name="{}" value="{}" id="{}"{}> {}</label>',
                name, value, f"{self.auto_id % name}_{index}", mark_safe(" checked") if value not in self.hidden else "", label,
            )
            for index, (value, label) in enumerate(self.columns)
        ))


class ImportForm(forms.Form):
    kind = forms.ChoiceField(label="Records", choices=RecordKind.choices, initial=RecordKind.PSTN, widget=forms.RadioSelect)
    file = forms.FileField(
        label="File",
        help_text=(
            "The original export (Calls.Export.<id>.zip or a PSTN.calls.<date>.csv, older or current columns), "
            "or Microsoft Graph getPstnCalls / getSmsLog pages (.json, or .jsonl with one page per line). "
            "Times are UTC ISO 8601. Larger files: use the import_usage command."
        ),
    )

    MAX_BYTES = 50 * 1024 * 1024

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > self.MAX_BYTES:
            raise forms.ValidationError(
                f"The file is {upload.size / 1024 / 1024:.0f} MB; this page takes up to 50 MB. "
                "Ask support to run the import_usage command for larger files."
            )
        return upload
