"""The one write path for money: every movement is a ledger entry posted here."""

from dataclasses import dataclass
from decimal import Decimal

from dateutil.relativedelta import relativedelta
from django.db import transaction
from django.utils import timezone

from billing import signals
from billing.choices import LOT_CREATING_KINDS, EntryKind
from billing.exceptions import BillingError, InsufficientCredits
from billing.limits import LOT_LIFETIME_MONTHS
from billing.models import CreditAccount, CreditLot, LedgerEntry
from billing.money import ZERO, to_money


@dataclass(frozen=True)
class Posting:
    entry: LedgerEntry
    created: bool  # False when the idempotency key had already been posted: nothing moved


def lock_account(account_id) -> CreditAccount:
    return CreditAccount.objects.select_for_update().get(pk=account_id)


def post_entry(
    *,
    account_id,
    kind: str,
    amount,
    idempotency_key: str,
    memo: str = "",
    reference: str = "",
    actor=None,
    lot: CreditLot | None = None,
    at=None,
) -> Posting:
    """Append one entry and move the balance, under the account's row lock.

    Idempotent: posting a key that the account already has returns that entry and moves nothing.
    Only a usage charge may take the balance below zero (the call has been made); anything else that
    would is refused with InsufficientCredits. Credits create a FIFO lot; debits draw the oldest lots.
    """
    amount = to_money(amount)
    if amount == 0:
        raise BillingError("A ledger entry cannot be zero.", code="zero_amount")
    if kind not in EntryKind.values:
        raise BillingError(f"Unknown ledger entry kind {kind!r}.", code="bad_kind")
    if kind in (EntryKind.USAGE_CHARGE, EntryKind.EXPIRY, EntryKind.REFUND) and amount > 0:
        raise BillingError(f"A {kind} entry takes money out; its amount must be negative.", code="bad_sign")
    if kind in (EntryKind.FUNDING, EntryKind.RECHARGE) and amount < 0:
        raise BillingError(f"A {kind} entry adds money; its amount must be positive.", code="bad_sign")
    at = at or timezone.now()

    with transaction.atomic():
        account = lock_account(account_id)
        existing = LedgerEntry.objects.filter(account=account, idempotency_key=idempotency_key).first()
        if existing is not None:
            return Posting(entry=existing, created=False)

        previous = account.balance
        new_balance = previous + amount
        if amount < 0 and kind != EntryKind.USAGE_CHARGE and new_balance < 0:
            raise InsufficientCredits(
                f"The balance is {previous}; taking {-amount} would make it negative.", code="insufficient_credits"
            )
        entry = LedgerEntry.objects.create(
            account=account,
            kind=kind,
            amount=amount,
            balance_after=new_balance,
            idempotency_key=idempotency_key,
            memo=memo[:300],
            reference=reference[:200],
            created_by=actor,
            created_at=at,
        )
        if amount > 0:
            _add_lot(account, entry, previous, at)
        else:
            _draw_lots(account, -amount, lot)

        account.balance = new_balance
        changed = ["balance", "updated_at"]
        if new_balance <= 0 < previous:
            account.depleted_at = at
            changed.append("depleted_at")
        elif new_balance > 0 and account.depleted_at is not None:
            account.depleted_at = None
            changed.append("depleted_at")
        changed += _track_recharge_trigger(account, previous, at)
        account.save(update_fields=changed)

        signals.ledger_entry_posted.send(sender=CreditAccount, account=account, entry=entry, previous_balance=previous)
        if new_balance <= 0 < previous:
            signals.balance_depleted.send(sender=CreditAccount, account=account, entry=entry)
        return Posting(entry=entry, created=True)


def _add_lot(account, entry, previous_balance, at):
    if entry.kind not in LOT_CREATING_KINDS:
        return
    # A negative balance is owed for calls already made: the new money pays that first.
    debt = -previous_balance if previous_balance < 0 else ZERO
    CreditLot.objects.create(
        account=account,
        entry=entry,
        original_amount=entry.amount,
        remaining=max(ZERO, entry.amount - debt),
        purchased_at=at,
        expires_at=at + relativedelta(months=LOT_LIFETIME_MONTHS),
    )


def _draw_lots(account, amount: Decimal, only_lot):
    """Spend `amount` from the oldest open lots (or from one lot, for an expiry)."""
    lots = CreditLot.objects.filter(account=account, remaining__gt=0).order_by("purchased_at", "pk")
    if only_lot is not None:
        lots = lots.filter(pk=only_lot.pk)
    left = amount
    for lot in lots.select_for_update():
        if left <= 0:
            break
        take = min(lot.remaining, left)
        lot.remaining -= take
        lot.save(update_fields=["remaining"])
        left -= take


def _track_recharge_trigger(account, previous, at):
    """Keep `recharge_due_since` and `recharge_crossing` in step with the balance and the trigger.

    A downward crossing of the trigger is counted once; the auto-recharge answers each crossing once.
    """
    trigger = account.recharge_trigger
    if not account.auto_recharge_enabled or trigger is None:
        if account.recharge_due_since is not None:
            account.recharge_due_since = None
            return ["recharge_due_since"]
        return []
    below_now = account.balance < trigger
    if below_now and account.recharge_due_since is None:
        account.recharge_due_since = at
        account.recharge_crossing += 1
        # A new crossing is a new round: an old cool-down or back-off does not delay it.
        account.recharge_retry_at = None
        _enqueue_recharge_on_commit(account.pk)
        return ["recharge_due_since", "recharge_crossing", "recharge_retry_at"]
    if not below_now and account.recharge_due_since is not None:
        account.recharge_due_since = None
        return ["recharge_due_since"]
    return []


def _enqueue_recharge_on_commit(account_id):
    from billing import recharge

    recharge.enqueue_on_commit(account_id)


def ledger_total(account_id) -> Decimal:
    from django.db.models import Sum

    total = LedgerEntry.objects.filter(account_id=account_id).aggregate(total=Sum("amount"))["total"]
    return to_money(total or 0)
