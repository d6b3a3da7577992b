"""Celery tasks: they take ids, have time limits, and may run any number of times (claims decide).
The only place notifications enqueues work."""

import math

from celery import shared_task
from django.utils import timezone

from credits_site.background import send_task

from . import conf
from .services.delivery import send_event_deliveries, send_pending_deliveries


def enqueue_event_deliveries(event_id, delivery_count=1) -> None:
    """Ask Celery to send the event's deliveries, in parallel copies for a large event (each claims its
    own batch). If the broker is down the rows wait for the sweep."""
    copies = max(1, min(conf.parallel_sends(), math.ceil(delivery_count / conf.batch_size())))
    for _ in range(copies):
        if not send_task(send_event_deliveries_task, (event_id,)):
            return


@shared_task(bind=True, acks_late=True, time_limit=180, soft_time_limit=150, max_retries=None)
def send_event_deliveries_task(self, event_id: int):
    """Send one event's due deliveries; retry with back-off while some wait after an SMTP error."""
    run = send_event_deliveries(int(event_id), budget_seconds=60)
    if run.more_due:
        send_task(send_event_deliveries_task, (event_id,))
    elif run.next_due_at is not None and self.request.retries < conf.max_attempts() + 2:
        countdown = max(0.0, (run.next_due_at - timezone.now()).total_seconds()) + 0.5
        # The due time lives in the database; this countdown only wakes a worker at about that time,
        # and the sweep sends it anyway if this message is lost.
        raise self.retry(countdown=countdown)
    return run.sent


@shared_task(time_limit=120, soft_time_limit=100)
def send_pending_deliveries_task():
    """The safety net run by beat: deliveries whose task was lost (a broker outage), retries, dead claims."""
    run = send_pending_deliveries(budget_seconds=50)
    return run.sent
