"""Background work of usage: exports and their clean-up after 7 days, scheduled reports, and the
retention of old records. Tasks take ids; each calls one service. The only place usage enqueues work."""

from functools import partial

from celery import shared_task
from django.db import transaction

from credits_site.background import send_task

from .services import report_delivery, retention
from .services.exports import jobs


def enqueue_export_on_commit(export_id) -> None:
    """Build the export in the background once the request's transaction commits."""
    transaction.on_commit(partial(send_task, build_export_task, (export_id,)))


@shared_task(acks_late=True, time_limit=3 * 3600, soft_time_limit=3 * 3600 - 60)
def build_export_task(export_id: int):
    # A million-row workbook takes minutes; the claim in the service makes a redelivery harmless.
    return jobs.build_export(export_id)


@shared_task(time_limit=120, soft_time_limit=100)
def build_waiting_exports_task():
    """The safety net run by beat: an export whose task was lost, or whose worker died, is built."""
    ids = jobs.waiting_exports()
    for export_id in ids:
        if not send_task(build_export_task, (export_id,)):
            break  # the broker is still down: the next sweep tries again
    return len(ids)


@shared_task(time_limit=600, soft_time_limit=540)
def delete_expired_exports_task():
    return jobs.delete_expired_exports()


@shared_task(acks_late=True, time_limit=3600, soft_time_limit=3540)
def deliver_scheduled_reports_task():
    """Run by beat (hourly): each subscription's last complete week or month, once (a ReportRun claims it)."""
    return report_delivery.deliver_due_reports()


@shared_task(acks_late=True, time_limit=6 * 3600, soft_time_limit=6 * 3600 - 60)
def purge_expired_usage_task():
    """Run by beat (daily): records past the report's year and the margin leave. A second run (a
    redelivery) finds nothing more to delete; the first run after a long pause deletes many, batched."""
    return retention.purge_expired_usage().records
