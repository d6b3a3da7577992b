"""The tenant, its people and roles, its subscriptions, and the Communications Credits account.

The database holds the money invariants: entries are never zero, keys are unique per account, a
balance goes below zero only through a usage charge, lots never hold more than they were bought with.
"""

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from .choices import (
    AdminRole,
    CommerceModel,
    EntryKind,
    PaymentMethodKind,
    PaymentPurpose,
    PaymentStatus,
    ProductKind,
    PurchaseChannel,
)
from .money import DECIMAL_PLACES, MAX_DIGITS


def money_field(**kwargs):
    return models.DecimalField(max_digits=MAX_DIGITS, decimal_places=DECIMAL_PLACES, **kwargs)


class Organization(models.Model):
    name = models.CharField(max_length=200)
    slug = models.SlugField(unique=True)
    country = models.CharField(
        "country or region", max_length=2, help_text="ISO 3166 code of where the organization is located."
    )
    billing_region = models.CharField(
        "billing address region",
        max_length=2,
        help_text="ISO 3166 code of the billing address on the organization's agreement.",
    )
    purchase_channel = models.CharField(max_length=32, choices=PurchaseChannel.choices)
    commerce_model = models.CharField(max_length=32, choices=CommerceModel.choices)
    currency = models.CharField(max_length=3, default="USD")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class Membership(models.Model):
    """A person's place in an organization; the admin roles they hold there are `roles`."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="memberships")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "organization"], name="membership_unique_user_org")
        ]

    def __str__(self):
        return f"{self.user} in {self.organization}"


class MembershipRole(models.Model):
    membership = models.ForeignKey(Membership, on_delete=models.CASCADE, related_name="roles")
    role = models.CharField(max_length=64, choices=AdminRole.choices)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["membership", "role"], name="membership_role_unique")
        ]

    def __str__(self):
        return self.get_role_display()


class Product(models.Model):
    code = models.SlugField(unique=True)
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=32, choices=ProductKind.choices)
    capability = models.CharField(
        max_length=32, blank=True, help_text="License capability code shown by the usage report, e.g. MCOPSTN1."
    )
    included_minutes = models.PositiveIntegerField(
        default=0, help_text="Outbound minutes per user per month (0 for Pay-As-You-Go)."
    )
    included_minutes_outside_us_ca_uk = models.PositiveIntegerField(
        null=True, blank=True, help_text="Minutes when the user's usage location is not US, CA or UK."
    )
    minutes_pooled = models.BooleanField(
        default=True, help_text="Pooled per country across users with the identical plan."
    )
    includes_international = models.BooleanField(default=False)
    sms_segments = models.PositiveIntegerField(default=0, help_text="SMS segments per user per month.")
    description = models.TextField(blank=True)

    class Meta:
        ordering = ["kind", "name"]

    def __str__(self):
        return self.name


class Subscription(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="subscriptions")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="subscriptions")
    quantity = models.PositiveIntegerField(default=1, help_text="Licenses; 0 for unlimited (credits).")
    started_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["product__kind", "product__name"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "product"], name="subscription_unique_product")
        ]

    def __str__(self):
        return f"{self.organization}: {self.product} x {self.quantity}"


class PaymentMethod(models.Model):
    """A card on file (only what the gateway tells us: brand, last four, expiry, token) or an agreement."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="payment_methods")
    kind = models.CharField(max_length=32, choices=PaymentMethodKind.choices, default=PaymentMethodKind.CARD)
    brand = models.CharField(max_length=32, blank=True)
    last4 = models.CharField(max_length=4, blank=True)
    exp_month = models.PositiveSmallIntegerField(null=True, blank=True)
    exp_year = models.PositiveSmallIntegerField(null=True, blank=True)
    gateway_token = models.CharField(max_length=128, blank=True)
    agreement_number = models.CharField(max_length=64, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    removed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind="card", last4__regex=r"^[0-9]{4}$") | Q(kind="enterprise_agreement"),
                name="payment_method_card_has_last4",
            ),
        ]

    def __str__(self):
        return self.label

    @property
    def label(self):
        if self.kind == PaymentMethodKind.ENTERPRISE_AGREEMENT:
            return f"Enterprise agreement {self.agreement_number}"
        return f"{self.brand.title()} ending in {self.last4} (expires {self.exp_month:02d}/{self.exp_year})"

    def expires_before(self, day):
        if self.kind != PaymentMethodKind.CARD or not self.exp_year:
            return False
        return (self.exp_year, self.exp_month) < (day.year, day.month)


class CreditAccount(models.Model):
    """The organization's Communications Credits: balance, auto-recharge settings and state."""

    organization = models.OneToOneField(Organization, on_delete=models.CASCADE, related_name="credit_account")
    currency = models.CharField(max_length=3, default="USD")
    balance = money_field(default=0)
    auto_recharge_enabled = models.BooleanField(default=False)
    recharge_amount = money_field(null=True, blank=True)
    recharge_trigger = money_field(null=True, blank=True)
    recharge_payment_method = models.ForeignKey(
        PaymentMethod, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    monthly_recharge_cap = money_field(null=True, blank=True)
    # Auto-recharge state. `recharge_crossing` counts the times the balance fell below the trigger;
    # a recharge attempt is unique per (account, crossing), so every path leads to one charge.
    recharge_crossing = models.PositiveIntegerField(default=0)
    recharge_due_since = models.DateTimeField(null=True, blank=True)
    auto_recharge_paused_at = models.DateTimeField(null=True, blank=True)
    auto_recharge_paused_reason = models.CharField(max_length=300, blank=True)
    consecutive_recharge_failures = models.PositiveSmallIntegerField(default=0)
    # Not before this time (a declined card's cool-down, a transient error's back-off, a monthly cap
    # reached until the next month): the sweep leaves the account alone until then.
    recharge_retry_at = models.DateTimeField(null=True, blank=True)
    # Set when an admin resumes or re-arms auto-recharge: the burst guard counts recharges after it.
    auto_recharge_resumed_at = models.DateTimeField(null=True, blank=True)
    monthly_cap_reached_at = models.DateTimeField(null=True, blank=True)
    card_expiry_warned_for = models.ForeignKey(
        PaymentMethod,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The card already warned about (expiring before the next likely recharge): warned once per card.",
    )
    depleted_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        permissions = [("resume_auto_recharge", "Can resume a paused auto-recharge")]
        indexes = [
            # Serves the auto-recharge sweep: only accounts that are below their trigger are in it.
            models.Index(
                fields=["recharge_due_since"],
                name="credit_account_due_idx",
                condition=Q(recharge_due_since__isnull=False),
            )
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(recharge_amount__isnull=True) | Q(recharge_amount__gt=0),
                name="credit_account_recharge_amount_positive",
            ),
            models.CheckConstraint(
                condition=Q(recharge_trigger__isnull=True) | Q(recharge_trigger__gte=0),
                name="credit_account_trigger_not_negative",
            ),
        ]

    def __str__(self):
        return f"Communications Credits of {self.organization}"

    @property
    def is_depleted(self):
        return self.balance <= 0


class LedgerEntry(models.Model):
    """One movement of money. Append-only: never updated, never deleted."""

    account = models.ForeignKey(CreditAccount, on_delete=models.PROTECT, related_name="entries")
    kind = models.CharField(max_length=32, choices=EntryKind.choices)
    amount = money_field()
    balance_after = money_field()
    idempotency_key = models.CharField(max_length=200)
    memo = models.CharField(max_length=300, blank=True)
    reference = models.CharField(max_length=200, blank=True, help_text="What caused it, e.g. a usage record id.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name_plural = "ledger entries"
        constraints = [
            models.UniqueConstraint(fields=["account", "idempotency_key"], name="ledger_unique_key_per_account"),
            models.CheckConstraint(condition=~Q(amount=0), name="ledger_amount_not_zero"),
            # Only a usage charge for a call already made may take the balance below zero.
            models.CheckConstraint(
                condition=Q(amount__gt=0) | Q(kind="usage_charge") | Q(balance_after__gte=0),
                name="ledger_only_usage_goes_negative",
            ),
        ]
        indexes = [models.Index(fields=["account", "-created_at", "-id"], name="ledger_account_recent_idx")]

    def __str__(self):
        return f"{self.get_kind_display()} {self.amount} ({self.idempotency_key})"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ValueError("Ledger entries are append-only; post a new entry instead.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError("Ledger entries are append-only and cannot be deleted.")


class CreditLot(models.Model):
    """Credits bought together; spent first-in, first-out; what is left expires 12 months after purchase."""

    account = models.ForeignKey(CreditAccount, on_delete=models.PROTECT, related_name="lots")
    entry = models.OneToOneField(LedgerEntry, on_delete=models.PROTECT, related_name="lot")
    original_amount = money_field()
    remaining = money_field()
    purchased_at = models.DateTimeField()
    expires_at = models.DateTimeField(db_index=True)
    # The daily expiry task warns 30 and 7 days ahead, once each.
    warned_30_days_at = models.DateTimeField(null=True, blank=True)
    warned_7_days_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["purchased_at", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(remaining__gte=0) & Q(remaining__lte=F("original_amount")),
                name="lot_remaining_within_original",
            )
        ]
        indexes = [
            models.Index(
                fields=["account", "purchased_at", "id"], name="lot_open_fifo_idx", condition=Q(remaining__gt=0)
            )
        ]

    def __str__(self):
        return f"{self.remaining} of {self.original_amount} bought {self.purchased_at:%Y-%m-%d}"


class Payment(models.Model):
    """One attempt to take money from a payment method. Its key is stored before the gateway is called."""

    account = models.ForeignKey(CreditAccount, on_delete=models.PROTECT, related_name="payments")
    purpose = models.CharField(max_length=16, choices=PaymentPurpose.choices)
    status = models.CharField(max_length=16, choices=PaymentStatus.choices, default=PaymentStatus.PENDING)
    amount = money_field()
    currency = models.CharField(max_length=3)
    payment_method = models.ForeignKey(PaymentMethod, null=True, on_delete=models.PROTECT, related_name="payments")
    purchase_order = models.CharField(max_length=64, blank=True)
    idempotency_key = models.CharField(max_length=200, unique=True)
    crossing = models.PositiveIntegerField(null=True, blank=True, help_text="For auto-recharge: the crossing it answers.")
    gateway_reference = models.CharField(max_length=128, blank=True)
    failure_code = models.CharField(max_length=64, blank=True)
    failure_message = models.CharField(max_length=300, blank=True)
    gateway_calls = models.PositiveSmallIntegerField(default=0)
    next_retry_at = models.DateTimeField(null=True, blank=True)
    entry = models.OneToOneField(LedgerEntry, null=True, blank=True, on_delete=models.PROTECT, related_name="payment")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        permissions = [("retry_payment", "Can retry a failed auto-recharge")]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="payment_amount_positive"),
            models.UniqueConstraint(
                fields=["account", "crossing"],
                condition=Q(purpose="recharge"),
                name="payment_one_recharge_per_crossing",
            ),
        ]
        indexes = [models.Index(fields=["status", "next_retry_at"], name="payment_status_retry_idx")]

    def __str__(self):
        return f"{self.get_purpose_display()} {self.amount} {self.currency} ({self.get_status_display()})"

    @property
    def is_final(self):
        return self.status in (PaymentStatus.SUCCEEDED, PaymentStatus.FAILED)


class Receipt(models.Model):
    number = models.CharField(max_length=32, unique=True)
    account = models.ForeignKey(CreditAccount, on_delete=models.PROTECT, related_name="receipts")
    entry = models.OneToOneField(LedgerEntry, on_delete=models.PROTECT, related_name="receipt")
    amount = money_field()
    currency = models.CharField(max_length=3)
    paid_with = models.CharField(max_length=200)
    purchase_order = models.CharField(max_length=64, blank=True)
    issued_at = models.DateTimeField()

    class Meta:
        ordering = ["-issued_at", "-pk"]

    def __str__(self):
        return self.number


class AutoRechargeChange(models.Model):
    """Audit trail of auto-recharge settings: who, when, what it was, what it became."""

    account = models.ForeignKey(CreditAccount, on_delete=models.CASCADE, related_name="auto_recharge_changes")
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    changed_at = models.DateTimeField(auto_now_add=True)
    old = models.JSONField()
    new = models.JSONField()
    reason = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-changed_at", "-pk"]

    def __str__(self):
        return f"{self.account} changed {self.changed_at:%Y-%m-%d %H:%M}"


class SandboxCharge(models.Model):
    """The sandbox gateway's own memory of charges, so that a repeated idempotency key is one charge."""

    idempotency_key = models.CharField(max_length=200, unique=True)
    token = models.CharField(max_length=128)
    amount = money_field()
    currency = models.CharField(max_length=3)
    reference = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return self.reference


class ReconciliationMismatch(models.Model):
    """A problem the periodic reconciliation found; open until a later run no longer finds it."""

    account = models.ForeignKey(CreditAccount, on_delete=models.CASCADE, related_name="reconciliation_mismatches")
    code = models.CharField(max_length=200, help_text="What kind of problem, and on what (stable between runs).")
    problem = models.CharField(max_length=500)
    first_seen_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-first_seen_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "code"], condition=Q(resolved_at__isnull=True), name="mismatch_one_open_per_code"
            )
        ]

    def __str__(self):
        return f"{self.account}: {self.problem}"
