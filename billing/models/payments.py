"""Taking money: payment methods on file, payment attempts, receipts, and the sandbox gateway's memory."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from billing.choices import PaymentMethodKind, PaymentPurpose, PaymentStatus

from .fields import money_field


class PaymentMethod(models.Model):
    """A card on file (only what the gateway tells us: brand, last four, expiry, token) or an agreement."""

    organization = models.ForeignKey("billing.Organization", on_delete=models.CASCADE, related_name="payment_methods")
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


class Payment(models.Model):
    """One attempt to take money from a payment method. Its key is stored before the gateway is called."""

    account = models.ForeignKey("billing.CreditAccount", on_delete=models.PROTECT, related_name="payments")
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
    entry = models.OneToOneField("billing.LedgerEntry", null=True, blank=True, on_delete=models.PROTECT, related_name="payment")
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
    account = models.ForeignKey("billing.CreditAccount", on_delete=models.PROTECT, related_name="receipts")
    entry = models.OneToOneField("billing.LedgerEntry", on_delete=models.PROTECT, related_name="receipt")
    amount = money_field()
    currency = models.CharField(max_length=3)
    paid_with = models.CharField(max_length=200)
    purchase_order = models.CharField(max_length=64, blank=True)
    issued_at = models.DateTimeField()

    class Meta:
        ordering = ["-issued_at", "-pk"]
        # An account's latest receipts (the credits and add-funds pages show five): without it, every
        # receipt is read and sorted, a cost that grew with each funding.
        indexes = [models.Index(fields=["account", "-issued_at", "-id"], name="receipt_account_recent_idx")]

    def __str__(self):
        return self.number


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
