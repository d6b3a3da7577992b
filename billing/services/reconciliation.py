"""Reconciliation: every balance equals the sum of its ledger and its open lots, and every succeeded
payment has exactly one ledger credit (and every credit its payment).

`find_mismatches` only reads. `reconcile` (the periodic task) keeps one open ReconciliationMismatch row
per problem, which support sees in Django admin, resolves the rows a later run no longer finds, and
announces new problems with the `ReconciliationMismatchFound` event so that support is alerted.
"""

import logging
from collections import defaultdict
from dataclasses import dataclass

from django.db import transaction
from django.db.models import F, Q, Sum
from django.utils import timezone

from billing.choices import EntryKind, PaymentStatus
from billing.events import ReconciliationMismatchFound, announce
from billing.models import CreditAccount, CreditLot, LedgerEntry, Payment, ReconciliationMismatch
from billing.money import ZERO, to_money

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Mismatch:
    account_id: int
    code: str  # stable between runs for the same problem: "balance", "payment_without_credit:<key>" ...
    problem: str


def find_mismatches(account_ids=None) -> list[Mismatch]:
    """Every problem found, in account order. `account_ids` narrows the check (tests, admin)."""
    accounts = CreditAccount.objects.all()
    entries = LedgerEntry.objects.all()
    lots = CreditLot.objects.all()
    payments = Payment.objects.all()
    if account_ids is not None:
        accounts = accounts.filter(pk__in=account_ids)
        entries = entries.filter(account_id__in=account_ids)
        lots = lots.filter(account_id__in=account_ids)
        payments = payments.filter(account_id__in=account_ids)

    ledger_totals = dict(entries.values("account").annotate(total=Sum("amount")).values_list("account", "total"))
    lot_totals = dict(
        lots.filter(remaining__gt=0).values("account").annotate(total=Sum("remaining")).values_list("account", "total")
    )
    found = []
    for account_id, balance in accounts.values_list("pk", "balance").iterator():
        total = to_money(ledger_totals.get(account_id) or ZERO)
        if total != balance:
            found.append(Mismatch(account_id, "balance", f"The balance is {balance} but the ledger sums to {total}."))
        open_lots = to_money(lot_totals.get(account_id) or ZERO)
        if open_lots != max(balance, ZERO):
            found.append(
                Mismatch(account_id, "lots", f"Open lots hold {open_lots} but the balance is {balance}.")
            )

    for account_id, key in payments.filter(status=PaymentStatus.SUCCEEDED, entry__isnull=True).values_list(
        "account_id", "idempotency_key"
    ):
        found.append(Mismatch(account_id, f"payment_without_credit:{key}", f"Payment {key} succeeded without a ledger credit."))
    for account_id, key, status in payments.filter(~Q(status=PaymentStatus.SUCCEEDED), entry__isnull=False).values_list(
        "account_id", "idempotency_key", "status"
    ):
        found.append(Mismatch(account_id, f"credit_without_success:{key}", f"Payment {key} is {status} but has a ledger credit."))
    for account_id, key, amount, credited in payments.filter(entry__isnull=False).exclude(entry__amount=F("amount")).values_list(
        "account_id", "idempotency_key", "amount", "entry__amount"
    ):
        found.append(
            Mismatch(account_id, f"credit_amount:{key}", f"Payment {key} of {amount} was credited {credited}.")
        )
    # A funding or recharge credit that no payment points to: money credited without (or twice for) a charge.
    orphans = entries.filter(kind__in=[EntryKind.FUNDING, EntryKind.RECHARGE], payment__isnull=True)
    for account_id, key, amount in orphans.values_list("account_id", "idempotency_key", "amount"):
        found.append(
            Mismatch(account_id, f"credit_without_payment:{key}", f"Credit {key} of {amount} has no payment behind it.")
        )
    found.sort(key=lambda m: (m.account_id, m.code))
    return found


def reconcile(now=None) -> list[Mismatch]:
    """The periodic run: record what is wrong (open rows), resolve what is fixed, alert on what is new."""
    now = now or timezone.now()
    found = find_mismatches()
    with transaction.atomic():
        open_rows = {
            (row.account_id, row.code): row
            for row in ReconciliationMismatch.objects.select_for_update().filter(resolved_at__isnull=True)
        }
        new_by_account = defaultdict(list)
        for mismatch in found:
            row = open_rows.pop((mismatch.account_id, mismatch.code), None)
            if row is None:
                ReconciliationMismatch.objects.create(
                    account_id=mismatch.account_id,
                    code=mismatch.code[:200],
                    problem=mismatch.problem[:500],
                    first_seen_at=now,
                    last_seen_at=now,
                )
                new_by_account[mismatch.account_id].append(mismatch.problem)
            else:
                row.problem = mismatch.problem[:500]
                row.last_seen_at = now
                row.save(update_fields=["problem", "last_seen_at"])
        ReconciliationMismatch.objects.filter(pk__in=[row.pk for row in open_rows.values()]).update(resolved_at=now)
        for account in CreditAccount.objects.filter(pk__in=new_by_account).select_related("organization"):
            problems = new_by_account[account.pk]
            logger.error("Ledger mismatch on account %s: %s", account.pk, "; ".join(problems))
            announce(ReconciliationMismatchFound(account=account, problems=tuple(problems)))
    return found
