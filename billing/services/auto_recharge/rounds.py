"""The round that charges: one recharge payment per round, whoever asks and however often.

The payment is unique per (account, round): every path (the on-commit task, the beat sweep, Celery
retries, a redelivered message, several workers) finds that one payment. Whoever creates it, under
the account's row lock, holds its claim (a stale claim, from a worker that died, is taken over with a
conditional UPDATE); the gateway is called outside any transaction with the payment's idempotency
key, and the outcome is recorded by a transaction that does nothing once the payment is final.

What happens after a failure:
- transient (processing error, timeout): the same payment is tried again with the same key, with
  exponential back-off, at most MAX_GATEWAY_CALLS times; then it counts as a failure;
- hard decline: the payment is final at once (no blind retry); the next round waits the decline
  cool-down, or starts at once when an admin changes the card, saves the settings, resumes or retries;
- `PaymentFailed` is announced for the first failure of a streak only; the third failure in a row
  pauses auto-recharge (`AutoRechargePaused`) until an admin acts.
"""

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from billing.choices import PaymentMethodKind, PaymentPurpose, PaymentStatus
from billing.gateways.base import describe_failure
from billing.models import AutoRechargeState, CreditAccount, Payment
from billing.rules import auto_recharge_must_be_off
from billing.services.ledger import lock_account
from billing.services.payments import (
    call_gateway,
    charge_at_gateway,
    claim_payment,
    record_payment_failure,
    record_payment_success,
)
from credits_site.background import backoff_seconds

from .arming import request_round
from .guards import burst_window_start, pause_after_failures, stopped_by_guards
from .state import lock_with_auto_recharge

PAUSE_AFTER_FAILURES = 3
MAX_GATEWAY_CALLS = 5
BACKOFF_BASE_SECONDS = 30
BACKOFF_MAX_SECONDS = 3600
DECLINE_COOLDOWN = timedelta(hours=1)
# An account below its trigger that cannot be charged (NCE/MCA, no usable card) is looked at again after this.
PARK_FOR = timedelta(days=1)


class TransientRecharge(Exception):
    """The gateway had a passing error; the payment waits `countdown` seconds for its next try."""

    def __init__(self, countdown):
        super().__init__(f"transient gateway error; retry in {countdown}s")
        self.countdown = countdown


def due_accounts(now=None):
    """Ids of the accounts below their trigger that auto-recharge may act on now, oldest first: one
    table, served by the partial index on `due_since` (set only while the policy is on). Accounts that
    cannot be charged (NCE/MCA ones, those without a usable card) are parked by `claim_recharge` with
    a later `retry_at`, so they never crowd the head of this list."""
    now = now or timezone.now()
    return (
        AutoRechargeState.objects.filter(due_since__isnull=False, paused_at__isnull=True)
        .filter(Q(retry_at__isnull=True) | Q(retry_at__lte=now))
        .order_by("due_since", "account_id")
        .values_list("account_id", flat=True)
    )


def recharge_backoff_seconds(calls_so_far: int) -> float:
    """30 s after the first call, then 60, 120, 240 ... capped at an hour. The base can be set with
    settings.AUTO_RECHARGE_BACKOFF_SECONDS (tests with a real worker use a fraction of a second)."""
    base = getattr(settings, "AUTO_RECHARGE_BACKOFF_SECONDS", BACKOFF_BASE_SECONDS)
    return backoff_seconds(calls_so_far, base=base, cap=BACKOFF_MAX_SECONDS)


def decline_cooldown() -> timedelta:
    seconds = getattr(settings, "AUTO_RECHARGE_DECLINE_COOLDOWN_SECONDS", None)
    return DECLINE_COOLDOWN if seconds is None else timedelta(seconds=seconds)


def _cannot_be_charged(account, policy) -> bool:
    """Due, on and not paused, but nothing may be charged: post-usage billing, or no usable card."""
    method = policy.payment_method
    return (
        policy.amount is None
        or auto_recharge_must_be_off(account.organization)
        or method is None
        or method.kind != PaymentMethodKind.CARD
        or method.removed_at is not None
    )


@dataclass(frozen=True)
class Claim:
    payment: Payment
    # True when this caller created the payment already claimed (processing): it calls the gateway.
    claimed: bool
    # The account as read under its lock when the claim was made, with its policy and state.
    account: CreditAccount


def claim_recharge(account_id, *, now=None) -> Claim | None:
    """The payment for the account's current round, created (and claimed by the caller) if a new one is
    allowed; None if nothing may be charged now (not due, paused, cooling down after a decline, a guard
    stopped it, or it cannot be charged at all)."""
    now = now or timezone.now()
    with transaction.atomic():
        account = lock_with_auto_recharge(account_id)
        policy, state = account.auto_recharge_policy, account.auto_recharge_state
        if not policy.enabled and state.due_since is not None:
            # Written around the services (a shell, a bulk load): an account that is off is never due.
            state.due_since = None
            state.save(update_fields=["due_since", "updated_at"])
        if not policy.enabled or state.paused_at or state.due_since is None:
            return None
        if _cannot_be_charged(account, policy):
            # Parked: the sweep looks again tomorrow; a new card or saved settings re-arm it at once.
            state.retry_at = now + PARK_FOR
            state.save(update_fields=["retry_at", "updated_at"])
            return None
        # One read: this round's payment, and the recharges that count for the burst guard.
        window_start = burst_window_start(state, now)
        rows = list(
            Payment.objects.filter(account=account, purpose=PaymentPurpose.RECHARGE).filter(
                Q(crossing=state.crossing) | Q(status=PaymentStatus.SUCCEEDED, finished_at__gt=window_start)
            )
        )
        current = next((p for p in rows if p.crossing == state.crossing), None)
        if current is not None:
            if not current.is_final:
                return Claim(current, claimed=False, account=account)
            if current.status == PaymentStatus.FAILED and state.retry_at and state.retry_at > now:
                return None
        recent = sum(1 for p in rows if p.status == PaymentStatus.SUCCEEDED and p.finished_at > window_start)
        if stopped_by_guards(account, policy, state, now, recent):
            return None
        if current is not None:
            # The round's payment is final and the balance is still below the trigger: a new round.
            state.crossing += 1
            state.save(update_fields=["crossing", "updated_at"])
        # Created in the processing state: the unique (account, round) row is the claim, in one commit.
        payment = Payment.objects.create(
            account=account,
            purpose=PaymentPurpose.RECHARGE,
            status=PaymentStatus.PROCESSING,
            started_at=timezone.now(),
            gateway_calls=1,  # the call made right after this commit (saves a commit of its own)
            crossing=state.crossing,
            amount=policy.amount,
            currency=account.currency,
            payment_method=policy.payment_method,
            idempotency_key=f"recharge:{account.pk}:{state.crossing}",
        )
        return Claim(payment, claimed=True, account=account)


def run_auto_recharge(account_id, *, now=None) -> Payment | None:
    """Recharge the account for its current round. Returns the payment, or None if nothing is due.

    Raises TransientRecharge when the gateway had a passing error: the caller retries after it.
    """
    now = now or timezone.now()
    claim = claim_recharge(account_id, now=now)
    if claim is None:
        return None
    payment = claim.payment
    if claim.claimed:
        claimed = payment
        reference, error = charge_at_gateway(claimed)  # the claim counted the call
        calls = claimed.gateway_calls
    else:
        if payment.is_final or (payment.next_retry_at and payment.next_retry_at > now):
            return payment
        # A payment waiting for its retry, or a stale claim left by a worker that died.
        claimed = claim_payment(payment.pk)
        if claimed is None:
            # Another worker holds it (or finished it): its outcome is the outcome.
            return Payment.objects.get(pk=payment.pk)
        reference, error = call_gateway(claimed)
        calls = claimed.gateway_calls + 1
    if error is None:
        return _record_success(claim.account, claimed.pk, reference)
    if error.transient and calls < MAX_GATEWAY_CALLS:
        delay = recharge_backoff_seconds(calls)
        _record_transient(account_id, claimed.pk, error, timezone.now() + timedelta(seconds=delay))
        raise TransientRecharge(delay)
    return _record_failure(account_id, claimed.pk, error)


def _record_success(account, payment_id, reference) -> Payment:
    """`account`: as read when the round was claimed; while its payment is in flight no other round
    can change its failure streak or wait, so it tells whether there is anything to reset."""
    state, policy = account.auto_recharge_state, account.auto_recharge_policy
    # Lock order on every outcome path: the payment, then the account (as record_payment_success does).
    if state.consecutive_failures or state.retry_at:
        with transaction.atomic():
            payment = record_payment_success(payment_id, reference)
            AutoRechargeState.objects.filter(account_id=account.pk).update(
                consecutive_failures=0, retry_at=None, updated_at=timezone.now()
            )
    else:
        payment = record_payment_success(payment_id, reference)
    if policy.trigger is not None and payment.entry_id and payment.entry.balance_after < policy.trigger:
        # Usage had taken the balance so far down that one recharge did not lift it above the trigger.
        request_round(account.pk)
    return payment


def _record_transient(account_id, payment_id, error, retry_at) -> Payment:
    # Lock order on every outcome path: the payment (record_payment_failure), then the account.
    with transaction.atomic():
        payment = record_payment_failure(payment_id, error, final=False, retry_at=retry_at)
        if not payment.is_final:
            lock_account(account_id)
            AutoRechargeState.objects.filter(account_id=account_id).update(retry_at=retry_at, updated_at=timezone.now())
    return payment


def _record_failure(account_id, payment_id, error) -> Payment:
    now = timezone.now()
    with transaction.atomic():
        payment = Payment.objects.select_for_update().get(pk=payment_id)
        if payment.is_final:
            return payment
        account = lock_with_auto_recharge(account_id)
        policy, state = account.auto_recharge_policy, account.auto_recharge_state
        if payment.payment_method_id != policy.payment_method_id:
            # The admin replaced the card while this attempt was retrying on the old one: not a failure
            # of the card on file. No streak, no wait: the new card is tried at once.
            payment = record_payment_failure(payment_id, error, final=True, announce_failure=False)
            state.retry_at = None
            state.save(update_fields=["retry_at", "updated_at"])
            request_round(account.pk)
            return payment
        state.consecutive_failures += 1
        state.retry_at = now + decline_cooldown()
        state.save(update_fields=["consecutive_failures", "retry_at", "updated_at"])
        first_of_streak = state.consecutive_failures == 1
        payment = record_payment_failure(payment_id, error, final=True, announce_failure=first_of_streak)
        if state.consecutive_failures >= PAUSE_AFTER_FAILURES:
            reason, _fix = describe_failure(payment.failure_code)
            pause_after_failures(
                account,
                state,
                now,
                payment=payment,
                reason=(
                    f"Paused after {state.consecutive_failures} failed recharges in a row. "
                    f"{payment.failure_message or reason} Update the payment method to start again."
                ),
            )
        return payment
