"""Auto-recharge: what the admin set (the policy), where the engine stands (the state), and the audit
trail of the policy. Policy and state are one-to-one with the credit account and change only under
the account's row lock (billing.services.ledger.lock_account)."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from .fields import money_field


class AutoRechargePolicy(models.Model):
    """Billing settings > Edit auto recharge settings: on/off, Recharge with, When the balance falls below."""

    account = models.OneToOneField(
        "billing.CreditAccount", on_delete=models.CASCADE, primary_key=True, related_name="auto_recharge_policy"
    )
    enabled = models.BooleanField(default=False)
    amount = money_field("recharge with", null=True, blank=True)
    trigger = money_field("when the balance falls below", null=True, blank=True)
    payment_method = models.ForeignKey(
        "billing.PaymentMethod", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    monthly_cap = money_field(null=True, blank=True)

    class Meta:
        verbose_name_plural = "auto-recharge policies"
        constraints = [
            models.CheckConstraint(
                condition=Q(amount__isnull=True) | Q(amount__gt=0), name="auto_recharge_amount_positive"
            ),
            models.CheckConstraint(
                condition=Q(trigger__isnull=True) | Q(trigger__gte=0), name="auto_recharge_trigger_not_negative"
            ),
        ]

    def __str__(self):
        return f"Auto-recharge policy of account {self.account_id}"


class AutoRechargeState(models.Model):
    """Where the engine stands. `crossing` counts the rounds: a downward crossing of the trigger starts
    one, and a recharge payment is unique per (account, crossing), so every path leads to one charge.

    `due_since` is set only while the policy is on and the balance is below its trigger (the arming
    services keep it so), which lets the sweep read this one table.
    """

    account = models.OneToOneField(
        "billing.CreditAccount", on_delete=models.CASCADE, primary_key=True, related_name="auto_recharge_state"
    )
    crossing = models.PositiveIntegerField(default=0)
    due_since = models.DateTimeField(null=True, blank=True)
    paused_at = models.DateTimeField(null=True, blank=True)
    paused_reason = models.CharField(max_length=300, blank=True)
    consecutive_failures = models.PositiveSmallIntegerField(default=0)
    # Not before this time (a declined card's cool-down, a transient error's back-off, a monthly cap
    # reached until the next month): the sweep leaves the account alone until then.
    retry_at = models.DateTimeField(null=True, blank=True)
    # Set when an admin resumes or re-arms auto-recharge: the burst guard counts recharges after it.
    resumed_at = models.DateTimeField(null=True, blank=True)
    monthly_cap_reached_at = models.DateTimeField(null=True, blank=True)
    card_expiry_warned_for = models.ForeignKey(
        "billing.PaymentMethod",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The card already warned about (expiring before the next likely recharge): warned once per card.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [
            # Serves the auto-recharge sweep: only accounts that are below their trigger are in it.
            models.Index(fields=["due_since"], name="auto_recharge_due_idx", condition=Q(due_since__isnull=False))
        ]

    def __str__(self):
        return f"Auto-recharge state of account {self.account_id}"


class AutoRechargeChange(models.Model):
    """Audit trail of auto-recharge settings: who, when, what it was, what it became."""

    account = models.ForeignKey("billing.CreditAccount", on_delete=models.CASCADE, related_name="auto_recharge_changes")
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
