"""Listeners for what billing (and usage) announce. They run inside the sender's transaction.

A failure here must never undo a payment: each event is recorded in a savepoint and, if anything goes
wrong, the error is logged loudly and the money transaction carries on.

Also notifications listening to itself: deliveries recorded (`outbox.deliveries_due`) are enqueued
through notifications/tasks.py once the transaction commits, so that services never import tasks.
"""

import logging
from functools import partial

from django.db import transaction

from . import mapping
from .tasks import enqueue_event_deliveries

logger = logging.getLogger(__name__)


def _guarded(name, record, **kwargs):
    try:
        with transaction.atomic():
            return record(**kwargs)
    except Exception:  # noqa: BLE001 - see the module docstring
        logger.exception("Could not record the %s notification; the change itself went ahead.", name)
        return None


def on_event(sender, event, **kwargs):
    if type(event) not in mapping.HANDLERS:
        # tests/notifications/test_mapping.py keeps this from happening; never let it stop the sender.
        logger.error("No notification is mapped for %s; add it to notifications.mapping.", type(event).__name__)
        return
    handler = mapping.handler_for(event)
    if handler is None:
        return
    _guarded(event.code.replace("_", " "), handler, event=event)


def on_deliveries_due(sender, event_id, delivery_count, **kwargs):
    transaction.on_commit(partial(enqueue_event_deliveries, event_id, delivery_count))
