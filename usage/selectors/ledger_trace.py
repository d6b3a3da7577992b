"""Which credit lots paid for a ledger entry, read back from the ledger.

The ledger does not record which lots a debit drew (billing.services.ledger._draw_lots lowers their
`remaining` and keeps nothing else), so the draws are found by replaying the account's entries in the
order they were posted (by id: every posting holds the account's row lock) the way post_entry moved
the lots:

- an entry of a lot-creating kind opens its lot; when the balance before it was below zero, the new
  money first pays what usage charges left unpaid, oldest first (the lot opens with what is left);
- a debit draws the oldest open lots (purchase time, then id), or, for an expiry, the lot its
  reference names (`lot:<id>`); what no lot held stays unpaid until a later lot pays it.

The replay is checked against the database: only when every lot ends with the `remaining` the
database holds, and the balance with the account's, are the draws reported as exact. Otherwise the
lots are not named at all (a guess is not an answer). Two queries whatever the entry; the rows read
are the account's entries and lots (a usage import posts one entry, not one per record).
"""

from bisect import insort
from collections import deque
from dataclasses import dataclass, field
from decimal import Decimal

from billing.choices import LOT_CREATING_KINDS, EntryKind
from billing.models import CreditLot, LedgerEntry
from billing.money import ZERO


@dataclass(frozen=True)
class LotDraw:
    lot: CreditLot
    lot_kind: str  # the kind of the entry that bought the lot (funding, recharge, adjustment)
    amount: Decimal
    later: bool  # paid when the lot was bought, after the entry took the balance below zero


@dataclass
class EntryLots:
    exact: bool
    draws: list = field(default_factory=list)
    unpaid: Decimal = ZERO  # still owed: the balance is below zero and no lot has paid it yet
    problem: str = ""


def lots_that_paid(account, entry) -> EntryLots:
    """The lots that paid `entry` (a debit of `account`), and how much each; see the module."""
    entries = list(
        LedgerEntry.objects.filter(account=account).order_by("pk").values_list("pk", "kind", "amount", "balance_after", "reference")
    )
    lots = {lot.entry_id: lot for lot in CreditLot.objects.filter(account=account)}
    kinds = {pk: kind for pk, kind, *_ in entries}
    replay = _Replay()
    for pk, kind, amount, balance_after, reference in entries:
        if amount > 0:
            lot = lots.get(pk) if kind in LOT_CREATING_KINDS else None
            if lot is not None:
                replay.open_lot(lot, amount, balance_after - amount)
        else:
            only = None
            if kind == EntryKind.EXPIRY and reference.startswith("lot:"):
                only = reference[4:]
            replay.draw(pk, -amount, only)
    problem = ""
    wrong = [lot for lot in lots.values() if replay.remaining.get(lot.pk) != lot.remaining]
    if wrong:
        problem = (
            f"Replaying the ledger does not give the amounts left in {len(wrong)} lot(s) "
            f"(lot {wrong[0].pk}: {replay.remaining.get(wrong[0].pk)} replayed, {wrong[0].remaining} stored)."
        )
    elif entries and entries[-1][3] != account.balance:
        problem = f"The ledger ends at {entries[-1][3]}, the account's balance is {account.balance}."
    if problem:
        return EntryLots(exact=False, problem=problem + " Which lot paid this entry cannot be told exactly.")
    by_pk = {lot.pk: lot for lot in lots.values()}
    draws = [
        LotDraw(lot=by_pk[lot_pk], lot_kind=kinds.get(by_pk[lot_pk].entry_id, ""), amount=taken, later=later)
        for lot_pk, taken, later in replay.draws.get(entry.pk, ())
    ]
    return EntryLots(exact=True, draws=draws, unpaid=replay.unpaid_of(entry.pk))


class _Replay:
    def __init__(self):
        self.open = []  # [(purchased_at, lot pk)], oldest first
        self.remaining = {}  # lot pk -> what is left
        self.owed = deque()  # [entry pk, amount no lot paid], oldest first
        self.draws = {}  # entry pk -> [(lot pk, amount, paid later)]

    def open_lot(self, lot, amount, balance_before):
        debt = -balance_before if balance_before < 0 else ZERO
        pay = min(amount, debt)
        while pay > 0 and self.owed:
            slot = self.owed[0]
            taken = min(slot[1], pay)
            self.draws.setdefault(slot[0], []).append((lot.pk, taken, True))
            slot[1] -= taken
            pay -= taken
            if slot[1] == 0:
                self.owed.popleft()
        self.remaining[lot.pk] = max(ZERO, amount - debt)
        if self.remaining[lot.pk] > 0:
            insort(self.open, (lot.purchased_at, lot.pk))

    def draw(self, entry_pk, amount, only):
        left = amount
        for key in list(self.open):
            if left <= 0:
                break
            lot_pk = key[1]
            if only is not None and str(lot_pk) != only:
                continue
            taken = min(self.remaining[lot_pk], left)
            self.remaining[lot_pk] -= taken
            left -= taken
            self.draws.setdefault(entry_pk, []).append((lot_pk, taken, False))
            if self.remaining[lot_pk] == 0:
                self.open.remove(key)
        if left > 0 and only is None:
            self.owed.append([entry_pk, left])

    def unpaid_of(self, entry_pk):
        return next((slot[1] for slot in self.owed if slot[0] == entry_pk), ZERO)
