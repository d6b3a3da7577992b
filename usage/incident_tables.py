"""The tables of the incident pages: the incidents, and the calls one incident is about."""

import django_tables2 as tables
from django.urls import reverse
from django.utils.html import format_html

from .models import CallRecord, Incident
from .tables import duration_text, rating_text

NUM = {"td": {"class": "num"}, "th": {"class": "num"}}


class IncidentTable(tables.Table):
    detected_at = tables.DateTimeColumn(verbose_name="Detected (UTC)", format="Y-m-d H:i", orderable=False)
    kind = tables.Column(verbose_name="What", orderable=False)
    subject = tables.Column(verbose_name="Who or where", accessor="pk", orderable=False)
    window = tables.Column(verbose_name="When (UTC)", accessor="window_start", orderable=False)
    calls = tables.Column(verbose_name="Calls", attrs=NUM, orderable=False)
    spend = tables.Column(verbose_name="Spend", attrs=NUM, orderable=False)
    status = tables.Column(verbose_name="Status", orderable=False)

    class Meta:
        model = Incident
        fields = ("detected_at", "kind", "subject", "window", "calls", "spend", "status")
        attrs = {"class": "data-table"}
        empty_text = "No unusual calling found. Detection runs at the end of every call import."

    def render_subject(self, record):
        return format_html('<a href="{}">{}</a>', reverse("incidents:detail", args=[record.pk]), record.subject)

    def render_window(self, record):
        return f"{record.window_start:%Y-%m-%d %H:%M} – {record.window_end:%Y-%m-%d %H:%M}"

    def render_calls(self, value):
        return f"{value:,}"

    def render_spend(self, value):
        return f"{value:,.2f}"


class IncidentCallTable(tables.Table):
    start_time = tables.DateTimeColumn(verbose_name="Start (UTC)", format="Y-m-d H:i:s", orderable=False)
    upn = tables.Column(verbose_name="User", orderable=False)
    callee_number = tables.Column(verbose_name="Destination number", orderable=False)
    external_country = tables.Column(verbose_name="Country", orderable=False)
    number_type = tables.Column(verbose_name="Number type", orderable=False)
    duration_seconds = tables.Column(verbose_name="Duration", attrs=NUM, orderable=False)
    rating = tables.Column(verbose_name="Rating", orderable=False)
    charge = tables.Column(verbose_name="Charge", attrs=NUM, orderable=False)

    class Meta:
        model = CallRecord
        fields = ("start_time", "upn", "callee_number", "external_country", "number_type", "duration_seconds", "rating", "charge")
        attrs = {"class": "data-table compact"}
        empty_text = "No call of this incident is in the records any more."

    def render_duration_seconds(self, value):
        return duration_text(value)

    def render_rating(self, value):
        return rating_text(value)

    def render_charge(self, record, value):
        return format_html('<a href="{}">{}</a>', reverse("usage:record", kwargs={"kind": "pstn", "pk": record.pk}), f"{value:,.2f}")
