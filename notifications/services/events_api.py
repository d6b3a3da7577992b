"""From what billing (and usage) announce to recorded events: one function per announcement."""

import logging

from django.urls import reverse
from django.utils import timezone

from billing.choices import PaymentPurpose
from billing.gateways.base import describe_failure
from billing.models import CreditAccount, Organization
from billing.money import format_money

from .. import events, selectors
from .outbox import record_event, safe_path

logger = logging.getLogger(__name__)


def _account_with_org(account) -> CreditAccount:
    # The signal's account may come without its organization loaded; one query, not one per use.
    if not CreditAccount.organization.is_cached(account):
        account.organization = Organization.objects.get(pk=account.organization_id)
    return account


def payment_succeeded(payment, receipt):
    account = _account_with_org(payment.account)
    method = payment.payment_method
    return record_event(
        kind=events.TRANSACTION_SUCCEEDED,
        organization=account.organization,
        account=account,
        # The payment's account was read before the credit was posted: the receipt's entry has the balance.
        balance=receipt.entry.balance_after,
        dedupe_key=f"payment:{payment.pk}",
        context={
            "purpose": payment.purpose,
            "purpose_label": "Auto-recharge" if payment.purpose == PaymentPurpose.RECHARGE else "Funds added",
            "amount": payment.amount,
            "paid_with": method.label if method else "",
            "purchase_order": payment.purchase_order,
            "receipt_number": receipt.number,
            "link_path": reverse("billing:receipt", args=[receipt.number]),
        },
    )


def recharge_failed(payment):
    """A failed auto-recharge (a failed funding is shown to the person at the screen instead)."""
    if payment.purpose != PaymentPurpose.RECHARGE:
        return None
    account = _account_with_org(CreditAccount.objects.get(pk=payment.account_id))
    reason, fix = describe_failure(payment.failure_code)
    method = payment.payment_method
    return record_event(
        kind=events.RECHARGE_FAILED,
        organization=account.organization,
        account=account,
        dedupe_key=f"payment:{payment.pk}",
        context={
            "amount": payment.amount,
            "failure_code": payment.failure_code,
            "reason": payment.failure_message or reason,
            "fix": fix,
            "paid_with": method.label if method else "",
            "failures_in_a_row": account.consecutive_recharge_failures,
            "paused": account.auto_recharge_paused_at is not None,
            "link_path": reverse("billing:payment", args=[payment.idempotency_key]),
        },
    )


def balance_depleted(account, entry):
    account = _account_with_org(account)
    return record_event(
        kind=events.BALANCE_DEPLETED,
        organization=account.organization,
        account=account,
        balance=entry.balance_after,
        dedupe_key=f"entry:{entry.pk}",
        occurred_at=entry.created_at,
        context={"entry_kind": entry.get_kind_display(), "auto_recharge_enabled": account.auto_recharge_enabled},
    )


def low_balance(account, entry, crossed=None, previous_balance=None):
    """One warning per downward crossing: a threshold is crossed only when the previous balance was at or
    above it, so no repeat until the balance has risen back to it. Several crossed at once: one email."""
    if crossed is None:
        crossed = list(selectors.crossed_thresholds(account.organization_id, previous_balance, entry.balance_after))
    if not crossed:
        return None
    account = _account_with_org(account)
    lowest = crossed[0]
    event = record_event(
        kind=events.LOW_BALANCE,
        organization=account.organization,
        account=account,
        balance=entry.balance_after,
        dedupe_key=f"entry:{entry.pk}",
        occurred_at=entry.created_at,
        context={
            "threshold": lowest.amount,
            "thresholds_display": ", ".join(format_money(t.amount, account.currency) for t in reversed(crossed)),
            "auto_recharge_enabled": account.auto_recharge_enabled,
        },
    )
    type(lowest).objects.filter(pk__in=[t.pk for t in crossed]).update(last_warned_at=entry.created_at)
    return event


def auto_recharge_event(account, event, context):
    """Any event of the auto-recharge engine that the registry knows; unknown codes are logged, not fatal."""
    event_type = events.get(event)
    if event_type is None:
        logger.warning("No notification is registered for auto-recharge event %r; add it to notifications.events.", event)
        return None
    account = _account_with_org(account)
    context = dict(context or {})
    if event == "auto_recharge_paused":
        context.setdefault("reason", account.auto_recharge_paused_reason)
    if event_type.audience == events.Audience.SUPPORT:
        context.setdefault("account_id", account.pk)
        context.setdefault("link_path", reverse("admin:billing_creditaccount_change", args=[account.pk]))
    return record_event(kind=event, organization=account.organization, account=account, context=context)


def notify_export_ready(
    *,
    organization,
    requested_by,
    export_id,
    download_path,
    description="",
    row_count=None,
    file_name="",
    expires_at=None,
):
    """Tell the admin who asked for an export that it is ready. Call it (or send `usage.signals.export_ready`
    with the same keyword arguments) in the transaction that marks the export ready.

    `download_path` is a path on this site (e.g. reverse("usage:export_download", args=[export.pk])).
    Returns the event (with no delivery if the person no longer holds an admin role there), or None if
    this export was announced before.
    """
    return record_event(
        kind=events.EXPORT_READY,
        organization=organization,
        requested_by=requested_by,
        dedupe_key=f"export:{export_id}",
        occurred_at=timezone.now(),
        context={
            "export_id": export_id,
            "description": description or "Your export",
            "row_count": row_count,
            "file_name": file_name,
            "expires_at": expires_at,
            "link_path": safe_path(download_path),
        },
    )
