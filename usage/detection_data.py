"""What spike detection keeps (usage.services.detection): the organization's outbound calls per hour and
destination country, maintained by every import (the trailing baseline is read from it), and the
incidents that detection opens for admins to act on.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q

from billing.models import Organization, money_field


class HourlyCalls(models.Model):
    """Outbound calls of an organization in one UTC hour to one destination country ('' when unknown).

    A few rows an hour: the baseline of an hour (the same hour over the last 28 days), the countries an
    organization has ever called and the hours it calls at are read from here, never from the records.
    """

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    hour = models.DateTimeField(help_text="Start of the UTC hour.")
    country = models.CharField(max_length=2, blank=True)
    calls = models.PositiveIntegerField(default=0)
    seconds = models.PositiveBigIntegerField(default=0)
    charge = money_field(default=0)

    class Meta:
        ordering = ["hour", "country"]
        verbose_name_plural = "hourly calls"
        constraints = [models.UniqueConstraint(fields=["organization", "hour", "country"], name="usage_hourly_unique_hour_country")]
        indexes = [models.Index(fields=["organization", "country", "hour"], name="usage_hourly_org_country_idx")]

    def __str__(self):
        return f"{self.hour:%Y-%m-%d %H}:00 {self.country or '??'}: {self.calls} calls"


class IncidentKind(models.TextChoices):
    PERSON_BURST = "person_burst", "Burst of calls by one person"
    COUNTRY_BURST = "country_burst", "Burst of calls to one country"
    NEW_COUNTRY = "new_country", "Calls to a country never called before"
    ODD_HOUR = "odd_hour", "Calls at an hour the organization never calls"


class IncidentStatus(models.TextChoices):
    OPEN = "open", "Open"
    ACTIONED = "actioned", "Actioned"
    DISMISSED = "dismissed", "Dismissed as expected"


class Incident(models.Model):
    """Unusual calling found by an import: who or where, when, the figures against the baseline.

    One incident per person (or per country, or per odd hour when no person stands out) while it is
    open: a later import that sees more of the same burst adds to it and announces nothing new.
    """

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="usage_incidents")
    kind = models.CharField(max_length=16, choices=IncidentKind.choices)
    person = models.ForeignKey("usage.Person", null=True, blank=True, on_delete=models.SET_NULL, related_name="incidents")
    upn = models.CharField(max_length=254, blank=True, help_text="The person's UPN when detected (kept if the person is removed).")
    country = models.CharField(max_length=2, blank=True, help_text="The destination country most of its calls went to.")
    window_start = models.DateTimeField(help_text="Start of the first UTC hour of the calls.")
    window_end = models.DateTimeField(help_text="End of the last UTC hour of the calls.")
    calls = models.PositiveIntegerField(default=0)
    spend = money_field(default=0)
    baseline_calls = models.DecimalField(max_digits=12, decimal_places=2, default=0, help_text="Calls per hour usually (same hours).")
    baseline_spend = models.DecimalField(max_digits=16, decimal_places=4, default=0)
    signals = models.JSONField(default=list, help_text="What each detector found, one sentence each.")
    status = models.CharField(max_length=10, choices=IncidentStatus.choices, default=IncidentStatus.OPEN)
    detected_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    imports = models.PositiveIntegerField(default=1, help_text="Imports that added to it.")
    last_batch_id = models.BigIntegerField(null=True, blank=True)
    resolved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolution = models.CharField(max_length=300, blank=True, help_text="What was done, in a sentence.")

    class Meta:
        ordering = ["-detected_at", "-pk"]
        indexes = [models.Index(fields=["organization", "status", "-detected_at"], name="usage_incident_org_status_idx")]
        constraints = [
            models.CheckConstraint(
                condition=Q(status="open") | Q(resolved_at__isnull=False), name="usage_incident_resolved_has_time"
            ),
            models.CheckConstraint(condition=Q(window_end__gt=models.F("window_start")), name="usage_incident_window_forward"),
        ]

    def __str__(self):
        return f"{self.get_kind_display()}: {self.subject} ({self.get_status_display()})"

    @property
    def subject(self):
        if self.upn:
            return self.upn
        if self.country:
            return self.country
        return f"{self.window_start:%H}:00 UTC"

    @property
    def is_open(self):
        return self.status == IncidentStatus.OPEN
