"""What support staff do to an auto-recharge from Django admin: resume a paused one, retry a failed
recharge. Both are audited and both ask for a round at once."""

from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from billing.choices import PaymentPurpose, PaymentStatus
from billing.models import Payment
from billing.rules import auto_recharge_must_be_off

from .arming import request_round
from .policy import auto_recharge_snapshot, record_change
from .state import lock_with_auto_recharge, rearm


def resume_auto_recharge(*, account_id, actor, reason="Resumed by support.") -> bool:
    """Support's "resume": a paused auto-recharge starts again (and recharges at once if due)."""
    with transaction.atomic(durable=True):
        account = lock_with_auto_recharge(account_id)
        state = account.auto_recharge_state
        if state.paused_at is None:
            return False
        old = auto_recharge_snapshot(account)
        state.save(update_fields=rearm(state, timezone.now()) + ["updated_at"])
        record_change(account, actor=actor, old=old, reason=reason)
        if state.due_since is not None:
            request_round(account.pk)
    return True


@dataclass(frozen=True)
class RetryOutcome:
    retried: bool
    message: str


def retry_failed_recharge(*, payment_id, actor) -> RetryOutcome:
    """Support's "retry": a new attempt for a failed recharge, now. Idempotent: once the account has
    moved past that payment's round (or is no longer below its trigger) there is nothing to retry."""
    found = Payment.objects.filter(pk=payment_id).values_list("purpose", "account_id").first()
    if found is None or found[0] != PaymentPurpose.RECHARGE:
        return RetryOutcome(False, "Only an auto-recharge can be retried here; a person retries their own funding.")
    with transaction.atomic(durable=True):
        account = lock_with_auto_recharge(found[1])
        policy, state = account.auto_recharge_policy, account.auto_recharge_state
        payment = Payment.objects.get(pk=payment_id)
        if payment.status != PaymentStatus.FAILED:
            return RetryOutcome(False, f"{payment.idempotency_key} is {payment.get_status_display().lower()}, not failed.")
        if payment.crossing != state.crossing:
            return RetryOutcome(False, f"{payment.idempotency_key} was already followed by another attempt.")
        if state.due_since is None:
            return RetryOutcome(False, "The balance is above the trigger again: no recharge is needed.")
        if not policy.enabled or auto_recharge_must_be_off(account.organization):
            return RetryOutcome(False, "Auto-recharge is off for this organization.")
        was_paused = state.paused_at is not None
        old = auto_recharge_snapshot(account)
        state.save(update_fields=rearm(state, timezone.now()) + ["updated_at"])
        if was_paused:
            record_change(
                account, actor=actor, old=old, reason=f"Support retried {payment.idempotency_key}: auto-recharge resumed."
            )
        request_round(account.pk)
    return RetryOutcome(True, f"A new attempt for {payment.idempotency_key} is on its way.")
