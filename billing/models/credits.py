"""The Communications Credits account and its money: the append-only ledger, the FIFO lots, and what
the reconciliation found.

The database holds the money invariants: entries are never zero, keys are unique per account, a
balance goes below zero only through a usage charge, lots never hold more than they were bought with.
"""

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from billing.choices import EntryKind

from .fields import money_field


class CreditAccount(models.Model):
    """The organization's Communications Credits: the balance, kept equal to the sum of its ledger.

    Opened with the organization (billing.services.accounts.open_credit_account), together with its
    auto-recharge policy and state (models.auto_recharge), which are one-to-one with it.
    """

    organization = models.OneToOneField("billing.Organization", on_delete=models.CASCADE, related_name="credit_account")
    currency = models.CharField(max_length=3, default="USD")
    balance = money_field(default=0)
    depleted_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        # Support resumes a paused auto-recharge from the accounts page of Django admin.
        permissions = [("resume_auto_recharge", "Can resume a paused auto-recharge")]

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
        indexes = [
            models.Index(fields=["account", "-created_at", "-id"], name="ledger_account_recent_idx"),
            # One kind of an account over a window (the last 30 days' usage charges that predict the next
            # recharge, on the credits and add-funds pages): without it, every entry of the account is read.
            models.Index(fields=["account", "kind", "-created_at"], name="ledger_account_kind_recent_idx"),
        ]

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
