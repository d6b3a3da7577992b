"""Billing's Celery tasks, and the only place billing enqueues work. Each task takes ids, has a time
limit, is safe to run twice, and calls one service.

Periodic ones are declared in settings.CELERY_BEAT_SCHEDULE (one beat process runs them).
"""

import logging
from functools import partial

from celery import shared_task
from celery.exceptions import MaxRetriesExceededError, SoftTimeLimitExceeded
from django.db import transaction
from kombu.exceptions import KombuError

from billing.choices import PaymentStatus
from billing.services import expiry, payments, reconciliation
from billing.services.auto_recharge import card_expiry, rounds
from credits_site.background import one_connection, send_task

logger = logging.getLogger(__name__)

SWEEP_BATCH = 1000
# Accounts per task in the sweep: a task's own cost is shared, and a thousand due accounts after an
# outage are worked through at the rate the workers allow.
SWEEP_CHUNK = 20


def enqueue_recharge_on_commit(account_id) -> None:
    """After the current transaction commits, ask a worker to run the account's round. A broker outage
    loses nothing: the account stays due in the database and the sweep finds it."""
    transaction.on_commit(partial(send_task, run_auto_recharge_task, (account_id,)))


@shared_task(bind=True, acks_late=True, time_limit=120, soft_time_limit=100, max_retries=rounds.MAX_GATEWAY_CALLS)
def run_auto_recharge_task(self, account_id: int):
    """Recharge one account for its current round (a no-op when nothing is due or the round is done)."""
    try:
        payment = rounds.run_auto_recharge(int(account_id))
    except rounds.TransientRecharge as transient:
        if self.request.is_eager:
            # Run inline (tests, CELERY_TASK_ALWAYS_EAGER): a retry would run at once and raise into the
            # caller's commit. The payment's due time is in the database; the sweep retries it.
            return None
        try:
            raise self.retry(countdown=transient.countdown)
        except MaxRetriesExceededError:
            # The payment keeps its own count and due time in the database; the sweep carries on.
            logger.warning("Auto-recharge of account %s: Celery retries used up; the sweep continues.", account_id)
            return None
    return payment.pk if payment else None


@shared_task(acks_late=True, time_limit=300, soft_time_limit=270)
def run_auto_recharge_batch_task(account_ids: list[int]):
    """The sweep's batch: each account on its own (one account's trouble never stops the others). A
    transient error is retried by a task of its own after its back-off; anything else waits for the
    next sweep, the account being still due."""
    outcome = {"recharged": 0, "waiting": 0, "errors": 0}
    for account_id in (int(pk) for pk in account_ids):
        try:
            payment = rounds.run_auto_recharge(account_id)
        except rounds.TransientRecharge as transient:
            send_task(run_auto_recharge_task, (account_id,), countdown=transient.countdown)
            outcome["waiting"] += 1
        except SoftTimeLimitExceeded:
            raise  # the batch's time is up: the rest wait for the next sweep
        except Exception:  # noqa: BLE001 - logged; the next sweep comes back to this account
            logger.exception("Auto-recharge of account %s failed; the next sweep will try again.", account_id)
            outcome["errors"] += 1
        else:
            outcome["recharged"] += bool(payment and payment.status == PaymentStatus.SUCCEEDED)
    return outcome


@shared_task(time_limit=120, soft_time_limit=100)
def sweep_auto_recharge_task(limit: int = SWEEP_BATCH):
    """The safety net: every account still below its trigger gets a recharge, in tasks of SWEEP_CHUNK
    accounts (a no-op for an account whose round is in hand)."""
    ids = list(rounds.due_accounts()[: int(limit)])
    chunks = [ids[i : i + SWEEP_CHUNK] for i in range(0, len(ids), SWEEP_CHUNK)]
    sent = 0
    try:
        # One connection and producer for the whole sweep.
        with one_connection(run_auto_recharge_batch_task) as producer:
            for chunk in chunks:
                if not send_task(run_auto_recharge_batch_task, (chunk,), producer=producer):
                    break  # the broker is gone: the next sweep tries again, not 50 timeouts now
                sent += len(chunk)
    except (KombuError, OSError):
        logger.exception("The auto-recharge sweep lost the broker after %s of %s accounts.", sent, len(ids))
    if sent < len(ids):
        logger.warning("The auto-recharge sweep could enqueue only %s of %s accounts.", sent, len(ids))
    return len(ids)


@shared_task(time_limit=600, soft_time_limit=540)
def reconcile_ledgers_task():
    """Check every balance against its ledger and every paid payment against its credit; alert support."""
    return len(reconciliation.reconcile())


@shared_task(time_limit=1800, soft_time_limit=1740)
def expire_credits_task():
    """Daily: expire what is left of lots older than 12 months, then warn 30 and 7 days ahead."""
    expired = expiry.expire_lots()
    warned = expiry.warn_expiring_lots()
    return {"expired_accounts": expired, "warned_accounts": warned}


@shared_task(time_limit=1800, soft_time_limit=1740)
def warn_expiring_cards_task():
    """Daily: a card that expires before the next likely recharge is announced, once per card."""
    return card_expiry.warn_expiring_cards()


@shared_task(time_limit=300, soft_time_limit=270)
def retry_pending_fundings_task():
    """Funding payments that met a transient error, or whose request died mid-call, are finished here."""
    return payments.retry_pending_fundings()
