"""Arming: when a round of auto-recharge starts, and how one is asked for.

A round starts when the balance crosses below the trigger (told by the ledger's `EntryPosted`, which
`arm_on_posting` receives under the account's row lock), and again when an admin acts
(`state.rearm`). A round is asked for with `request_round`: billing's receivers (billing/receivers.py) enqueue it
through billing/tasks.py once the transaction commits. A broker outage loses nothing: the state
stays due in the database and the sweep finds it.
"""

from django.db.models import F, Q
from django.dispatch import Signal

from billing.events import EntryPosted
from billing.models import AutoRechargeState

# Sent with `account_id`: this account has a round to run once the current transaction commits.
round_requested = Signal()


def request_round(account_id) -> None:
    round_requested.send(sender=AutoRechargeState, account_id=account_id)


def track_trigger(policy, state, balance, at) -> list[str]:
    """Keep `state.due_since` and `state.crossing` in step with the balance and the trigger; returns
    the state's fields changed (not saved). A downward crossing is counted once and asks for a round.
    """
    if not policy.enabled or policy.trigger is None:
        if state.due_since is not None:
            state.due_since = None
            return ["due_since"]
        return []
    below_now = balance < policy.trigger
    if below_now and state.due_since is None:
        state.due_since = at
        state.crossing += 1
        # A new crossing is a new round: an old cool-down or back-off does not delay it.
        state.retry_at = None
        request_round(state.account_id)
        return ["due_since", "crossing", "retry_at"]
    if not below_now and state.due_since is not None:
        state.due_since = None
        return ["due_since"]
    return []


def arm_on_posting(event: EntryPosted) -> None:
    """The ledger posted an entry (the account's row is locked): start a round on a downward crossing,
    end the wait once the balance is back at or above the trigger.

    One conditional UPDATE and no read: this runs for every posting, most of which change nothing.
    It keeps what `track_trigger` keeps (the two must agree; tests/billing pin both).
    """
    balance = event.account.balance
    at = event.entry.created_at
    states = AutoRechargeState.objects.filter(account_id=event.account.pk)
    below = Q(account__auto_recharge_policy__enabled=True, account__auto_recharge_policy__trigger__gt=balance)
    if event.entry.amount < 0:
        armed = states.filter(below, due_since__isnull=True).update(
            due_since=at, crossing=F("crossing") + 1, retry_at=None, updated_at=at
        )
        if armed:
            request_round(event.account.pk)
    else:
        states.filter(~below, due_since__isnull=False).update(due_since=None, updated_at=at)
