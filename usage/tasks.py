"""Background work of usage: exports, and their clean-up after 7 days. Tasks take ids; each calls one service."""

from celery import shared_task

from .services.exports import jobs


@shared_task(acks_late=True, time_limit=3 * 3600, soft_time_limit=3 * 3600 - 60)
def build_export_task(export_id: int):
    # A million-row workbook takes minutes; the claim in the service makes a redelivery harmless.
    return jobs.build_export(export_id)


@shared_task(time_limit=600, soft_time_limit=540)
def delete_expired_exports_task():
    return jobs.delete_expired_exports()
