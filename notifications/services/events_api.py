"""From what billing (and usage) announce to recorded events: one function per kind of announcement,
each taking the sender's event payload. `notifications.mapping` says which function answers which event."""

from dataclasses import fields

from django.urls import reverse
from django.utils import timezone

from billing.choices import PaymentPurpose
from billing.gateways.base import describe_failure
from billing.models import AutoRechargeState, CreditAccount, Organization
from billing.money import format_money

from .. import kinds, selectors
from .outbox import json_safe, record_event, safe_path


def _account_with_org(account) -> CreditAccount:
    # The signal's account may come without its organization loaded; one query, not one per use.
    if not CreditAccount.organization.is_cached(account):
        account.organization = Organization.objects.get(pk=account.organization_id)
    return account


def payment_succeeded(event):
    payment, receipt = event.payment, event.receipt
    account = _account_with_org(event.account)
    method = payment.payment_method
    return record_event(
        kind=kinds.TRANSACTION_SUCCEEDED,
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


def recharge_failed(event):
    """A failed auto-recharge (a failed funding is shown to the person at the screen instead)."""
    payment = event.payment
    if payment.purpose != PaymentPurpose.RECHARGE:
        return None
    account = _account_with_org(event.account)
    # As the round left it in this transaction: the failure streak, and whether it paused.
    state = AutoRechargeState.objects.get(account_id=account.pk)
    reason, fix = describe_failure(payment.failure_code)
    method = payment.payment_method
    return record_event(
        kind=kinds.RECHARGE_FAILED,
        organization=account.organization,
        account=account,
        dedupe_key=f"payment:{payment.pk}",
        context={
            "amount": payment.amount,
            "failure_code": payment.failure_code,
            "reason": payment.failure_message or reason,
            "fix": fix,
            "paid_with": method.label if method else "",
            "failures_in_a_row": state.consecutive_failures,
            "paused": state.paused_at is not None,
            "link_path": reverse("billing:payment", args=[payment.idempotency_key]),
        },
    )


def balance_depleted(event):
    account, entry = _account_with_org(event.account), event.entry
    return record_event(
        kind=kinds.BALANCE_DEPLETED,
        organization=account.organization,
        account=account,
        balance=entry.balance_after,
        dedupe_key=f"entry:{entry.pk}",
        occurred_at=entry.created_at,
        context={"entry_kind": entry.get_kind_display(), "auto_recharge_enabled": _auto_recharge_on(account)},
    )


def balance_went_down(event) -> bool:
    return event.entry.balance_after < event.previous_balance


def low_balance(event):
    """One warning per downward crossing: a threshold is crossed only when the previous balance was at or
    above it, so no repeat until the balance has risen back to it. Several crossed at once: one email."""
    account, entry = event.account, event.entry
    crossed = list(selectors.crossed_thresholds(account.organization_id, event.previous_balance, entry.balance_after))
    if not crossed:
        return None
    account = _account_with_org(account)
    lowest = crossed[0]
    event = record_event(
        kind=kinds.LOW_BALANCE,
        organization=account.organization,
        account=account,
        balance=entry.balance_after,
        dedupe_key=f"entry:{entry.pk}",
        occurred_at=entry.created_at,
        context={
            "threshold": lowest.amount,
            "thresholds_display": ", ".join(format_money(t.amount, account.currency) for t in reversed(crossed)),
            "auto_recharge_enabled": _auto_recharge_on(account),
        },
    )
    type(lowest).objects.filter(pk__in=[t.pk for t in crossed]).update(last_warned_at=entry.created_at)
    return event


def _auto_recharge_on(account) -> bool:
    return account.auto_recharge_policy.enabled


def payload_context(event) -> dict:
    """The event's own fields (but the account), as the email's context: JSON-safe, so that a kind's
    dedupe key is the same text whether read now or from a stored event."""
    return {f.name: json_safe(getattr(event, f.name)) for f in fields(event) if f.name != "account"}


def announced(kind):
    """The handler of an event whose email says what its payload says: the kind's own dedupe rule applies."""

    def record(event):
        account = _account_with_org(event.account)
        context = payload_context(event)
        if kinds.get(kind).audience == kinds.Audience.SUPPORT:
            context.setdefault("account_id", account.pk)
            context.setdefault("link_path", reverse("admin:billing_creditaccount_change", args=[account.pk]))
        return record_event(kind=kind, organization=account.organization, account=account, context=context)

    record.kind = kind
    return record


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
    """Tell the admin who asked for an export that it is ready, in the transaction that marks it ready
    (usage announces `ExportReady`, which `export_ready` below turns into this call).

    `download_path` is a path on this site (a link elsewhere is refused). Returns the event (with no
    delivery if the person no longer holds an admin role there), or None if this export was announced
    before.
    """
    return record_event(
        kind=kinds.EXPORT_READY,
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


def export_ready(event):
    """Usage's `ExportReady`: its fields are `notify_export_ready`'s arguments."""
    return notify_export_ready(**{f.name: getattr(event, f.name) for f in fields(event)})


def spend_cap_reached(event):
    """Usage's `SpendCapReached`: the billing admins are told, once per person (or organization) per day."""
    organization = event.organization
    account = CreditAccount.objects.select_related("organization").get(organization=organization)
    context = payload_context(event)
    context.pop("organization", None)
    context["link_path"] = safe_path(event.guard_path)
    return record_event(
        kind=kinds.SPEND_CAP_REACHED,
        organization=organization,
        account=account,
        dedupe_key=f"spend-cap:{event.crossing_id}",
        context=context,
    )


def spend_incident_opened(event):
    """Usage's `SpendIncidentOpened`: one alert per incident to the admins in the kind's roles (the billing
    roles unless the organization chose others), linking to the incident's page."""
    context = {f.name: getattr(event, f.name) for f in fields(event) if f.name != "organization"}
    context["signals"] = list(event.signals)
    context["link_path"] = safe_path(event.link_path)
    return record_event(
        kind=kinds.SPEND_INCIDENT,
        organization=event.organization,
        dedupe_key=f"incident:{event.incident_id}",
        occurred_at=timezone.now(),
        context=context,
    )
def scheduled_report_ready(event):
    """Usage's `ScheduledReportReady`: one event per recipient (each sees their own in the Message
    center), sent only to those who still hold an admin role in the organization; the same run
    announced twice records nothing new."""
    recorded = []
    for user in event.recipients:
        recorded.append(
            record_event(
                kind=kinds.SCHEDULED_REPORT,
                organization=event.organization,
                requested_by=user,
                dedupe_key=f"run:{event.run_id}:user:{user.pk}",
                context={
                    "report": event.report,
                    "period": event.period,
                    "file_name": event.file_name,
                    "expires_at": event.expires_at,
                    "link_path": safe_path(event.download_path),
                },
            )
        )
    return recorded
