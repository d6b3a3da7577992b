import logging

from celery import shared_task

from billing import recharge
from billing.reconciliation import find_mismatches

logger = logging.getLogger(__name__)


@shared_task(bind=True, acks_late=True, time_limit=120, soft_time_limit=100, max_retries=recharge.MAX_TRANSIENT_RETRIES)
def run_auto_recharge_task(self, account_id: int):
    try:
        payment = recharge.run_auto_recharge(int(account_id))
    except recharge.TransientRecharge as transient:
        raise self.retry(countdown=transient.countdown)
    return payment.pk if payment else None


@shared_task(time_limit=120, soft_time_limit=100)
def sweep_auto_recharge_task(limit: int = 1000):
    """The safety net: accounts still below their trigger get a recharge task (a no-op if one ran)."""
    ids = list(recharge.due_accounts().values_list("pk", flat=True)[:limit])
    for account_id in ids:
        run_auto_recharge_task.delay(account_id)
    return len(ids)


@shared_task(time_limit=600, soft_time_limit=540)
def reconcile_ledgers_task():
    mismatches = find_mismatches()
    for mismatch in mismatches:
        logger.error("Ledger mismatch on account %s: %s", mismatch.account_id, mismatch.problem)
    return len(mismatches)
