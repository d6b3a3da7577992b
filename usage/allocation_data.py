"""Cost allocation: the charged spend the import keeps per day, person, destination country and call
type (SpendTotal), and the scheduled delivery of reports (ReportSubscription, ReportRun).

Imported by usage/models.py (the app's models module), as rating_data.py is.
"""

from django.conf import settings
from django.db import models

from billing.models import Organization, money_field

from .choices import RecordKind


class SpendTotal(models.Model):
    """Charged spend, kept by the import in the same transaction as the records (and their ledger entry).

    One row per (day, person, destination country, call type), and the same rolled up per calendar
    month (`period` "m", `day` the month's first day), and per person and month alone (`period` "p",
    country and call type empty): the report "Where the credits go" reads the whole months of its
    range from month rows and at most half a month of day rows at each edge, never the records. `person` is the person's id, 0 for a
    record without a person (no UPN); department and cost center are read from the person, so the
    report allocates by who the person is now (see docs/usage.md, "Cost allocation").
    """

    DAY, MONTH, PERSON_MONTH = "d", "m", "p"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+", db_index=False)
    period = models.CharField(
        max_length=1, choices=[(DAY, "Day"), (MONTH, "Month"), (PERSON_MONTH, "Month, per person only")], default=DAY
    )
    day = models.DateField(help_text="UTC day of the call (or message); the first day of the month for a month row.")
    kind = models.CharField(max_length=8, choices=RecordKind.choices)
    # The person's id in column `person_key`, 0 for a record without a person: never null, so that the
    # upsert's unique key matches; no constraint (nothing to check per row) and a LEFT JOIN when read.
    person = models.ForeignKey(
        "usage.Person", null=True, on_delete=models.DO_NOTHING, db_constraint=False, db_index=False, db_column="person_key",
        related_name="+",
    )
    country = models.CharField(max_length=2, blank=True, help_text="Destination country (ISO 3166); empty when unknown.")
    call_type = models.CharField(max_length=32)
    records = models.PositiveBigIntegerField(default=0)
    seconds = models.PositiveBigIntegerField(default=0, help_text="Call seconds, or SMS segments.")
    charge = money_field(default=0)

    class Meta:
        ordering = ["day"]
        constraints = [
            # Its index (organization, period, day, ...) serves the report's ranges as well as the import's upsert.
            models.UniqueConstraint(
                fields=["organization", "period", "day", "kind", "person", "country", "call_type"], name="usage_spend_unique_dims"
            )
        ]

    def __str__(self):
        return f"{self.day} {self.call_type} {self.country or '??'}: {self.charge}"


class ReportSubscription(models.Model):
    """A weekly or monthly report sent to admins of the organization (as a link to Downloads)."""

    class Report(models.TextChoices):
        PSTN_EXPORT = "pstn_export", "PSTN usage export (.xlsx)"
        ALLOCATION = "allocation", "Where the credits go (.xlsx)"

    class Frequency(models.TextChoices):
        WEEKLY = "weekly", "Weekly (Monday to Sunday, sent on Monday)"
        MONTHLY = "monthly", "Monthly (the calendar month, sent on the 1st)"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="usage_report_subscriptions")
    report = models.CharField(max_length=16, choices=Report.choices)
    frequency = models.CharField(max_length=8, choices=Frequency.choices)
    recipients = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="+")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["report", "frequency", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "report", "frequency"], name="usage_subscription_unique_report")
        ]

    def __str__(self):
        return f"{self.get_report_display()}, {self.get_frequency_display()}"


class ReportRun(models.Model):
    """One delivery of a subscription for one period: the unique row claims it, so a beat that runs
    twice (or two workers) sends it once."""

    subscription = models.ForeignKey(ReportSubscription, on_delete=models.CASCADE, related_name="runs")
    period_start = models.DateField()
    period_end = models.DateField(help_text="Last day of the period (inclusive).")
    claimed_at = models.DateTimeField(auto_now_add=True)
    export = models.ForeignKey("usage.Export", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    sent_at = models.DateTimeField(null=True, blank=True)
    recipients = models.PositiveIntegerField(default=0)
    error = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-period_start", "-pk"]
        constraints = [models.UniqueConstraint(fields=["subscription", "period_start"], name="usage_report_run_once")]

    def __str__(self):
        return f"{self.subscription} {self.period_start} to {self.period_end}"
