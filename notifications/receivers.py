"""Listeners for what billing (and usage) announce. They run inside the sender's transaction.

A failure here must never undo a payment: each listener records its event in a savepoint and, if
anything goes wrong, logs the error loudly and lets the money transaction carry on.
"""

import logging

from django.db import transaction

from . import selectors
from .services import events_api

logger = logging.getLogger(__name__)


def _guarded(name, record, **kwargs):
    try:
        with transaction.atomic():
            return record(**kwargs)
    except Exception:  # noqa: BLE001 - see the module docstring
        logger.exception("Could not record the %s notification; the change itself went ahead.", name)
        return None


def on_payment_succeeded(sender, payment, receipt, **kwargs):
    _guarded("transaction succeeded", events_api.payment_succeeded, payment=payment, receipt=receipt)


def on_payment_failed(sender, payment, **kwargs):
    _guarded("recharge failed", events_api.recharge_failed, payment=payment)


def on_balance_depleted(sender, account, entry, **kwargs):
    _guarded("balance reached zero", events_api.balance_depleted, account=account, entry=entry)


def on_ledger_entry_posted(sender, account, entry, previous_balance, **kwargs):
    # Every usage charge passes here: one indexed read, and a savepoint only when a threshold is crossed.
    if entry.balance_after >= previous_balance:
        return
    crossed = list(selectors.crossed_thresholds(account.organization_id, previous_balance, entry.balance_after))
    if crossed:
        _guarded("low balance", events_api.low_balance, account=account, entry=entry, crossed=crossed)


def on_auto_recharge_event(sender, account, event, context=None, **kwargs):
    _guarded(event, events_api.auto_recharge_event, account=account, event=event, context=context or {})


def on_export_ready(sender, **kwargs):
    kwargs.pop("signal", None)  # Django's own keyword, not part of the export's description
    _guarded("export ready", events_api.notify_export_ready, **kwargs)
