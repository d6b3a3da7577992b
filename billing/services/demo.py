"""Demo helpers (`make run`): ways to watch the product work that real data would take days to show."""

import uuid
from decimal import Decimal

from django.db import transaction

from billing.models import AutoRechargePolicy, LedgerEntry
from billing.money import ZERO, to_money

from .usage_charges import charge_usage


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
