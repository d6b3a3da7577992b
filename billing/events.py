"""What billing announces, declared here by billing, the sender.

Each event is a frozen dataclass (its payload) with a `code` from `BillingEventCode`. `announce()`
sends it on `billing_event`, with the payload's class as the sender, inside the transaction of the
change that caused it: a receiver records what it needs in that same transaction (notifications: an
outbox row), so a rollback takes it back. Billing never knows who listens; notifications maps every
event here to its email (`notifications.mapping`), and a test fails when one is left unmapped.

Amounts are Decimals in the account's currency; times are aware datetimes.
"""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import ClassVar

from django.dispatch import Signal

from billing.models import CreditAccount, LedgerEntry, Payment, PaymentMethod, Receipt

# Sent with `event=<one of the payloads below>`; the sender is the payload's class.
billing_event = Signal()


class BillingEventCode(StrEnum):
    ENTRY_POSTED = "entry_posted"
    BALANCE_DEPLETED = "balance_depleted"
    PAYMENT_SUCCEEDED = "payment_succeeded"
    PAYMENT_FAILED = "payment_failed"
    AUTO_RECHARGE_PAUSED = "auto_recharge_paused"
    BURST_GUARD_PAUSED = "burst_guard_paused"
    AUTO_RECHARGE_REARMED = "auto_recharge_rearmed"
    MONTHLY_CAP_REACHED = "monthly_cap_reached"
    CARD_EXPIRES_BEFORE_NEXT_RECHARGE = "card_expires_before_next_recharge"
    CREDITS_EXPIRING = "credits_expiring"
    CREDITS_EXPIRED = "credits_expired"
    RECONCILIATION_MISMATCH = "reconciliation_mismatch"


@dataclass(frozen=True, kw_only=True)
class BillingEvent:
    code: ClassVar[BillingEventCode]
    account: CreditAccount


@dataclass(frozen=True, kw_only=True)
class EntryPosted(BillingEvent):
    """Any ledger entry; `account.balance` is already the entry's `balance_after`."""

    code = BillingEventCode.ENTRY_POSTED
    entry: LedgerEntry
    previous_balance: Decimal


@dataclass(frozen=True, kw_only=True)
class BalanceDepleted(BillingEvent):
    """The balance reached zero or less from above zero: calls charged to credits stop."""

    code = BillingEventCode.BALANCE_DEPLETED
    entry: LedgerEntry


@dataclass(frozen=True, kw_only=True)
class PaymentSucceeded(BillingEvent):
    """A funding or a recharge was paid and credited, with its receipt."""

    code = BillingEventCode.PAYMENT_SUCCEEDED
    payment: Payment
    receipt: Receipt


@dataclass(frozen=True, kw_only=True)
class PaymentFailed(BillingEvent):
    """A funding or a recharge failed for good (`payment.failure_code`, `payment.failure_message`).
    Auto-recharge announces only the first failure of a streak."""

    code = BillingEventCode.PAYMENT_FAILED
    payment: Payment


@dataclass(frozen=True, kw_only=True)
class AutoRechargePaused(BillingEvent):
    """Paused after failed recharges in a row, until an admin acts."""

    code = BillingEventCode.AUTO_RECHARGE_PAUSED
    paused_at: datetime
    reason: str
    failures: int
    failure_code: str
    failure_message: str
    payment: str  # the failed payment's idempotency key


@dataclass(frozen=True, kw_only=True)
class BurstGuardPaused(BillingEvent):
    """Paused after an unusual burst of recharges (runaway usage or misuse)."""

    code = BillingEventCode.BURST_GUARD_PAUSED
    paused_at: datetime
    reason: str
    recharges: int
    minutes: int


@dataclass(frozen=True, kw_only=True)
class AutoRechargeRearmed(BillingEvent):
    """A new card replaced a failing (or missing) one and auto-recharge starts again with it."""

    code = BillingEventCode.AUTO_RECHARGE_REARMED
    payment_method: PaymentMethod


@dataclass(frozen=True, kw_only=True)
class MonthlyCapReached(BillingEvent):
    """No more recharges this month (announced once a month)."""

    code = BillingEventCode.MONTHLY_CAP_REACHED
    cap: Decimal
    spent: Decimal
    amount: Decimal
    resumes_at: datetime


@dataclass(frozen=True, kw_only=True)
class CardExpiresBeforeNextRecharge(BillingEvent):
    """The card auto-recharge charges expires before the next likely recharge (once per card)."""

    code = BillingEventCode.CARD_EXPIRES_BEFORE_NEXT_RECHARGE
    card: str  # the card's label, e.g. "Visa ending in 4242 (expires 01/2027)"
    expires: str  # MM/YYYY
    next_recharge_at: datetime | None
    message: str


@dataclass(frozen=True, kw_only=True)
class CreditsExpiring(BillingEvent):
    """Credits expire in `days` days (warned `notice` = 30 and 7 days ahead, once each)."""

    code = BillingEventCode.CREDITS_EXPIRING
    days: int
    amount: Decimal
    expires_at: datetime
    notice: int


@dataclass(frozen=True, kw_only=True)
class CreditsExpired(BillingEvent):
    """What was left of lots bought 12 months ago was forfeited."""

    code = BillingEventCode.CREDITS_EXPIRED
    amount: Decimal
    lots: int


@dataclass(frozen=True, kw_only=True)
class ReconciliationMismatchFound(BillingEvent):
    """The periodic reconciliation found new problems on this account (for support staff)."""

    code = BillingEventCode.RECONCILIATION_MISMATCH
    problems: tuple[str, ...]


EVENTS: tuple[type[BillingEvent], ...] = (
    EntryPosted,
    BalanceDepleted,
    PaymentSucceeded,
    PaymentFailed,
    AutoRechargePaused,
    BurstGuardPaused,
    AutoRechargeRearmed,
    MonthlyCapReached,
    CardExpiresBeforeNextRecharge,
    CreditsExpiring,
    CreditsExpired,
    ReconciliationMismatchFound,
)


def announce(event: BillingEvent) -> None:
    """Tell whoever listens, now, inside the caller's transaction."""
    billing_event.send(sender=type(event), event=event)
