"""Reading and changing an account's auto-recharge state: always under the account's row lock."""

from billing.models import CreditAccount
from billing.services.ledger import lock_account


def lock_with_auto_recharge(account_id) -> CreditAccount:
    """The account row locked (as the ledger locks it), then read with its organization, policy and
    state. Policy and state change only under this lock."""
    lock_account(account_id)
    # Read in a statement of its own once the lock is held: rows joined to the locked one in the
    # locking statement would be read as they were before a waiting lock was granted (PostgreSQL
    # re-reads only the locked row), so a round could act on the state the previous one left behind.
    return CreditAccount.objects.select_related(
        "organization", "auto_recharge_policy__payment_method", "auto_recharge_state"
    ).get(pk=account_id)


def rearm(state, now) -> list[str]:
    """An admin acted (new card, saved settings, resume, retry): forget the failure streak and the
    cool-down so that the next round starts at once. Returns the fields changed (not saved)."""
    if state.paused_at is not None:
        state.resumed_at = now
    state.paused_at = None
    state.paused_reason = ""
    state.consecutive_failures = 0
    state.retry_at = None
    return ["paused_at", "paused_reason", "consecutive_failures", "retry_at", "resumed_at"]
