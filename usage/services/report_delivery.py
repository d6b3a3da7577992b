"""Scheduled reports: subscriptions (who gets which report, weekly or monthly) and their delivery,
run by a Celery beat task (usage.tasks.deliver_scheduled_reports_task).

Delivery, once per subscription and period however often beat runs (or two workers at once):
1. the period is the last complete one (weekly: Monday to Sunday; monthly: the calendar month, UTC);
2. a ReportRun row (unique per subscription and period) claims it: whoever inserts it builds it,
   anyone else finds it there and does nothing;
3. the report is built as an export kept in Downloads for 7 days (the PSTN usage export, or the
   workbook of "Where the credits go"), and `ScheduledReportReady` is announced: notifications
   emails each recipient who is still an admin of the organization a link to it, through the outbox.

A link, not an attachment: the outbox stores an email as text (its context) and re-renders it on
every retry, and a year of calls is far larger than mail servers take (see docs/usage.md).
"""

import calendar
import logging
from datetime import UTC, date, timedelta

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from billing.models import MembershipRole

from ..choices import ExportFormat, RecordKind
from ..events import ScheduledReportReady, announce
from ..models import Export, ReportRun, ReportSubscription
from ..selectors.report import parameters_for
from .exports.jobs import build_export

# As long as the exports asked for on the report page stay in Downloads (exports/requesting.py, which
# imports usage.tasks: importing it here would make a circle through the task of this service).
EXPORT_LIFETIME = timedelta(days=7)

logger = logging.getLogger(__name__)


def admin_ids(organization):
    """Ids of the active users holding an admin role in the organization."""
    return set(
        MembershipRole.objects.filter(membership__organization=organization, membership__user__is_active=True).values_list(
            "membership__user_id", flat=True
        )
    )


def save_subscription(*, organization, actor, report, frequency, recipients) -> ReportSubscription:
    """Create (or replace the recipients of) the organization's subscription to `report` at `frequency`.
    Every recipient must be an admin of this organization (ValidationError otherwise)."""
    if not recipients:
        raise ValidationError({"recipients": "Choose at least one admin to send the report to."})
    allowed = admin_ids(organization)
    strangers = [user for user in recipients if user.pk not in allowed]
    if strangers:
        raise ValidationError({"recipients": "Only admins of this organization can receive its reports."})
    with transaction.atomic():
        subscription, _ = ReportSubscription.objects.get_or_create(
            organization=organization, report=report, frequency=frequency, defaults={"created_by": actor}
        )
        subscription.recipients.set(recipients)
    return subscription


def delete_subscription(*, organization, subscription_id) -> bool:
    deleted, _ = ReportSubscription.objects.filter(organization=organization, pk=subscription_id).delete()
    return bool(deleted)


def last_period(frequency, today: date):
    """(first day, last day) of the last complete week (Monday to Sunday) or calendar month before `today`."""
    if frequency == ReportSubscription.Frequency.WEEKLY:
        monday = today - timedelta(days=today.weekday())
        return monday - timedelta(days=7), monday - timedelta(days=1)
    end = today.replace(day=1) - timedelta(days=1)
    return end.replace(day=1), end


def next_delivery(frequency, today: date) -> date:
    """The day the next period's report is sent (the day after it ends)."""
    if frequency == ReportSubscription.Frequency.WEEKLY:
        return today + timedelta(days=7 - today.weekday())
    days = calendar.monthrange(today.year, today.month)[1]
    return today.replace(day=1) + timedelta(days=days)


def claim(subscription, start, end) -> ReportRun | None:
    """The run of this subscription and period, if this caller is the first to claim it."""
    try:
        with transaction.atomic():
            return ReportRun.objects.create(subscription=subscription, period_start=start, period_end=end)
    except IntegrityError:
        return None


def deliver_due_reports(now=None) -> int:
    """Send every subscription's last complete period that no run has claimed; returns how many were sent."""
    now = now or timezone.now()
    today = now.astimezone(UTC).date()
    sent = 0
    for subscription in ReportSubscription.objects.select_related("organization").order_by("pk"):
        start, end = last_period(subscription.frequency, today)
        if ReportRun.objects.filter(subscription=subscription, period_start=start).exists():
            continue
        run = claim(subscription, start, end)
        if run is None:
            continue  # another beat or worker has it
        try:
            sent += deliver(run, now)
        except Exception as exc:
            logger.exception("Scheduled report run %s failed", run.pk)
            ReportRun.objects.filter(pk=run.pk).update(error=f"The report could not be built ({type(exc).__name__}).")
    return sent


def deliver(run, now) -> int:
    """Build the run's report into Downloads and announce it to the subscription's recipients."""
    subscription = run.subscription
    organization = subscription.organization
    is_allocation = subscription.report == ReportSubscription.Report.ALLOCATION
    export = Export.objects.create(
        organization=organization,
        created_by=None,  # nobody asked: the recipients are told below, not by the export's own email
        kind=RecordKind.PSTN,
        format=ExportFormat.ALLOCATION if is_allocation else ExportFormat.XLSX,
        parameters=parameters_for(RecordKind.PSTN, run.period_start, run.period_end, {}),
        expires_at=now + EXPORT_LIFETIME,
    )
    build_export(export.pk)
    export.refresh_from_db()
    allowed = admin_ids(organization)
    recipients = tuple(user for user in subscription.recipients.order_by("pk") if user.pk in allowed)
    with transaction.atomic():
        ReportRun.objects.filter(pk=run.pk).update(export=export, sent_at=timezone.now(), recipients=len(recipients))
        announce(
            ScheduledReportReady(
                organization=organization,
                recipients=recipients,
                run_id=run.pk,
                report=subscription.get_report_display(),
                period=f"{run.period_start.isoformat()} to {run.period_end.isoformat()}",
                download_path=reverse("usage:export", args=[export.public_id]),
                file_name=export.filename,
                expires_at=export.expires_at,
            )
        )
    return 1

