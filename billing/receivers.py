"""Billing listening to itself, so that its rooms never import each other in a circle:

- every new organization gets its credit account, with its auto-recharge policy and state;
- the ledger announces every posting (`EntryPosted`): auto-recharge arms a round on a crossing;
- auto-recharge asks for a round (`arming.round_requested`): it is enqueued through billing/tasks.py
  once the transaction commits.

Unlike notifications' receivers, these are part of the money transaction: an error here rolls it back.
"""

from billing.services.accounts import open_credit_account
from billing.services.auto_recharge import arming
from billing.tasks import enqueue_recharge_on_commit


def on_organization_saved(sender, instance, created, raw=False, **kwargs):
    if created and not raw:
        open_credit_account(instance)


def on_entry_posted(sender, event, **kwargs):
    arming.arm_on_posting(event)


def on_round_requested(sender, account_id, **kwargs):
    enqueue_recharge_on_commit(account_id)
