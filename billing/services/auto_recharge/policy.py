"""The auto-recharge policy: what billing admins set on the credits page (Billing settings > Edit auto
recharge settings), validated, audited, and re-arming a paused auto-recharge when saved."""

from django.db import transaction
from django.utils import timezone

from billing.choices import PaymentMethodKind
from billing.events import AutoRechargeRearmed, announce
from billing.exceptions import BillingError, PurchaseBlocked
from billing.limits import (
    RECHARGE_AMOUNT_MAX,
    RECHARGE_AMOUNT_MIN,
    RECHARGE_TRIGGER_MAX,
    RECHARGE_TRIGGER_MIN,
)
from billing.models import AutoRechargeChange, CreditAccount, Organization
from billing.money import to_money
from billing.rules import POST_USAGE_MODELS, purchase_blockers

from .arming import request_round, track_trigger
from .state import lock_with_auto_recharge, rearm

POLICY_FIELDS = ["enabled", "amount", "trigger", "payment_method", "monthly_cap"]


def auto_recharge_snapshot(account: CreditAccount) -> dict:
    """The policy as the audit trail keeps it (the keys are those of rows already written)."""
    policy, state = account.auto_recharge_policy, account.auto_recharge_state

    def money(value):
        return None if value is None else str(value)

    return {
        "enabled": policy.enabled,
        "recharge_amount": money(policy.amount),
        "recharge_trigger": money(policy.trigger),
        "payment_method": policy.payment_method_id,
        "card": policy.payment_method.label if policy.payment_method_id else None,
        "monthly_cap": money(policy.monthly_cap),
        "paused": bool(state.paused_at),
    }


def record_change(account, *, actor, old, reason="") -> None:
    AutoRechargeChange.objects.create(
        account=account, changed_by=actor, old=old, new=auto_recharge_snapshot(account), reason=reason
    )


def validate_auto_recharge(*, enabled, amount, trigger, payment_method, monthly_cap=None):
    """Return field -> message for everything wrong with the settings (empty when they are fine)."""
    errors = {}
    if amount is not None:
        amount = to_money(amount)
        if not RECHARGE_AMOUNT_MIN <= amount <= RECHARGE_AMOUNT_MAX:
            errors["recharge_amount"] = f"Recharge with an amount from {RECHARGE_AMOUNT_MIN} to {RECHARGE_AMOUNT_MAX}."
    if trigger is not None:
        trigger = to_money(trigger)
        if not RECHARGE_TRIGGER_MIN <= trigger <= RECHARGE_TRIGGER_MAX:
            errors["recharge_trigger"] = f"Choose a balance from {RECHARGE_TRIGGER_MIN} to {RECHARGE_TRIGGER_MAX}."
    if enabled:
        if amount is None:
            errors.setdefault("recharge_amount", "Enter the amount to recharge with.")
        if trigger is None:
            errors.setdefault("recharge_trigger", "Enter the balance that triggers a recharge.")
        if payment_method is None:
            errors["payment_method"] = "Choose the card to charge; add one first if there is none."
        elif payment_method.kind != PaymentMethodKind.CARD:
            errors["payment_method"] = "Auto-recharge charges a card; choose a card."
    if amount is not None and trigger is not None and "recharge_amount" not in errors and "recharge_trigger" not in errors:
        if to_money(trigger) >= to_money(amount):
            errors["recharge_trigger"] = (
                "The trigger must be lower than the recharge amount, or one recharge would not lift the "
                "balance above it and recharges would follow one another."
            )
    if monthly_cap is not None and amount is not None and "recharge_amount" not in errors:
        if to_money(monthly_cap) < to_money(amount):
            errors["monthly_cap"] = "The monthly cap must allow at least one recharge."
    return errors


def update_auto_recharge(
    *, organization, actor, enabled: bool, amount, trigger, payment_method, monthly_cap=None, reason=""
) -> CreditAccount:
    """Change the auto-recharge settings, keep an audit row, and re-arm a paused auto-recharge."""
    if enabled:
        blockers = purchase_blockers(organization)
        if blockers:
            raise PurchaseBlocked(blockers)
    if payment_method is not None and (
        payment_method.organization_id != organization.pk or payment_method.removed_at is not None
    ):
        raise BillingError("Choose one of your organization's cards.", code="bad_payment_method", field="payment_method")
    errors = validate_auto_recharge(
        enabled=enabled, amount=amount, trigger=trigger, payment_method=payment_method, monthly_cap=monthly_cap
    )
    if errors:
        field, message = next(iter(errors.items()))
        error = BillingError(message, code="invalid_settings", field=field)
        error.errors = errors
        raise error
    account_id = CreditAccount.objects.values_list("pk", flat=True).get(organization=organization)
    with transaction.atomic(durable=True):
        account = lock_with_auto_recharge(account_id)
        policy, state = account.auto_recharge_policy, account.auto_recharge_state
        old = auto_recharge_snapshot(account)
        policy.enabled = enabled
        policy.amount = None if amount is None else to_money(amount)
        policy.trigger = None if trigger is None else to_money(trigger)
        policy.payment_method = payment_method
        policy.monthly_cap = None if monthly_cap is None else to_money(monthly_cap)
        policy.save(update_fields=POLICY_FIELDS)
        now = timezone.now()
        # An admin who saves the settings has acted: a paused auto-recharge starts again, at once.
        changed = rearm(state, now)
        after = auto_recharge_snapshot(account)
        if (old["monthly_cap"], old["recharge_amount"]) != (after["monthly_cap"], after["recharge_amount"]):
            state.monthly_cap_reached_at = None
            changed.append("monthly_cap_reached_at")
        crossing_changes = track_trigger(policy, state, account.balance, now)
        state.save(update_fields=changed + crossing_changes + ["updated_at"])
        if enabled and state.due_since is not None and "crossing" not in crossing_changes:
            # Already below the trigger (a paused or waiting round): the new settings are tried now.
            request_round(account.pk)
        if old != after or crossing_changes:
            record_change(account, actor=actor, old=old, reason=reason)
    return account


def turn_off_auto_recharge(*, organization, actor, reason="Turned off by an admin.") -> CreditAccount:
    account_id = CreditAccount.objects.values_list("pk", flat=True).get(organization=organization)
    with transaction.atomic(durable=True):
        account = lock_with_auto_recharge(account_id)
        policy, state = account.auto_recharge_policy, account.auto_recharge_state
        if not policy.enabled:
            return account
        old = auto_recharge_snapshot(account)
        policy.enabled = False
        policy.save(update_fields=["enabled"])
        state.due_since = None
        state.save(update_fields=["due_since", "updated_at"])
        record_change(account, actor=actor, old=old, reason=reason)
    return account


def turn_off_auto_recharge_for_post_usage_billing(*, actor=None, organizations=None) -> int:
    """Support action: every NCE/MCA organization (of `organizations`, default all) that still has
    auto-recharge on gets it turned off. Returns how many."""
    organizations = Organization.objects.all() if organizations is None else organizations
    post_usage = organizations.filter(
        commerce_model__in=POST_USAGE_MODELS, credit_account__auto_recharge_policy__enabled=True
    )
    for organization in post_usage:
        turn_off_auto_recharge(
            organization=organization,
            actor=actor,
            reason="Post-usage billing (NCE/MCA): prepaid auto-recharge is not allowed.",
        )
    return len(post_usage)


def adopt_new_card(*, organization, actor, card) -> None:
    """A card was just added: if auto-recharge has no card or its card is failing, it uses this one and
    starts again at once (charged now if the balance is already below the trigger)."""
    account_id = CreditAccount.objects.values_list("pk", flat=True).get(organization=organization)
    account = lock_with_auto_recharge(account_id)
    policy, state = account.auto_recharge_policy, account.auto_recharge_state
    failing = state.consecutive_failures or state.paused_at
    if not policy.enabled or (policy.payment_method_id is not None and not failing):
        return
    old = auto_recharge_snapshot(account)
    policy.payment_method = card
    policy.save(update_fields=["payment_method"])
    state.save(update_fields=rearm(state, timezone.now()) + ["updated_at"])
    if state.due_since is not None:
        request_round(account.pk)
    record_change(account, actor=actor, old=old, reason="New card added: auto-recharge uses it and starts again.")
    announce(AutoRechargeRearmed(account=account, payment_method=card))
