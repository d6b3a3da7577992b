"""Billing's Celery tasks. Each takes ids, has a time limit, is safe to run twice, and calls one service.

Periodic ones are declared in settings.CELERY_BEAT_SCHEDULE (one beat process runs them).
"""

import logging

from celery import shared_task
from celery.exceptions import MaxRetriesExceededError

from billing import expiry, recharge, reconciliation

logger = logging.getLogger(__name__)


@shared_task(bind=True, acks_late=True, time_limit=120, soft_time_limit=100, max_retries=recharge.MAX_GATEWAY_CALLS)
def run_auto_recharge_task(self, account_id: int):
    """Recharge one account for its current round (a no-op when nothing is due or the round is done)."""
    try:
        payment = recharge.run_auto_recharge(int(account_id))
    except recharge.TransientRecharge as transient:
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
    """The sweep's batch of accounts, each recharged on its own (see recharge.run_batch)."""
    return recharge.run_batch([int(pk) for pk in account_ids])


@shared_task(time_limit=120, soft_time_limit=100)
def sweep_auto_recharge_task(limit: int = recharge.SWEEP_BATCH):
    """The safety net: every account still below its trigger gets a recharge task."""
    return recharge.sweep(limit=limit)


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
    return recharge.warn_expiring_cards()


@shared_task(time_limit=300, soft_time_limit=270)
def retry_pending_fundings_task():
    """Funding payments that met a transient error, or whose request died mid-call, are finished here."""
    from billing.services.payments import retry_pending_fundings

    return retry_pending_fundings()
