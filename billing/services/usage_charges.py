"""The billing side of usage: may a call be charged to credits, and charging it."""

import uuid
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction

from billing.choices import EntryKind
from billing.models import AutoRechargePolicy, CreditAccount, LedgerEntry
from billing.money import ZERO, to_money

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


def spend_demo_credits(account_id, amount=None) -> LedgerEntry:
    """The demo's stand-in for calls: a usage charge that takes the balance just below the auto-recharge
    trigger (or `amount`), so that auto-recharge can be watched doing its work."""
    if amount is None:
        policy = AutoRechargePolicy.objects.select_related("account").get(account_id=account_id)
        trigger = policy.trigger if policy.trigger is not None else ZERO
        amount = max(Decimal("1.00"), policy.account.balance - trigger + Decimal("1.00"))
    with transaction.atomic(durable=True):
        return charge_usage(
            account_id=account_id,
            amount=to_money(amount),
            idempotency_key=f"demo-spend:{uuid.uuid4()}",
            memo="Demo calls (spend_demo_credits)",
        ).entry
