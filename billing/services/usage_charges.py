"""The billing side of usage: may a call be charged to credits, and charging it."""

from dataclasses import dataclass

from billing.choices import EntryKind
from billing.models import CreditAccount

from .ledger import post_entry


@dataclass(frozen=True)
class ChargeDecision:
    allowed: bool
    reason: str
    balance: object


def can_charge_credits(organization) -> ChargeDecision:
    """The single check: calls charged to credits are refused while the account is depleted."""
    account = CreditAccount.objects.filter(organization=organization).only("balance").first()
    if account is None:
        return ChargeDecision(False, "The organization has no Communications Credits.", None)
    if account.balance <= 0:
        return ChargeDecision(False, "The Communications Credits balance is zero or less.", account.balance)
    return ChargeDecision(True, "", account.balance)


def charge_usage(*, account_id, amount, idempotency_key, memo="", reference="", at=None):
    """Charge a call or SMS already made. May take the balance below zero; idempotent per key."""
    return post_entry(
        account_id=account_id,
        kind=EntryKind.USAGE_CHARGE,
        amount=-amount,
        idempotency_key=idempotency_key,
        memo=memo,
        reference=reference,
        at=at,
    )
