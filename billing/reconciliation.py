"""Reconciliation: every balance equals the sum of its ledger, every paid payment has its one credit."""

from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, F, OuterRef, Q, Subquery, Sum
from django.db.models.functions import Coalesce

from billing.choices import PaymentStatus
from billing.models import CreditAccount, LedgerEntry, Payment, money_field


@dataclass(frozen=True)
class Mismatch:
    account_id: int
    problem: str


def find_mismatches() -> list[Mismatch]:
    totals = (
        LedgerEntry.objects.filter(account=OuterRef("pk"))
        .values("account")
        .annotate(total=Sum("amount"))
        .values("total")
    )
    accounts = CreditAccount.objects.annotate(
        ledger_total=Coalesce(Subquery(totals, output_field=money_field()), Decimal("0"))
    ).exclude(balance=F("ledger_total"))
    mismatches = [
        Mismatch(a.pk, f"balance {a.balance} but the ledger sums to {a.ledger_total}") for a in accounts
    ]
    unpaid = Payment.objects.filter(status=PaymentStatus.SUCCEEDED, entry__isnull=True)
    mismatches += [Mismatch(p.account_id, f"payment {p.idempotency_key} succeeded without a ledger credit") for p in unpaid]
    credited_wrongly = Payment.objects.filter(~Q(status=PaymentStatus.SUCCEEDED), entry__isnull=False)
    mismatches += [Mismatch(p.account_id, f"payment {p.idempotency_key} is {p.status} but has a credit") for p in credited_wrongly]
    doubled = (
        LedgerEntry.objects.filter(idempotency_key__startswith="payment:")
        .values("account", "idempotency_key")
        .annotate(n=Count("pk"))
        .filter(n__gt=1)
    )
    mismatches += [Mismatch(d["account"], f"{d['idempotency_key']} credited {d['n']} times") for d in doubled]
    return mismatches
