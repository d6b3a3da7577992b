"""What support staff do to an account from Django admin: always with a reason, always through the ledger."""

import uuid

from django.db import transaction

from billing.choices import EntryKind
from billing.exceptions import BillingError
from billing.money import to_money

from .ledger import post_entry


def _reason(reason):
    reason = (reason or "").strip()
    if len(reason) < 5:
        raise BillingError("Give a reason (at least a few words) for the record.", code="reason_required", field="reason")
    return reason


def adjust_balance(*, account, actor, amount, reason, idempotency_key=None):
    """Add (or take, if negative) credits for a support case. Never takes the balance below zero."""
    reason = _reason(reason)
    amount = to_money(amount)
    with transaction.atomic(durable=True):
        return post_entry(
            account_id=account.pk,
            kind=EntryKind.ADJUSTMENT,
            amount=amount,
            idempotency_key=idempotency_key or f"adjustment:{uuid.uuid4()}",
            memo=f"Support adjustment: {reason}",
            actor=actor,
        ).entry


def refund_credits(*, account, actor, amount, reason, idempotency_key=None):
    """Give money back: the credits leave the balance (never below zero)."""
    reason = _reason(reason)
    amount = to_money(amount)
    if amount <= 0:
        raise BillingError("Enter the positive amount to refund.", code="bad_amount", field="amount")
    with transaction.atomic(durable=True):
        return post_entry(
            account_id=account.pk,
            kind=EntryKind.REFUND,
            amount=-amount,
            idempotency_key=idempotency_key or f"refund:{uuid.uuid4()}",
            memo=f"Refund: {reason}",
            actor=actor,
        ).entry
