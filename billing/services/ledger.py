"""The one write path for money: every movement is a ledger entry posted here.

The ledger knows money only: it appends the entry, draws or adds lots, moves the balance and holds
the invariants. What reacts to money moving (auto-recharge, low-balance alerts) hears of it through
the `EntryPosted` event, sent under the account's row lock before the transaction commits.
"""

from dataclasses import dataclass
from decimal import Decimal

from dateutil.relativedelta import relativedelta
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from billing.choices import LOT_CREATING_KINDS, EntryKind
from billing.events import BalanceDepleted, EntryPosted, announce
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
        account.save(update_fields=changed)

        announce(EntryPosted(account=account, entry=entry, previous_balance=previous))
        if new_balance <= 0 < previous:
            announce(BalanceDepleted(account=account, entry=entry))
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


def ledger_total(account_id) -> Decimal:
    total = LedgerEntry.objects.filter(account_id=account_id).aggregate(total=Sum("amount"))["total"]
    return to_money(total or 0)
