"""Credits expire 12 months after purchase: what is left of a lot then is forfeited, with a ledger entry.

Run daily (`expire_credits_task`). Each lot has one expiry entry at most (key `expiry:lot:<id>`), so a
run repeated or overlapping another posts nothing twice. Warnings go out 30 and 7 days ahead, once each
per lot, grouped per account, for amounts worth mentioning (EXPIRY_WARNING_MINIMUM or more).

Events: `CreditsExpired` after the expiry entries are posted; `CreditsExpiring` with the days left
until the earliest of the lots warned about (rounded up), notice 30 or 7.
"""

import logging
import math
from collections import defaultdict
from datetime import timedelta
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from billing.choices import EntryKind
from billing.events import CreditsExpired, CreditsExpiring, announce
from billing.exceptions import BillingError
from billing.models import CreditLot
from billing.money import ZERO

from .ledger import lock_account, post_entry

logger = logging.getLogger(__name__)

EXPIRY_WARNING_MINIMUM = Decimal("1.00")
WARNING_NOTICES = (7, 30)  # the nearer first: a lot inside 7 days gets that warning, not a late 30-day one


def expire_lots(now=None) -> int:
    """Expire every lot past its date with something left. Returns the number of accounts touched."""
    now = now or timezone.now()
    account_ids = (
        CreditLot.objects.filter(expires_at__lte=now, remaining__gt=0)
        .values_list("account_id", flat=True)
        .distinct()
        .order_by("account_id")
    )
    touched = 0
    for account_id in list(account_ids):
        try:
            if expire_account_lots(account_id, now):
                touched += 1
        except BillingError:
            # The lots and the balance disagree; reconciliation reports it. The other accounts go on.
            logger.exception("Could not expire the lots of account %s.", account_id)
    return touched


def expire_account_lots(account_id, now=None) -> Decimal:
    """Expire one account's due lots in one transaction; returns the amount forfeited."""
    now = now or timezone.now()
    with transaction.atomic(durable=True):
        # The account's row lock first (as post_entry takes it), so no usage charge draws these lots meanwhile.
        account = lock_account(account_id)
        lots = list(CreditLot.objects.filter(account=account, expires_at__lte=now, remaining__gt=0).order_by("expires_at", "pk"))
        total = ZERO
        for lot in lots:
            posting = post_entry(
                account_id=account.pk,
                kind=EntryKind.EXPIRY,
                amount=-lot.remaining,
                idempotency_key=f"expiry:lot:{lot.pk}",
                memo=f"Expired: what was left of credits bought {lot.purchased_at:%Y-%m-%d} (12 months)",
                reference=f"lot:{lot.pk}",
                lot=lot,
                at=now,
            )
            if posting.created:
                total += -posting.entry.amount
        if total:
            account.refresh_from_db()
            announce(CreditsExpired(account=account, amount=total, lots=len(lots)))
        return total


def warn_expiring_lots(now=None) -> int:
    """Warn 30 and 7 days ahead of an expiry worth mentioning. Returns the number of warnings sent."""
    now = now or timezone.now()
    sent = 0
    for notice in WARNING_NOTICES:
        field = f"warned_{notice}_days_at"
        due = CreditLot.objects.filter(
            expires_at__gt=now, expires_at__lte=now + timedelta(days=notice), remaining__gt=0, **{f"{field}__isnull": True}
        )
        by_account = defaultdict(list)
        for lot_id, account_id in due.values_list("pk", "account_id"):
            by_account[account_id].append(lot_id)
        for account_id, lot_ids in sorted(by_account.items()):
            sent += _warn_account(account_id, lot_ids, notice, now)
    return sent


def _warn_account(account_id, lot_ids, notice, now) -> int:
    with transaction.atomic():
        account = lock_account(account_id)
        lots = list(CreditLot.objects.filter(pk__in=lot_ids, remaining__gt=0).order_by("expires_at"))
        if not lots:
            return 0
        ids = [lot.pk for lot in lots]
        CreditLot.objects.filter(pk__in=ids).update(**{f"warned_{notice}_days_at": now})
        if notice == 7:
            # A lot warned 7 days ahead needs no late 30-day warning (e.g. after the task was down).
            CreditLot.objects.filter(pk__in=ids, warned_30_days_at__isnull=True).update(warned_30_days_at=now)
        amount = sum((lot.remaining for lot in lots), ZERO)
        if amount < EXPIRY_WARNING_MINIMUM:
            return 0
        earliest = lots[0].expires_at
        days = max(1, math.ceil((earliest - now).total_seconds() / 86400))
        announce(CreditsExpiring(account=account, days=days, amount=amount, expires_at=earliest, notice=notice))
        return 1
