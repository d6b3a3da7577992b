"""Call and SMS records, the people who make them, the rate table, pools and exports.

A record belongs to one organization and is identified there by its UsageId (a GUID). Call ID is
not a key: a transfer or a conference gives several rows with one Call ID.

The record tables are written by one path (usage.services.ingest) and read by the report; their
indexes are the report's: (organization, start, id) for the default order and keyset paging, and
one per filter that must stay fast on a large table. Foreign keys that nothing looks up by carry no
index, because every index slows ingestion down.
"""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q

from billing.models import LedgerEntry, Organization, money_field

from .choices import (
    KNOWN_LICENSES,
    PLAN_PRIORITY,
    DestinationContext,
    Direction,
    ExportFormat,
    ExportStatus,
    NumberType,
    RateKind,
    Rating,
    RecordKind,
)


class Person(models.Model):
    """A user (or resource account) of the organization, as the usage report needs them."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="usage_people")
    upn = models.CharField("username (UPN)", max_length=254, help_text="Stored in lower case; UPNs are case-insensitive.")
    object_id = models.CharField("Microsoft Entra ObjectId", max_length=64, blank=True)
    display_name = models.CharField(max_length=256, blank=True)
    usage_location = models.CharField(
        "usage location", max_length=2, blank=True, help_text="ISO 3166 country code; decides the calling plan pool."
    )
    phone_number = models.CharField(max_length=64, blank=True)
    department = models.CharField(
        max_length=128, blank=True, help_text="Administrative unit: set by imports (Administrative Units) unless support set it."
    )
    department_locked = models.BooleanField(
        "department set by support", default=False, help_text="Imports leave a department set by support alone."
    )
    department_seen_at = models.DateTimeField(null=True, blank=True, help_text="Time of the call the imported department came from.")
    cost_center = models.CharField(max_length=64, blank=True)
    licenses = models.CharField(
        max_length=300,
        blank=True,
        help_text="Capability codes of the licenses assigned, separated by spaces, e.g. "
        "\"MCOPSTN1 MCOMEETADD MCOPSTNPP\". MCOPSTNPP (Communications Credits) lets the user spend credits.",
    )
    is_resource_account = models.BooleanField(default=False, help_text="An auto attendant or call queue.")
    created_by_import = models.BooleanField(
        default=False, help_text="Made from usage rows for a user not in the directory; licenses are those seen on the rows."
    )

    class Meta:
        ordering = ["display_name", "upn"]
        verbose_name_plural = "people"
        constraints = [models.UniqueConstraint(fields=["organization", "upn"], name="usage_person_unique_upn")]
        # The report's username filter finds people by UPN, exactly or by prefix, before their records.
        indexes = [models.Index(fields=["organization", "upn"], name="usage_person_upn_prefix_idx", opclasses=["int8_ops", "varchar_pattern_ops"])]

    def __str__(self):
        return f"{self.display_name or self.upn} ({self.upn})"

    def save(self, *args, **kwargs):
        self.upn = self.upn.strip().lower()
        self.licenses = " ".join(sorted(set(self.licenses.upper().split())))
        super().save(*args, **kwargs)

    @property
    def license_set(self) -> frozenset:
        return frozenset(self.licenses.split())

    @property
    def calling_plan(self) -> str | None:
        held = self.license_set
        return next((code for code in PLAN_PRIORITY if code in held), None)

    @property
    def unknown_licenses(self):
        return sorted(self.license_set - KNOWN_LICENSES)


class RatingState(models.Model):
    """One row per organization: imports lock it, so pools are drawn by one import at a time."""

    organization = models.OneToOneField(Organization, on_delete=models.CASCADE, primary_key=True, related_name="+")
    last_import_at = models.DateTimeField(null=True, blank=True)
    # Set by the retention purge before it deletes: an import leaves out records older than this, since
    # their UsageIds are no longer there to be found as duplicates and they would be charged again.
    purged_before = models.DateTimeField(null=True, blank=True)
    # Raised by every import and purge, in its transaction: kept report totals and built exports name it.
    usage_version = models.PositiveBigIntegerField(default=0)


class ImportBatch(models.Model):
    """One import (a file, a Graph page, a demo day): taken whole or not at all."""

    class Source(models.TextChoices):
        UPLOAD = "upload", "Upload page"
        COMMAND = "command", "Management command"
        API = "api", "JSON endpoint"
        DEMO = "demo", "Demo data"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="usage_imports")
    kind = models.CharField(max_length=8, choices=RecordKind.choices)
    source = models.CharField(max_length=16, choices=Source.choices)
    filename = models.CharField(max_length=255, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    rows_read = models.PositiveIntegerField(default=0)
    rows_created = models.PositiveIntegerField(default=0)
    rows_skipped = models.PositiveIntegerField(default=0, help_text="Already imported (same UsageId), or older than the history kept (retention).")
    rows_charged = models.PositiveIntegerField(default=0)
    rows_refused = models.PositiveIntegerField(default=0)
    charged_total = money_field(default=0)
    ledger_entry = models.OneToOneField(
        LedgerEntry, null=True, blank=True, on_delete=models.PROTECT, related_name="usage_import"
    )

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name_plural = "import batches"
        indexes = [models.Index(fields=["organization", "-created_at"], name="usage_batch_org_recent_idx")]

    def __str__(self):
        return f"{self.get_kind_display()} import {self.pk} ({self.rows_created} new rows)"


class RatedRecord(models.Model):
    """What PSTN and SMS records share: who, the rating and why, and where the row came from.

    The foreign keys of records carry no database constraint and no index of their own: a
    constraint costs a trigger per row (about a third of the time of a million-row import), the
    composite indexes below already start with the organization, and the only writer is the import
    service, which takes these ids from rows it has just read or created.
    """

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False
    )
    usage_id = models.UUIDField("UsageId")
    user_object_id = models.CharField("Microsoft Entra ObjectId", max_length=64, blank=True)
    upn = models.CharField("UPN", max_length=254, blank=True)
    display_name = models.CharField("User Display Name", max_length=256, blank=True)
    user_location = models.CharField("User Location", max_length=2, blank=True)
    person = models.ForeignKey(
        Person, null=True, blank=True, on_delete=models.SET_NULL, db_index=False, db_constraint=False, related_name="+"
    )
    charge = money_field(verbose_name="Charge", default=0)
    currency = models.CharField("Currency", max_length=3, blank=True)
    capability = models.CharField("Capability", max_length=16, blank=True)
    destination_context = models.CharField(
        "Domestic/International", max_length=16, blank=True, choices=DestinationContext.choices
    )
    rating = models.CharField(max_length=24, choices=Rating.choices)
    rating_reason = models.CharField(max_length=300, blank=True)
    charged_units = models.PositiveIntegerField(default=0, help_text="Minutes (or segments) charged to credits.")
    reported_charge = money_field(verbose_name="charge as reported by the source", null=True, blank=True)
    reported_capability = models.CharField("capability as reported by the source", max_length=16, blank=True)
    batch = models.ForeignKey(
        ImportBatch, on_delete=models.PROTECT, db_index=False, db_constraint=False, related_name="+"
    )

    class Meta:
        abstract = True


class CallRecord(RatedRecord):
    """A PSTN call, with every column of the report and of the export."""

    call_id = models.CharField("Call ID", max_length=128, blank=True)
    conference_id = models.CharField("Conference ID", max_length=128, blank=True)
    caller_number = models.CharField("Caller ID", max_length=128, blank=True, help_text="May be obscured or a name.")
    callee_number = models.CharField("Destination Number", max_length=128, blank=True, help_text="May be obscured or a name.")
    call_type = models.CharField("Call Type", max_length=32)
    direction = models.CharField("Call Direction", max_length=8, choices=Direction.choices)
    number_type = models.CharField("Number Type", max_length=32, blank=True)
    destination_dialed = models.CharField("Destination Dialed", max_length=128, blank=True)
    external_country = models.CharField("External Country", max_length=2, blank=True)
    tenant_country = models.CharField(max_length=2, blank=True)
    start_time = models.DateTimeField("Start Time")
    end_time = models.DateTimeField("End Time", null=True, blank=True)
    duration_seconds = models.PositiveIntegerField("Duration Seconds", default=0)
    connection_fee = money_field(verbose_name="Connection Fee", default=0)
    operator = models.CharField("Operator", max_length=128, blank=True)
    duration_source = models.CharField("Source of Call Duration", max_length=32, blank=True)
    administrative_units = models.CharField("Administrative Units", max_length=500, blank=True)
    reported_connection_fee = money_field(verbose_name="connection fee as reported by the source", null=True, blank=True)

    class Meta:
        ordering = ["-start_time", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "usage_id"], name="usage_call_unique_usage_id"),
            models.CheckConstraint(condition=Q(charge__gte=0) & Q(connection_fee__gte=0), name="usage_call_charge_not_negative"),
        ]
        indexes = [
            models.Index(fields=["organization", "start_time", "id"], name="usage_call_org_start_idx"),
            # The username filter goes through the person: an integer key costs an import far less than the UPN.
            models.Index(fields=["organization", "person", "start_time", "id"], name="usage_call_org_person_idx"),
            # No index per call type or for charged calls: each would cost an import of a million rows about
            # a tenth more, and those filters still read the start-time index newest first, stopping at 50 rows.
        ]

    def __str__(self):
        return f"{self.call_type} {self.start_time:%Y-%m-%d %H:%M} ({self.usage_id})"

    @property
    def from_country(self):
        return self.external_country if self.direction == Direction.INBOUND else self.user_location

    @property
    def to_country(self):
        return self.user_location if self.direction == Direction.INBOUND else (self.external_country or self.destination_dialed)


class SmsRecord(RatedRecord):
    sms_id = models.CharField("SMS ID", max_length=128, blank=True)
    sent_time = models.DateTimeField("Sent Time")
    sms_type = models.CharField("Direction", max_length=16, help_text="outbound or inbound, as the source says.")
    segments = models.PositiveIntegerField("Units", default=1)
    destination_name = models.CharField("Destination Name", max_length=128, blank=True)
    destination_number = models.CharField("Destination Number", max_length=128, blank=True)
    source_number = models.CharField("Source Number", max_length=128, blank=True)
    tenant_country = models.CharField(max_length=2, blank=True)
    other_party_country = models.CharField(max_length=2, blank=True)

    class Meta:
        ordering = ["-sent_time", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "usage_id"], name="usage_sms_unique_usage_id"),
            models.CheckConstraint(condition=Q(charge__gte=0), name="usage_sms_charge_not_negative"),
        ]
        indexes = [
            models.Index(fields=["organization", "sent_time", "id"], name="usage_sms_org_sent_idx"),
            models.Index(fields=["organization", "person", "sent_time", "id"], name="usage_sms_org_person_idx"),
        ]

    def __str__(self):
        return f"SMS {self.sms_type} {self.sent_time:%Y-%m-%d %H:%M} ({self.usage_id})"

    @property
    def is_outbound(self):
        return self.sms_type.lower().startswith("out")


class Rate(models.Model):
    """One line of the rate table, managed by support staff in Django admin.

    Outbound minutes are priced by the longest matching prefix of the E.164 number; toll-free
    inbound minutes and SMS segments by country. A line applies from `effective_from` until the
    day before `effective_to` (open-ended when empty), so a price change is a new line, and calls
    keep the price of their day.
    """

    kind = models.CharField(max_length=24, choices=RateKind.choices)
    prefix = models.CharField(
        max_length=16, blank=True, help_text="Outbound only: E.164 digits without '+', e.g. 44 or 4420."
    )
    country = models.CharField(max_length=2, blank=True, help_text="ISO 3166 code of the destination or toll-free number.")
    description = models.CharField(max_length=128, blank=True)
    currency = models.CharField(max_length=3, default="USD")
    per_unit = models.DecimalField(
        "price per minute or segment", max_digits=12, decimal_places=6, help_text="Kept at full precision; a record's charge is rounded once."
    )
    connection_fee = models.DecimalField(max_digits=12, decimal_places=6, default=0, help_text="Per call, when it is charged.")
    effective_from = models.DateField()
    effective_to = models.DateField(null=True, blank=True, help_text="First day it no longer applies; empty: until further notice.")
    number_type = models.CharField(
        max_length=12, choices=NumberType.choices, blank=True, help_text="Premium-rate / shared-cost lines are never part of a pool."
    )
    minimum_seconds = models.PositiveIntegerField(
        default=60, help_text="A connected call is billed at least this many seconds (60/60: whole minutes; 1/1: per second)."
    )
    increment_seconds = models.PositiveIntegerField(default=60, help_text="Beyond the minimum, seconds are billed in steps of this.")
    card = models.ForeignKey(
        "usage.RateCard", null=True, blank=True, on_delete=models.PROTECT, related_name="rate_lines",
        help_text="The rate card that brought this line, if it came from one.",
    )

    class Meta:
        ordering = ["kind", "country", "prefix", "-effective_from"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "prefix", "country", "currency", "effective_from"], name="usage_rate_unique_line"
            ),
            models.CheckConstraint(condition=Q(per_unit__gte=0) & Q(connection_fee__gte=0), name="usage_rate_not_negative"),
            models.CheckConstraint(
                condition=Q(effective_to__isnull=True) | Q(effective_to__gt=models.F("effective_from")),
                name="usage_rate_period_forward",
            ),
            models.CheckConstraint(
                condition=~Q(kind="outbound") | Q(prefix__regex=r"^[0-9]{1,15}$"), name="usage_rate_outbound_has_prefix"
            ),
            models.CheckConstraint(
                condition=Q(kind="outbound") | Q(country__regex=r"^[A-Z]{2}$"), name="usage_rate_country_rate_has_country"
            ),
            models.CheckConstraint(condition=Q(increment_seconds__gte=1), name="usage_rate_increment_positive"),
        ]

    def __str__(self):
        where = f"+{self.prefix}" if self.kind == RateKind.OUTBOUND else self.country
        return f"{self.get_kind_display()} {where}: {self.per_unit} {self.currency}"


class PoolUsage(models.Model):
    """Minutes (or SMS segments) drawn from a pool in a calendar month.

    Keys: `plan:<capability>:<country>` (calling plan minutes per country per identical plan),
    `user:<capability>:<person id>` (a plan that is not pooled), `conf` (the audio conferencing
    dial-out pool of the tenant), `sms:<capability>:<country>`.
    """

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=96)
    month = models.DateField(help_text="First day of the calendar month (UTC).")
    used = models.PositiveBigIntegerField(default=0)
    size = models.PositiveBigIntegerField(default=0, help_text="The pool's size when it was last drawn from.")

    class Meta:
        ordering = ["-month", "key"]
        constraints = [models.UniqueConstraint(fields=["organization", "key", "month"], name="usage_pool_unique_key_month")]

    def __str__(self):
        return f"{self.key} {self.month:%Y-%m}: {self.used} of {self.size}"


class DailyUsage(models.Model):
    """Per-day totals, kept by the import in the same transaction as the records.

    The chart and totals read these (at most a few dozen rows a day) instead of aggregating every
    record of a long range; the dimensions are the report's filters except the username.
    """

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=8, choices=RecordKind.choices)
    day = models.DateField()
    call_type = models.CharField(max_length=32)
    destination_context = models.CharField(max_length=16, blank=True)
    rating = models.CharField(max_length=24, choices=Rating.choices)
    records = models.PositiveBigIntegerField(default=0)
    seconds = models.PositiveBigIntegerField(default=0, help_text="Call seconds, or SMS segments.")
    units = models.PositiveBigIntegerField(default=0, help_text="Billable minutes (rounded up per call), or SMS segments.")
    charged_units = models.PositiveBigIntegerField(default=0)
    charge = money_field(default=0)

    class Meta:
        ordering = ["day"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "kind", "day", "call_type", "destination_context", "rating"],
                name="usage_daily_unique_dims",
            )
        ]


class ReportPreference(models.Model):
    """Edit columns, kept per user (and organization, and report)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    report = models.CharField(max_length=8, choices=RecordKind.choices)
    hidden_columns = models.JSONField(default=list)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "organization", "report"], name="usage_pref_unique_user_report")
        ]


class Export(models.Model):
    """An export built in the background; downloadable for 7 days, then its file is deleted."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="usage_exports")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    kind = models.CharField(max_length=8, choices=RecordKind.choices)
    format = models.CharField(max_length=8, choices=ExportFormat.choices)
    parameters = models.JSONField(default=dict, help_text="Date range, filters and columns, as on screen.")
    status = models.CharField(max_length=8, choices=ExportStatus.choices, default=ExportStatus.PENDING)
    rows_total = models.PositiveBigIntegerField(default=0)
    rows_done = models.PositiveBigIntegerField(default=0)
    file = models.FileField(upload_to="usage-exports/%Y/%m/", blank=True, max_length=300)
    filename = models.CharField(max_length=200, blank=True)
    size_bytes = models.PositiveBigIntegerField(default=0)
    error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    # Written when the build is claimed and with every progress update: a build that has not moved for
    # USAGE_EXPORT_STALE_SECONDS lost its worker (killed, its machine gone) and is built again.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(db_index=True)
    # The organization's RatingState.usage_version when the build started to read the records.
    usage_version = models.PositiveBigIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["organization", "-created_at"], name="usage_export_org_recent_idx")]

    def __str__(self):
        return f"{self.get_format_display()} {self.public_id} ({self.get_status_display()})"

    @property
    def percent(self):
        if self.status == ExportStatus.DONE:
            return 100
        if not self.rows_total:
            return 0
        return min(99, int(self.rows_done * 100 / self.rows_total))


class ApiToken(models.Model):
    """A key for the JSON endpoints, one organization each. Only its SHA-256 is stored."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="usage_api_tokens")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=12, help_text="The first characters, to recognise a key without storing it.")
    key_hash = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"


# Destinations, country lists and rate cards, the spend guard, spike detection's hourly figures and
# incidents, and cost allocation's spend totals and scheduled reports live in their own modules;
# imported here for Django.
from .allocation_data import ReportRun, ReportSubscription, SpendTotal  # noqa: E402, F401
from .detection_data import HourlyCalls, Incident, IncidentKind, IncidentStatus  # noqa: E402, F401
from .rating_data import CountryList, Destination, DestinationPrefix, RateCard  # noqa: E402, F401
from .spend_guard import CapCrossing, CreditBlock, DestinationRule, GuardChange, SpendPolicy  # noqa: E402, F401
