"""Auto-recharge settings and payment methods: what billing admins change on the credits page."""

from decimal import Decimal

from django.db import transaction
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from billing import signals
from billing.choices import PaymentMethodKind
from billing.exceptions import BillingError, PurchaseBlocked
from billing.gateways import GatewayError, get_gateway
from billing.gateways.base import describe_failure
from billing.limits import (
    RECHARGE_AMOUNT_MAX,
    RECHARGE_AMOUNT_MIN,
    RECHARGE_TRIGGER_MAX,
    RECHARGE_TRIGGER_MIN,
)
from billing.models import AutoRechargeChange, CreditAccount, PaymentMethod
from billing.money import to_money
from billing.rules import auto_recharge_must_be_off, purchase_blockers

from .ledger import _track_recharge_trigger
from .payments import get_credit_account


def auto_recharge_snapshot(account: CreditAccount) -> dict:
    def money(value):
        return None if value is None else str(value)

    return {
        "enabled": account.auto_recharge_enabled,
        "recharge_amount": money(account.recharge_amount),
        "recharge_trigger": money(account.recharge_trigger),
        "payment_method": account.recharge_payment_method_id,
        "card": account.recharge_payment_method.label if account.recharge_payment_method_id else None,
        "monthly_cap": money(account.monthly_recharge_cap),
        "paused": bool(account.auto_recharge_paused_at),
    }


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
    account = get_credit_account(organization)
    with transaction.atomic(durable=True):
        account = CreditAccount.objects.select_for_update().get(pk=account.pk)
        old = auto_recharge_snapshot(account)
        account.auto_recharge_enabled = enabled
        account.recharge_amount = None if amount is None else to_money(amount)
        account.recharge_trigger = None if trigger is None else to_money(trigger)
        account.recharge_payment_method = payment_method
        account.monthly_recharge_cap = None if monthly_cap is None else to_money(monthly_cap)
        # An admin who saves the settings has acted: a paused auto-recharge starts again, at once.
        from billing import recharge

        recharge.rearm(account, timezone.now())
        after = auto_recharge_snapshot(account)
        if (old["monthly_cap"], old["recharge_amount"]) != (after["monthly_cap"], after["recharge_amount"]):
            account.monthly_cap_reached_at = None
        changed = _track_recharge_trigger(account, account.balance, timezone.now())
        account.save()
        if enabled and account.recharge_due_since is not None and "recharge_crossing" not in changed:
            recharge.enqueue_on_commit(account.pk)
        new = auto_recharge_snapshot(account)
        if old != new or changed:
            AutoRechargeChange.objects.create(account=account, changed_by=actor, old=old, new=new, reason=reason)
    return account


def turn_off_auto_recharge(*, organization, actor, reason="Turned off by an admin.") -> CreditAccount:
    account = get_credit_account(organization)
    with transaction.atomic(durable=True):
        account = CreditAccount.objects.select_for_update().get(pk=account.pk)
        if not account.auto_recharge_enabled:
            return account
        old = auto_recharge_snapshot(account)
        account.auto_recharge_enabled = False
        account.recharge_due_since = None
        account.save(update_fields=["auto_recharge_enabled", "recharge_due_since", "updated_at"])
        AutoRechargeChange.objects.create(
            account=account, changed_by=actor, old=old, new=auto_recharge_snapshot(account), reason=reason
        )
    return account


def turn_off_auto_recharge_for_post_usage_billing(*, actor=None) -> int:
    """Support action: every NCE/MCA organization that still has auto-recharge on gets it turned off."""
    count = 0
    accounts = CreditAccount.objects.filter(auto_recharge_enabled=True).select_related("organization")
    for account in accounts:
        if auto_recharge_must_be_off(account.organization):
            turn_off_auto_recharge(
                organization=account.organization,
                actor=actor,
                reason="Post-usage billing (NCE/MCA): prepaid auto-recharge is not allowed.",
            )
            count += 1
    return count


@sensitive_variables("number", "cvc")
def add_card(*, organization, actor, number, exp_month, exp_year, cvc) -> PaymentMethod:
    """Attach a card through the gateway; only brand, last four, expiry and token are kept."""
    try:
        details = get_gateway().attach_card(number=number, exp_month=exp_month, exp_year=exp_year, cvc=cvc)
    except GatewayError as error:
        raise BillingError(f"{error.message} {describe_failure(error.code)[1]}", code=error.code, field="number") from None
    with transaction.atomic(durable=True):
        method = PaymentMethod.objects.create(
            organization=organization,
            kind=PaymentMethodKind.CARD,
            brand=details.brand,
            last4=details.last4,
            exp_month=details.exp_month,
            exp_year=details.exp_year,
            gateway_token=details.token,
            created_by=actor,
        )
        _rearm_with_new_card(organization, actor, method)
    return method


def _rearm_with_new_card(organization, actor, method):
    """A new card replaces a failing one for auto-recharge, and re-arms it at once."""
    account = CreditAccount.objects.select_for_update().filter(organization=organization).first()
    if account is None or not account.auto_recharge_enabled:
        return
    failing = account.consecutive_recharge_failures or account.auto_recharge_paused_at
    if account.recharge_payment_method_id is None or failing:
        from billing import recharge

        old = auto_recharge_snapshot(account)
        account.recharge_payment_method = method
        recharge.rearm(account, timezone.now())
        account.save()
        if account.recharge_due_since is not None:
            # Below the trigger already: the new card is charged now, not at the next sweep.
            recharge.enqueue_on_commit(account.pk)
        AutoRechargeChange.objects.create(
            account=account,
            changed_by=actor,
            old=old,
            new=auto_recharge_snapshot(account),
            reason="New card added: auto-recharge uses it and starts again.",
        )
        signals.auto_recharge_event.send(
            sender=CreditAccount, account=account, event="auto_recharge_rearmed", context={"payment_method": method.pk}
        )


def add_enterprise_agreement(*, organization, actor, agreement_number) -> PaymentMethod:
    agreement_number = agreement_number.strip()
    if not agreement_number:
        raise BillingError("Enter the enterprise agreement number.", code="required", field="agreement_number")
    if organization.purchase_channel != "volume_licensing":
        raise BillingError(
            "Only Volume Licensing customers can pay against an enterprise agreement.",
            code="not_volume_licensing",
            field="agreement_number",
        )
    return PaymentMethod.objects.create(
        organization=organization,
        kind=PaymentMethodKind.ENTERPRISE_AGREEMENT,
        agreement_number=agreement_number,
        created_by=actor,
    )


def remove_payment_method(*, organization, actor, payment_method) -> None:
    if payment_method.organization_id != organization.pk:
        raise BillingError("Not one of your organization's payment methods.", code="bad_payment_method")
    with transaction.atomic(durable=True):
        account = CreditAccount.objects.select_for_update().filter(organization=organization).first()
        if account and account.auto_recharge_enabled and account.recharge_payment_method_id == payment_method.pk:
            raise BillingError(
                "Auto-recharge charges this card. Choose another card in the auto-recharge settings, or turn "
                "auto-recharge off, before removing it.",
                code="in_use",
            )
        PaymentMethod.objects.filter(pk=payment_method.pk).update(removed_at=timezone.now(), gateway_token="")


def monthly_cap_decimal(value) -> Decimal | None:
    return None if value in (None, "") else to_money(value)
