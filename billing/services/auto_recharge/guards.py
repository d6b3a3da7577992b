"""Guards checked before a new recharge payment is created, and the pause they (and failures) lead to.

- More than BURST_LIMIT recharges within BURST_WINDOW pause auto-recharge ("burst_guard_paused"),
  since that can mean runaway usage or misuse, until an admin resumes it.
- A monthly cap stops recharges until the next month ("monthly_cap_reached", announced once a month).
"""

from datetime import timedelta

from billing.events import AutoRechargePaused, BurstGuardPaused, MonthlyCapReached, announce
from billing.selectors import month_start, monthly_cap_reached, next_month_start, recharged_this_month

BURST_LIMIT = 3
BURST_WINDOW = timedelta(minutes=10)


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
