"""Auto-recharge: one charge per round, whoever asks and however often.

A round starts when the ledger service sees the balance cross below the trigger (it bumps
`recharge_crossing`), and again when a new attempt is allowed after a failed one (a cool-down passed, a
new card, an admin's retry) or when a recharge did not lift the balance back above the trigger. The
payment is unique per (account, round): every path (the on-commit task, the beat sweep, Celery retries,
a redelivered message, several workers) finds that one payment. Whoever creates it, under the account's
row lock, holds its claim (a stale claim, from a worker that died, is taken over with a conditional
UPDATE); the gateway is called outside any transaction with the payment's idempotency key, and the
outcome is recorded by a transaction that does nothing once the payment is final.

What happens after a failure:
- transient (processing error, timeout): the same payment is tried again with the same key, with
  exponential back-off, at most MAX_GATEWAY_CALLS times; then it counts as a failure;
- hard decline: the payment is final at once (no blind retry); the next round waits DECLINE_COOLDOWN,
  or starts at once when an admin changes the card, saves the settings, resumes or retries;
- `payment_failed` is sent for the first failure of a streak only; the third failure in a row pauses
  auto-recharge (event "auto_recharge_paused") until an admin acts.

Guards checked before a new payment is created: more than BURST_LIMIT recharges within BURST_WINDOW
pauses ("burst_guard_paused"); a monthly cap stops recharges until the next month
("monthly_cap_reached", once a month). NCE/MCA organizations never recharge.
"""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from functools import partial

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import transaction
from django.db.models import F, Q, Sum
from django.utils import timezone
from kombu.exceptions import KombuError

from billing import signals
from billing.choices import CommerceModel, EntryKind, PaymentMethodKind, PaymentPurpose, PaymentStatus
from billing.gateways.base import describe_failure
from billing.models import AutoRechargeChange, CreditAccount, LedgerEntry, Payment
from billing.money import ZERO, format_money, to_money
from billing.rules import auto_recharge_must_be_off
from billing.services.payments import (
    call_gateway,
    charge_at_gateway,
    claim_payment,
    record_payment_failure,
    record_payment_success,
)

logger = logging.getLogger(__name__)

PAUSE_AFTER_FAILURES = 3
MAX_GATEWAY_CALLS = 5
BACKOFF_BASE_SECONDS = 30
BACKOFF_MAX_SECONDS = 3600
DECLINE_COOLDOWN = timedelta(hours=1)
BURST_LIMIT = 3
BURST_WINDOW = timedelta(minutes=10)
SWEEP_BATCH = 1000
SWEEP_CHUNK = 20
POST_USAGE_MODELS = (CommerceModel.NCE, CommerceModel.MCA)
# An account below its trigger that cannot be charged (NCE/MCA, no usable card) is looked at again after this.
PARK_FOR = timedelta(days=1)
# When usage is too thin to predict the next recharge, warn this long before the card expires.
CARD_WARNING_FALLBACK = timedelta(days=30)
USAGE_WINDOW_DAYS = 30


class TransientRecharge(Exception):
    """The gateway had a passing error; the payment waits `countdown` seconds for its next try."""

    def __init__(self, countdown):
        super().__init__(f"transient gateway error; retry in {countdown}s")
        self.countdown = countdown


# --- enqueueing ------------------------------------------------------------------------------------


def enqueue_on_commit(account_id):
    """After the current transaction commits, ask a worker to recharge. A broker outage loses nothing:
    the account stays due in the database and the sweep finds it."""
    transaction.on_commit(partial(send_recharge_task, account_id))


def send_recharge_task(account_id, countdown=None) -> bool:
    from billing.tasks import run_auto_recharge_task

    task = run_auto_recharge_task
    try:
        if task.app.conf.task_always_eager:
            task.apply_async((account_id,), countdown=countdown)
            return True
        # With the broker down, give up after one quick retry instead of kombu's default back-off (some
        # six seconds) that would hold the request or the usage import committing this debit.
        with task.app.pool.acquire(block=True, timeout=5) as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0.2, interval_max=0.2, timeout=2)
            task.apply_async((account_id,), countdown=countdown, retry=False, connection=conn)
    except (KombuError, OSError):
        logger.warning("Could not enqueue auto-recharge for account %s; the sweep will pick it up.", account_id)
        return False
    return True


def due_accounts(now=None):
    """Accounts below their trigger that auto-recharge may act on now, oldest first: one table, served
    by the partial index on `recharge_due_since`. (Accounts that cannot be charged, NCE/MCA ones or
    those without a usable card, are parked by `claim_recharge` with a later `recharge_retry_at`, so
    they never crowd the head of this list.)"""
    now = now or timezone.now()
    return (
        CreditAccount.objects.filter(
            recharge_due_since__isnull=False, auto_recharge_enabled=True, auto_recharge_paused_at__isnull=True
        )
        .filter(Q(recharge_retry_at__isnull=True) | Q(recharge_retry_at__lte=now))
        .order_by("recharge_due_since", "pk")
    )


def sweep(now=None, limit=SWEEP_BATCH) -> int:
    """Enqueue a recharge for every due account (a no-op for an account whose round is in hand), in
    tasks of SWEEP_CHUNK accounts: a task's own cost is then shared, and a thousand due accounts after
    an outage are worked through at the rate the workers allow."""
    from billing.tasks import run_auto_recharge_batch_task

    ids = list(due_accounts(now).values_list("pk", flat=True)[:limit])
    chunks = [ids[i : i + SWEEP_CHUNK] for i in range(0, len(ids), SWEEP_CHUNK)]
    sent = 0
    try:
        if run_auto_recharge_batch_task.app.conf.task_always_eager:
            for chunk in chunks:
                run_auto_recharge_batch_task.apply_async((chunk,))
                sent += len(chunk)
        else:
            # One connection and producer for the whole sweep.
            with run_auto_recharge_batch_task.app.producer_or_acquire() as producer:
                for chunk in chunks:
                    run_auto_recharge_batch_task.apply_async((chunk,), producer=producer)
                    sent += len(chunk)
    except (KombuError, OSError):
        logger.exception("The auto-recharge sweep lost the broker after %s of %s accounts.", sent, len(ids))
    if sent < len(ids):
        logger.warning("The auto-recharge sweep could enqueue only %s of %s accounts.", sent, len(ids))
    return len(ids)


def run_batch(account_ids) -> dict:
    """The sweep's batch: each account on its own (one account's trouble never stops the others). A
    transient error is retried by a task of its own after its back-off; anything else waits for the
    next sweep, the account being still due."""
    outcome = {"recharged": 0, "waiting": 0, "errors": 0}
    for account_id in account_ids:
        try:
            payment = run_auto_recharge(account_id)
        except TransientRecharge as transient:
            send_recharge_task(account_id, countdown=transient.countdown)
            outcome["waiting"] += 1
        except SoftTimeLimitExceeded:
            raise  # the batch's time is up: the rest wait for the next sweep
        except Exception:  # noqa: BLE001 - logged; the next sweep comes back to this account
            logger.exception("Auto-recharge of account %s failed; the next sweep will try again.", account_id)
            outcome["errors"] += 1
        else:
            outcome["recharged"] += bool(payment and payment.status == PaymentStatus.SUCCEEDED)
    return outcome


# --- the round ---------------------------------------------------------------------------------------


def _lock_account(account_id) -> CreditAccount:
    # of=("self",): lock the account row only, not the organization or card joined for reading.
    return (
        CreditAccount.objects.select_for_update(of=("self",))
        .select_related("organization", "recharge_payment_method")
        .get(pk=account_id)
    )


def _cannot_be_charged(account) -> bool:
    """Due, on and not paused, but nothing may be charged: post-usage billing, or no usable card."""
    method = account.recharge_payment_method
    return (
        account.recharge_amount is None
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
    # The account as read under its lock when the claim was made.
    account: CreditAccount


def claim_recharge(account_id, *, now=None) -> Claim | None:
    """The payment for the account's current round, created (and claimed by the caller) if a new one is
    allowed; None if nothing may be charged now (not due, paused, cooling down after a decline, a guard
    stopped it, or it cannot be charged at all)."""
    now = now or timezone.now()
    with transaction.atomic():
        account = _lock_account(account_id)
        if not account.auto_recharge_enabled or account.auto_recharge_paused_at or account.recharge_due_since is None:
            return None
        if _cannot_be_charged(account):
            # Parked: the sweep looks again tomorrow; a new card or saved settings re-arm it at once.
            account.recharge_retry_at = now + PARK_FOR
            account.save(update_fields=["recharge_retry_at", "updated_at"])
            return None
        # One read: this round's payment, and the recharges that count for the burst guard.
        window_start = _burst_window_start(account, now)
        rows = list(
            Payment.objects.filter(account=account, purpose=PaymentPurpose.RECHARGE).filter(
                Q(crossing=account.recharge_crossing) | Q(status=PaymentStatus.SUCCEEDED, finished_at__gt=window_start)
            )
        )
        current = next((p for p in rows if p.crossing == account.recharge_crossing), None)
        if current is not None:
            if not current.is_final:
                return Claim(current, claimed=False, account=account)
            if current.status == PaymentStatus.FAILED and account.recharge_retry_at and account.recharge_retry_at > now:
                return None
        recent = sum(1 for p in rows if p.status == PaymentStatus.SUCCEEDED and p.finished_at > window_start)
        if _stopped_by_guards(account, now, recent):
            return None
        if current is not None:
            # The round's payment is final and the balance is still below the trigger: a new round.
            account.recharge_crossing += 1
            account.save(update_fields=["recharge_crossing", "updated_at"])
        # Created in the processing state: the unique (account, round) row is the claim, in one commit.
        payment = Payment.objects.create(
            account=account,
            purpose=PaymentPurpose.RECHARGE,
            status=PaymentStatus.PROCESSING,
            started_at=timezone.now(),
            gateway_calls=1,  # the call made right after this commit (saves a commit of its own)
            crossing=account.recharge_crossing,
            amount=account.recharge_amount,
            currency=account.currency,
            payment_method=account.recharge_payment_method,
            idempotency_key=f"recharge:{account.pk}:{account.recharge_crossing}",
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
        delay = backoff_seconds(calls)
        _record_transient(account_id, claimed.pk, error, timezone.now() + timedelta(seconds=delay))
        raise TransientRecharge(delay)
    return _record_failure(account_id, claimed.pk, error)


def backoff_seconds(calls_so_far: int) -> float:
    """30 s after the first call, then 60, 120, 240 ... capped at an hour. The base can be set with
    settings.AUTO_RECHARGE_BACKOFF_SECONDS (tests with a real worker use a fraction of a second)."""
    base = getattr(settings, "AUTO_RECHARGE_BACKOFF_SECONDS", BACKOFF_BASE_SECONDS)
    return min(BACKOFF_MAX_SECONDS, base * 2 ** (calls_so_far - 1))


def decline_cooldown() -> timedelta:
    seconds = getattr(settings, "AUTO_RECHARGE_DECLINE_COOLDOWN_SECONDS", None)
    return DECLINE_COOLDOWN if seconds is None else timedelta(seconds=seconds)


def _record_success(account, payment_id, reference) -> Payment:
    """`account`: as read when the round was claimed; while its payment is in flight no other round
    can change its failure streak or wait, so it tells whether there is anything to reset."""
    # Lock order on every outcome path: the payment, then the account (as record_payment_success does).
    if account.consecutive_recharge_failures or account.recharge_retry_at:
        with transaction.atomic():
            payment = record_payment_success(payment_id, reference)
            CreditAccount.objects.filter(pk=account.pk).update(
                consecutive_recharge_failures=0, recharge_retry_at=None, updated_at=timezone.now()
            )
    else:
        payment = record_payment_success(payment_id, reference)
    trigger = account.recharge_trigger
    if trigger is not None and payment.entry_id and payment.entry.balance_after < trigger:
        # Usage had taken the balance so far down that one recharge did not lift it above the trigger.
        enqueue_on_commit(account.pk)
    return payment


def _record_transient(account_id, payment_id, error, retry_at) -> Payment:
    with transaction.atomic():
        payment = record_payment_failure(payment_id, error, final=False, retry_at=retry_at)
        if not payment.is_final:
            CreditAccount.objects.filter(pk=account_id).update(recharge_retry_at=retry_at)
    return payment


def _record_failure(account_id, payment_id, error) -> Payment:
    now = timezone.now()
    with transaction.atomic():
        payment = Payment.objects.select_for_update().get(pk=payment_id)
        if payment.is_final:
            return payment
        account = _lock_account(account_id)
        if payment.payment_method_id != account.recharge_payment_method_id:
            # The admin replaced the card while this attempt was retrying on the old one: not a failure
            # of the card on file. No streak, no wait: the new card is tried at once.
            payment = record_payment_failure(payment_id, error, final=True, notify=False)
            account.recharge_retry_at = None
            account.save(update_fields=["recharge_retry_at", "updated_at"])
            enqueue_on_commit(account.pk)
            return payment
        account.consecutive_recharge_failures += 1
        account.recharge_retry_at = now + decline_cooldown()
        account.save(update_fields=["consecutive_recharge_failures", "recharge_retry_at", "updated_at"])
        first_of_streak = account.consecutive_recharge_failures == 1
        payment = record_payment_failure(payment_id, error, final=True, notify=first_of_streak)
        if account.consecutive_recharge_failures >= PAUSE_AFTER_FAILURES:
            reason, _fix = describe_failure(payment.failure_code)
            _pause(
                account,
                now,
                reason=(
                    f"Paused after {account.consecutive_recharge_failures} failed recharges in a row. "
                    f"{payment.failure_message or reason} Update the payment method to start again."
                ),
                event="auto_recharge_paused",
                context={
                    "failures": account.consecutive_recharge_failures,
                    "failure_code": payment.failure_code,
                    "failure_message": payment.failure_message,
                    "payment": payment.idempotency_key,
                },
            )
        return payment


def _pause(account, now, *, reason, event, context):
    account.auto_recharge_paused_at = now
    account.auto_recharge_paused_reason = reason[:300]
    account.save(update_fields=["auto_recharge_paused_at", "auto_recharge_paused_reason", "updated_at"])
    signals.auto_recharge_event.send(
        sender=CreditAccount, account=account, event=event, context={"reason": account.auto_recharge_paused_reason, **context}
    )


# --- guards --------------------------------------------------------------------------------------------


def month_start(now) -> datetime:
    return now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def next_month_start(now) -> datetime:
    start = month_start(now)
    return start.replace(year=start.year + 1, month=1) if start.month == 12 else start.replace(month=start.month + 1)


def recharged_this_month(account, now) -> Decimal:
    total = Payment.objects.filter(
        account=account,
        purpose=PaymentPurpose.RECHARGE,
        status=PaymentStatus.SUCCEEDED,
        finished_at__gte=month_start(now),
    ).aggregate(total=Sum("amount"))["total"]
    return to_money(total or ZERO)


def monthly_cap_reached(account, now=None) -> bool:
    """True when the next recharge would go over the monthly cap (what the credits page shows)."""
    if account.monthly_recharge_cap is None or account.recharge_amount is None:
        return False
    now = now or timezone.now()
    return recharged_this_month(account, now) + account.recharge_amount > account.monthly_recharge_cap


def _burst_window_start(account, now):
    """The last 10 minutes, or less if an admin resumed auto-recharge since."""
    window_start = now - BURST_WINDOW
    if account.auto_recharge_resumed_at and account.auto_recharge_resumed_at > window_start:
        window_start = account.auto_recharge_resumed_at
    return window_start


def _stopped_by_guards(account, now, recent) -> bool:
    """`recent`: recharges that succeeded inside the burst window."""
    if recent >= BURST_LIMIT:
        minutes = int(BURST_WINDOW.total_seconds() // 60)
        _pause(
            account,
            now,
            reason=(
                f"Paused: {recent} recharges in {minutes} minutes, which can mean runaway usage or misuse. "
                "Check recent usage, then resume auto-recharge."
            ),
            event="burst_guard_paused",
            context={"recharges": recent, "minutes": minutes},
        )
        return True
    if monthly_cap_reached(account, now):
        first_this_month = account.monthly_cap_reached_at is None or account.monthly_cap_reached_at < month_start(now)
        if first_this_month:
            account.monthly_cap_reached_at = now
        account.recharge_retry_at = next_month_start(now)
        account.save(update_fields=["monthly_cap_reached_at", "recharge_retry_at", "updated_at"])
        if first_this_month:
            signals.auto_recharge_event.send(
                sender=CreditAccount,
                account=account,
                event="monthly_cap_reached",
                context={
                    "cap": str(account.monthly_recharge_cap),
                    "spent": str(recharged_this_month(account, now)),
                    "amount": str(account.recharge_amount),
                    "currency": account.currency,
                    "resumes_at": next_month_start(now).isoformat(),
                },
            )
        return True
    return False


# --- admin acts ------------------------------------------------------------------------------------------


def rearm(account, now) -> list[str]:
    """An admin acted (new card, saved settings, resume, retry): forget the failure streak and the
    cool-down so that the next round starts at once. Returns the fields changed (not saved)."""
    if account.auto_recharge_paused_at is not None:
        account.auto_recharge_resumed_at = now
    account.auto_recharge_paused_at = None
    account.auto_recharge_paused_reason = ""
    account.consecutive_recharge_failures = 0
    account.recharge_retry_at = None
    return [
        "auto_recharge_paused_at",
        "auto_recharge_paused_reason",
        "consecutive_recharge_failures",
        "recharge_retry_at",
        "auto_recharge_resumed_at",
    ]


def resume_auto_recharge(*, account_id, actor, reason="Resumed by support.") -> bool:
    """Support's "resume": a paused auto-recharge starts again (and recharges at once if due)."""
    from billing.services.settings import auto_recharge_snapshot

    with transaction.atomic(durable=True):
        account = _lock_account(account_id)
        if account.auto_recharge_paused_at is None:
            return False
        old = auto_recharge_snapshot(account)
        account.save(update_fields=rearm(account, timezone.now()) + ["updated_at"])
        AutoRechargeChange.objects.create(
            account=account, changed_by=actor, old=old, new=auto_recharge_snapshot(account), reason=reason
        )
        if account.recharge_due_since is not None:
            enqueue_on_commit(account.pk)
    return True


@dataclass(frozen=True)
class RetryOutcome:
    retried: bool
    message: str


def retry_failed_recharge(*, payment_id, actor) -> RetryOutcome:
    """Support's "retry": a new attempt for a failed recharge, now. Idempotent: once the account has
    moved past that payment's round (or is no longer below its trigger) there is nothing to retry."""
    from billing.services.settings import auto_recharge_snapshot

    purpose = Payment.objects.filter(pk=payment_id).values_list("purpose", "account_id").first()
    if purpose is None or purpose[0] != PaymentPurpose.RECHARGE:
        return RetryOutcome(False, "Only an auto-recharge can be retried here; a person retries their own funding.")
    with transaction.atomic(durable=True):
        account = _lock_account(purpose[1])
        payment = Payment.objects.get(pk=payment_id)
        if payment.status != PaymentStatus.FAILED:
            return RetryOutcome(False, f"{payment.idempotency_key} is {payment.get_status_display().lower()}, not failed.")
        if payment.crossing != account.recharge_crossing:
            return RetryOutcome(False, f"{payment.idempotency_key} was already followed by another attempt.")
        if account.recharge_due_since is None:
            return RetryOutcome(False, "The balance is above the trigger again: no recharge is needed.")
        if not account.auto_recharge_enabled or auto_recharge_must_be_off(account.organization):
            return RetryOutcome(False, "Auto-recharge is off for this organization.")
        was_paused = account.auto_recharge_paused_at is not None
        old = auto_recharge_snapshot(account)
        account.save(update_fields=rearm(account, timezone.now()) + ["updated_at"])
        if was_paused:
            AutoRechargeChange.objects.create(
                account=account,
                changed_by=actor,
                old=old,
                new=auto_recharge_snapshot(account),
                reason=f"Support retried {payment.idempotency_key}: auto-recharge resumed.",
            )
        enqueue_on_commit(account.pk)
    return RetryOutcome(True, f"A new attempt for {payment.idempotency_key} is on its way.")


# --- card expiry ---------------------------------------------------------------------------------------


def next_likely_recharge(account, now=None) -> datetime | None:
    """When the balance will probably fall below the trigger, at the last 30 days' pace of usage."""
    if not account.auto_recharge_enabled or account.recharge_trigger is None:
        return None
    now = now or timezone.now()
    if account.balance < account.recharge_trigger:
        return now
    spent = -(
        LedgerEntry.objects.filter(
            account=account, kind=EntryKind.USAGE_CHARGE, created_at__gte=now - timedelta(days=USAGE_WINDOW_DAYS)
        ).aggregate(total=Sum("amount"))["total"]
        or ZERO
    )
    if spent <= 0:
        return None
    days = (account.balance - account.recharge_trigger) / (spent / USAGE_WINDOW_DAYS)
    return now + timedelta(days=min(float(days), 3650.0))


@dataclass(frozen=True)
class CardWarning:
    card: object
    next_recharge_at: datetime | None
    message: str


def card_expiry_warning(account, card, now=None) -> CardWarning | None:
    """Warn when the card auto-recharge charges will have expired by the next likely recharge (or, when
    usage is too thin to tell, within 30 days)."""
    if not account.auto_recharge_enabled or card is None or card.kind != PaymentMethodKind.CARD or not card.exp_year:
        return None
    now = now or timezone.now()
    next_at = next_likely_recharge(account, now)
    horizon = next_at or now + CARD_WARNING_FALLBACK
    if not card.expires_before(horizon.date()):
        return None
    expiry = f"{card.exp_month:02d}/{card.exp_year}"
    if card.expires_before(now.date()):
        message = f"The card that auto-recharge charges ({card.label}) has expired. Add a new card so that recharges keep working."
    elif next_at is not None:
        message = (
            f"The card that auto-recharge charges ({card.label}) expires at the end of {expiry}, before the next "
            f"likely recharge (around {next_at:%b} {next_at.day}, at your recent usage). Add a new card so that "
            "recharges keep working."
        )
    else:
        message = f"The card that auto-recharge charges ({card.label}) expires at the end of {expiry}. Add a new card so that recharges keep working."
    return CardWarning(card=card, next_recharge_at=next_at, message=message)


def warn_expiring_cards(now=None) -> int:
    """Daily: announce once per card that it expires before the next likely recharge."""
    now = now or timezone.now()
    # A card valid for more than a year yet is left for a later day: its warning would come too early.
    within_a_year = now + timedelta(days=366)
    candidates = (
        CreditAccount.objects.filter(
            auto_recharge_enabled=True,
            recharge_payment_method__isnull=False,
            recharge_payment_method__exp_year__lte=within_a_year.year,
        )
        .exclude(organization__commerce_model__in=POST_USAGE_MODELS)
        .exclude(card_expiry_warned_for=F("recharge_payment_method"))
        .values_list("pk", flat=True)
    )
    warned = 0
    for account_id in candidates.iterator():
        with transaction.atomic():
            account = _lock_account(account_id)
            card = account.recharge_payment_method
            if card is None or account.card_expiry_warned_for_id == card.pk:
                continue
            warning = card_expiry_warning(account, card, now)
            if warning is None:
                continue
            account.card_expiry_warned_for = card
            account.save(update_fields=["card_expiry_warned_for", "updated_at"])
            signals.auto_recharge_event.send(
                sender=CreditAccount,
                account=account,
                event="card_expires_before_next_recharge",
                context={
                    "card": card.label,
                    "expires": f"{card.exp_month:02d}/{card.exp_year}",
                    "next_recharge_at": warning.next_recharge_at.isoformat() if warning.next_recharge_at else None,
                    "message": warning.message,
                },
            )
            warned += 1
    return warned


def failure_fix(payment) -> str:
    """The way forward for a failed recharge, in plain words."""
    return describe_failure(payment.failure_code)[1]


def describe_account_state(account) -> str:
    """One line for logs and admin: where the account's auto-recharge stands."""
    if not account.auto_recharge_enabled:
        return "off"
    if account.auto_recharge_paused_at:
        return f"paused: {account.auto_recharge_paused_reason}"
    if account.recharge_due_since is None:
        return "armed"
    amount = format_money(account.recharge_amount or ZERO, account.currency)
    return f"due since {account.recharge_due_since:%Y-%m-%d %H:%M} ({amount})"


def spend_for_demo(account_id, amount=None):
    """The demo's stand-in for calls: a usage charge that takes the balance just below the trigger
    (or `amount`), so that auto-recharge can be watched doing its work. Returns the ledger entry."""
    import uuid

    from billing.services.usage_charges import charge_usage

    if amount is None:
        account = CreditAccount.objects.get(pk=account_id)
        trigger = account.recharge_trigger if account.recharge_trigger is not None else ZERO
        amount = max(Decimal("1.00"), account.balance - trigger + Decimal("1.00"))
    with transaction.atomic(durable=True):
        return charge_usage(
            account_id=account_id,
            amount=to_money(amount),
            idempotency_key=f"demo-spend:{uuid.uuid4()}",
            memo="Demo calls (spend_demo_credits)",
        ).entry
