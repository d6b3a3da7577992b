"""The spend guard's data: spend policies (caps and what happens at a cap), destination rules, credit
blocks and the audit trail of every change to them (docs/spend-guard.md).

Each is scoped to the organization, a department (Person.department, the administrative unit) or one
person; the most specific one wins. Rating reads them once per import (usage.services.guard.evaluator);
the services in usage.services.guard are the only writers, each audited.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q

from billing.models import Organization, money_field

from .choices import NumberType


class GuardScope(models.TextChoices):
    ORGANIZATION = "organization", "Organization"
    DEPARTMENT = "department", "Department"
    PERSON = "person", "Person"


class CapAction(models.TextChoices):
    WARN = "warn", "Warn only"
    STOP = "stop", "Stop charging credits until the next day (UTC) or until lifted"


class RuleAction(models.TextChoices):
    ALLOW = "allow", "Allow"
    BLOCK = "block", "Block"


class CapKind(models.TextChoices):
    """What a cap limits; a CreditBlock made by a cap names it in `cap`."""

    CALL = "call", "Cap per call"
    PERSON_DAY = "person_day", "Cap per person per day"
    ORGANIZATION_DAY = "organization_day", "Cap per organization per day"


def _scope_constraints(prefix):
    return [
        models.CheckConstraint(
            condition=(
                Q(scope=GuardScope.ORGANIZATION, department="", person__isnull=True)
                | (Q(scope=GuardScope.DEPARTMENT, person__isnull=True) & ~Q(department=""))
                | Q(scope=GuardScope.PERSON, department="", person__isnull=False)
            ),
            name=f"{prefix}_scope_consistent",
        ),
    ]


class SpendPolicy(models.Model):
    """Caps on credits spent, for the organization or, overriding it, for a department or a person.

    An empty cap on an override means "as the organization (or the department) says"; an empty cap
    on the organization's policy means no cap. The cap per organization per day is only the
    organization's. `cap_action` empty on an override follows the broader policy.
    """

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="spend_policies")
    scope = models.CharField(max_length=16, choices=GuardScope.choices, default=GuardScope.ORGANIZATION)
    department = models.CharField(max_length=128, blank=True)
    person = models.ForeignKey("usage.Person", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    call_cap = money_field("cap per call", null=True, blank=True, help_text="Credits one call may cost.")
    person_day_cap = money_field("cap per person per day", null=True, blank=True, help_text="Credits one person may spend in a day (UTC).")
    organization_day_cap = money_field(
        "cap per organization per day", null=True, blank=True, help_text="Credits the whole organization may spend in a day (UTC)."
    )
    cap_action = models.CharField("at a cap", max_length=8, choices=CapAction.choices, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["scope", "department", "person_id"]
        verbose_name_plural = "spend policies"
        constraints = [
            *_scope_constraints("usage_spend_policy"),
            models.UniqueConstraint(fields=["organization"], condition=Q(scope="organization"), name="usage_spend_policy_one_per_org"),
            models.UniqueConstraint(
                fields=["organization", "department"], condition=Q(scope="department"), name="usage_spend_policy_one_per_dept"
            ),
            models.UniqueConstraint(fields=["organization", "person"], condition=Q(scope="person"), name="usage_spend_policy_one_per_person"),
            models.CheckConstraint(
                condition=(Q(call_cap__isnull=True) | Q(call_cap__gt=0))
                & (Q(person_day_cap__isnull=True) | Q(person_day_cap__gt=0))
                & (Q(organization_day_cap__isnull=True) | Q(organization_day_cap__gt=0)),
                name="usage_spend_policy_caps_positive",
            ),
            models.CheckConstraint(
                condition=Q(scope="organization") | Q(organization_day_cap__isnull=True), name="usage_spend_policy_org_cap_on_org_only"
            ),
        ]

    def __str__(self):
        return f"Spend policy of {self.scope_label}"

    @property
    def scope_label(self):
        if self.scope == GuardScope.DEPARTMENT:
            return f"department {self.department}"
        if self.scope == GuardScope.PERSON:
            return f"{self.person.upn}" if self.person_id else "a person"
        return "the organization"


class DestinationRule(models.Model):
    """Allow or block calls charged to credits by destination: country, number type and/or prefix.

    Empty country, number type or prefix match any. The shipped defaults (premium-rate numbers and
    the high-risk prefixes of usage/data/high_risk_prefixes.csv) carry `default_key`; lifting one
    keeps it listed, lifted, and "Restore defaults" applies it again.
    """

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="destination_rules")
    scope = models.CharField(max_length=16, choices=GuardScope.choices, default=GuardScope.ORGANIZATION)
    department = models.CharField(max_length=128, blank=True)
    person = models.ForeignKey("usage.Person", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    action = models.CharField(max_length=8, choices=RuleAction.choices, default=RuleAction.BLOCK)
    country = models.CharField(max_length=2, blank=True, help_text="ISO 3166 code; empty: any country.")
    number_type = models.CharField(max_length=12, choices=NumberType.choices, blank=True, help_text="Empty: any type of number.")
    prefix = models.CharField(max_length=16, blank=True, help_text="E.164 digits without '+'; empty: any number.")
    description = models.CharField(max_length=200, blank=True)
    default_key = models.CharField(max_length=40, blank=True, help_text="Set on the rules shipped as defaults.")
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    incident_id = models.IntegerField(null=True, blank=True, help_text="The incident this rule was made from, if any.")
    lifted_at = models.DateTimeField(null=True, blank=True)
    lifted_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["scope", "department", "person_id", "country", "number_type", "prefix", "pk"]
        constraints = [
            *_scope_constraints("usage_destination_rule"),
            models.CheckConstraint(condition=Q(prefix__regex=r"^[0-9]{0,15}$"), name="usage_destination_rule_prefix_digits"),
            models.CheckConstraint(condition=Q(country__regex=r"^([A-Z]{2})?$"), name="usage_destination_rule_country_code"),
            models.UniqueConstraint(
                fields=["organization", "default_key"], condition=~Q(default_key=""), name="usage_destination_rule_one_default"
            ),
        ]
        indexes = [models.Index(fields=["organization", "lifted_at"], name="usage_dest_rule_org_idx")]

    def __str__(self):
        return f"{self.get_action_display()} {self.target_label} ({self.scope_label})"

    @property
    def is_default(self):
        return bool(self.default_key)

    @property
    def is_active(self):
        return self.lifted_at is None

    @property
    def target_label(self):
        parts = []
        if self.prefix:
            parts.append(f"+{self.prefix}")
        if self.country:
            parts.append(self.country)
        if self.number_type:
            parts.append(self.get_number_type_display())
        return " ".join(parts) or "every destination"

    @property
    def scope_label(self):
        if self.scope == GuardScope.DEPARTMENT:
            return f"department {self.department}"
        if self.scope == GuardScope.PERSON:
            return self.person.upn if self.person_id else "a person"
        return "organization"


class CreditBlock(models.Model):
    """Calls of a person (or of the whole organization, without a person) are not charged to credits:
    they are refused, from `starts_at` until `until` (or until lifted)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="credit_blocks")
    person = models.ForeignKey("usage.Person", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    reason = models.CharField(max_length=300)
    rule = models.CharField(max_length=200, help_text="The rule or cap that made the block, as people read it.")
    cap = models.CharField(max_length=20, choices=CapKind.choices, blank=True, help_text="Set when a cap made the block.")
    cap_day = models.DateField(null=True, blank=True, help_text="The day (UTC) a cap was reached.")
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    starts_at = models.DateTimeField(help_text="Calls from this time on are refused.")
    until = models.DateTimeField(null=True, blank=True, help_text="Empty: until an admin lifts it.")
    lifted_at = models.DateTimeField(null=True, blank=True)
    lifted_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    incident_id = models.IntegerField(null=True, blank=True, help_text="The incident this block was made from, if any.")

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["organization", "lifted_at"], name="usage_credit_block_org_idx")]
        constraints = [
            models.CheckConstraint(condition=Q(until__isnull=True) | Q(until__gt=models.F("starts_at")), name="usage_credit_block_forward"),
        ]

    def __str__(self):
        who = self.person.upn if self.person_id else "the whole organization"
        return f"Credit block of {who}: {self.rule}"

    @property
    def who(self):
        return self.person.upn if self.person_id else "Whole organization"

    def is_active_at(self, moment):
        return self.lifted_at is None and self.starts_at <= moment and (self.until is None or moment < self.until)


class GuardChange(models.Model):
    """The audit trail of the spend guard: who changed what, when, what it was and what it became."""

    class Subject(models.TextChoices):
        POLICY = "policy", "Spend policy"
        RULE = "rule", "Destination rule"
        BLOCK = "block", "Credit block"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="spend_guard_changes")
    subject = models.CharField(max_length=8, choices=Subject.choices)
    subject_id = models.IntegerField(null=True, blank=True)
    action = models.CharField(max_length=40, help_text="created, updated, deleted, lifted, restored, cap reached, ...")
    changed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    changed_at = models.DateTimeField(auto_now_add=True)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    reason = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-changed_at", "-pk"]
        indexes = [models.Index(fields=["organization", "-changed_at"], name="usage_guard_change_recent_idx")]

    def __str__(self):
        return f"{self.get_subject_display()} {self.action} {self.changed_at:%Y-%m-%d %H:%M}"


class CapCrossing(models.Model):
    """A cap reached (or crossed at "warn only"): one row per cap, person (or organization) and day, so
    the warning is announced once per person per day."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    person = models.ForeignKey("usage.Person", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    cap = models.CharField(max_length=20, choices=CapKind.choices)
    day = models.DateField()
    limit = money_field()
    spent = money_field(help_text="Spent that day when the cap was reached, with the call that reached it.")
    action = models.CharField(max_length=8, choices=CapAction.choices)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-day", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "person", "cap", "day"], condition=Q(person__isnull=False), name="usage_cap_crossing_once"
            ),
            models.UniqueConstraint(
                fields=["organization", "cap", "day"], condition=Q(person__isnull=True), name="usage_cap_crossing_org_once"
            ),
        ]
