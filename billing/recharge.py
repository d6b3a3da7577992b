"""Auto-recharge: one charge per downward crossing of the trigger, whoever asks and however often.

A crossing is counted by the ledger service (`recharge_crossing`). The payment for it is unique per
(account, crossing); the gateway is called outside any transaction with that payment's key; the
outcome is recorded by a transaction that does nothing once the payment is final.
"""

from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from billing import signals
from billing.choices import PaymentMethodKind, PaymentPurpose, PaymentStatus
from billing.models import CreditAccount, Payment
from billing.rules import auto_recharge_must_be_off
from billing.services.payments import (
    call_gateway,
    claim_payment,
    record_payment_failure,
    record_payment_success,
)

PAUSE_AFTER_FAILURES = 3
MAX_TRANSIENT_RETRIES = 5


def enqueue_on_commit(account_id):
    from billing.tasks import run_auto_recharge_task

    transaction.on_commit(lambda: _send(run_auto_recharge_task, account_id))


def _send(task, account_id):
    try:
        task.delay(account_id)
    except Exception:  # noqa: BLE001 - a broker outage must not break the request; the sweep catches up
        import logging

        logging.getLogger(__name__).warning("Could not enqueue auto-recharge for account %s; the sweep will.", account_id)


def due_accounts():
    """Accounts below their trigger with auto-recharge on and not paused (served by a partial index)."""
    return CreditAccount.objects.filter(
        recharge_due_since__isnull=False, auto_recharge_enabled=True, auto_recharge_paused_at__isnull=True
    ).order_by("recharge_due_since")


def claim_recharge(account_id) -> Payment | None:
    """Create (or find) the recharge payment for the account's current crossing, if one is due."""
    with transaction.atomic():
        account = CreditAccount.objects.select_for_update().select_related("organization").get(pk=account_id)
        if (
            not account.auto_recharge_enabled
            or account.auto_recharge_paused_at is not None
            or account.recharge_due_since is None
            or auto_recharge_must_be_off(account.organization)
            or account.recharge_payment_method is None
            or account.recharge_payment_method.kind != PaymentMethodKind.CARD
            or account.recharge_payment_method.removed_at is not None
        ):
            return None
        key = f"recharge:{account.pk}:{account.recharge_crossing}"
        try:
            with transaction.atomic():
                payment, _ = Payment.objects.get_or_create(
                    account=account,
                    purpose=PaymentPurpose.RECHARGE,
                    crossing=account.recharge_crossing,
                    defaults=dict(
                        amount=account.recharge_amount,
                        currency=account.currency,
                        payment_method=account.recharge_payment_method,
                        idempotency_key=key,
                    ),
                )
        except IntegrityError:
            payment = Payment.objects.get(account=account, purpose=PaymentPurpose.RECHARGE, crossing=account.recharge_crossing)
    return payment


def run_auto_recharge(account_id, *, now=None) -> Payment | None:
    """Recharge the account for its current crossing. Returns the payment, or None if nothing is due.

    Raises TransientRecharge when the gateway had a passing error: the caller retries with back-off.
    """
    payment = claim_recharge(account_id)
    if payment is None or payment.is_final:
        return payment
    now = now or timezone.now()
    if payment.next_retry_at and payment.next_retry_at > now:
        return payment
    claimed = claim_payment(payment.pk)
    if claimed is None:
        return Payment.objects.get(pk=payment.pk)
    reference, error = call_gateway(claimed)
    if error is None:
        payment = record_payment_success(claimed.pk, reference)
        CreditAccount.objects.filter(pk=account_id).update(consecutive_recharge_failures=0)
        return payment
    if error.transient and claimed.gateway_calls + 1 < MAX_TRANSIENT_RETRIES:
        delay = backoff_seconds(claimed.gateway_calls + 1)
        record_payment_failure(claimed.pk, error, final=False, retry_at=now + timedelta(seconds=delay))
        raise TransientRecharge(delay)
    return _record_hard_failure(account_id, claimed.pk, error)


def backoff_seconds(calls_so_far: int) -> int:
    return min(3600, 30 * 2 ** (calls_so_far - 1))


def _record_hard_failure(account_id, payment_id, error) -> Payment:
    with transaction.atomic():
        account = CreditAccount.objects.select_for_update().get(pk=account_id)
        payment = Payment.objects.select_for_update().get(pk=payment_id)
        if payment.is_final:
            return payment
        account.consecutive_recharge_failures += 1
        fields = ["consecutive_recharge_failures", "updated_at"]
        if account.consecutive_recharge_failures >= PAUSE_AFTER_FAILURES:
            account.auto_recharge_paused_at = timezone.now()
            account.auto_recharge_paused_reason = (
                f"Paused after {account.consecutive_recharge_failures} failed recharges in a row. Update the "
                "payment method or save the settings to start again."
            )
            fields += ["auto_recharge_paused_at", "auto_recharge_paused_reason"]
        account.save(update_fields=fields)
        payment = record_payment_failure(payment_id, error, final=True)
        if account.auto_recharge_paused_at:
            signals.auto_recharge_event.send(
                sender=CreditAccount, account=account, event="auto_recharge_paused", context={"payment": payment.pk}
            )
        return payment


class TransientRecharge(Exception):
    def __init__(self, countdown):
        super().__init__(f"transient gateway error; retry in {countdown}s")
        self.countdown = countdown


def pending_status_values():
    return [PaymentStatus.PENDING, PaymentStatus.PROCESSING]
