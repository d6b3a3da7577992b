"""Guards checked before a new recharge payment is created, and the pause they (and failures) lead to.

- More than BURST_LIMIT recharges within BURST_WINDOW pause auto-recharge ("burst_guard_paused"),
  since that can mean runaway usage or misuse, until an admin resumes it.
- A monthly cap stops recharges until the next month ("monthly_cap_reached", announced once a month).
"""

from datetime import datetime, timedelta
from decimal import Decimal

from django.db.models import Sum
from django.utils import timezone

from billing.choices import PaymentPurpose, PaymentStatus
from billing.events import AutoRechargePaused, BurstGuardPaused, MonthlyCapReached, announce
from billing.models import Payment
from billing.money import ZERO, to_money

BURST_LIMIT = 3
BURST_WINDOW = timedelta(minutes=10)


def month_start(now) -> datetime:
    return now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def next_month_start(now) -> datetime:
    start = month_start(now)
    return start.replace(year=start.year + 1, month=1) if start.month == 12 else start.replace(month=start.month + 1)


def recharged_this_month(account, now) -> Decimal:
    total = Payment.objects.filter(
        account=account,
        purpose=PaymentPurpose.RECHARGE,
        status=PaymentStatus.SUCCEEDED,
        finished_at__gte=month_start(now),
    ).aggregate(total=Sum("amount"))["total"]
    return to_money(total or ZERO)


def monthly_cap_reached(account, policy, now=None) -> bool:
    """True when the next recharge would go over the monthly cap (what the credits page shows)."""
    if policy.monthly_cap is None or policy.amount is None:
        return False
    now = now or timezone.now()
    return recharged_this_month(account, now) + policy.amount > policy.monthly_cap


def burst_window_start(state, now):
    """The last 10 minutes, or less if an admin resumed auto-recharge since."""
    window_start = now - BURST_WINDOW
    if state.resumed_at and state.resumed_at > window_start:
        window_start = state.resumed_at
    return window_start


def pause(state, now, *, reason) -> None:
    """Stop auto-recharge until an admin acts (saved settings, a new card, support's resume or retry)."""
    state.paused_at = now
    state.paused_reason = reason[:300]
    state.save(update_fields=["paused_at", "paused_reason", "updated_at"])


def pause_after_failures(account, state, now, *, payment, reason) -> None:
    pause(state, now, reason=reason)
    announce(
        AutoRechargePaused(
            account=account,
            paused_at=now,
            reason=state.paused_reason,
            failures=state.consecutive_failures,
            failure_code=payment.failure_code,
            failure_message=payment.failure_message,
            payment=payment.idempotency_key,
        )
    )


def stopped_by_guards(account, policy, state, now, recent) -> bool:
    """`recent`: recharges that succeeded inside the burst window. Saves what a guard changed."""
    if recent >= BURST_LIMIT:
        minutes = int(BURST_WINDOW.total_seconds() // 60)
        pause(
            state,
            now,
            reason=(
                f"Paused: {recent} recharges in {minutes} minutes, which can mean runaway usage or misuse. "
                "Check recent usage, then resume auto-recharge."
            ),
        )
        announce(BurstGuardPaused(account=account, paused_at=now, reason=state.paused_reason, recharges=recent, minutes=minutes))
        return True
    if monthly_cap_reached(account, policy, now):
        first_this_month = state.monthly_cap_reached_at is None or state.monthly_cap_reached_at < month_start(now)
        if first_this_month:
            state.monthly_cap_reached_at = now
        state.retry_at = next_month_start(now)
        state.save(update_fields=["monthly_cap_reached_at", "retry_at", "updated_at"])
        if first_this_month:
            announce(
                MonthlyCapReached(
                    account=account,
                    cap=policy.monthly_cap,
                    spent=recharged_this_month(account, now),
                    amount=policy.amount,
                    resumes_at=next_month_start(now),
                )
            )
        return True
    return False
