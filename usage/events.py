"""What usage announces, declared here by usage, the sender (notifications maps each to its email).

Each event is a frozen dataclass with a `code` from `UsageEventCode`, sent by `announce()` on
`usage_event` (the payload's class as the sender) inside the transaction of the change that caused it.
"""

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import ClassVar

from django.contrib.auth.base_user import AbstractBaseUser
from django.dispatch import Signal

from billing.models import Organization

# Sent with `event=<one of the payloads below>`; the sender is the payload's class.
usage_event = Signal()


class UsageEventCode(StrEnum):
    EXPORT_READY = "export_ready"
    SCHEDULED_REPORT_READY = "scheduled_report_ready"


@dataclass(frozen=True, kw_only=True)
class UsageEvent:
    code: ClassVar[UsageEventCode]
    organization: Organization


@dataclass(frozen=True, kw_only=True)
class ExportReady(UsageEvent):
    """A background export is built and can be downloaded, by the admin who asked for it."""

    code = UsageEventCode.EXPORT_READY
    requested_by: AbstractBaseUser | None
    export_id: str  # one announcement per export, however often it is sent
    download_path: str  # a path on this site
    description: str
    row_count: int
    file_name: str
    expires_at: datetime


@dataclass(frozen=True, kw_only=True)
class ScheduledReportReady(UsageEvent):
    """A scheduled report (usage.allocation_data.ReportSubscription) is built for one period: each of
    its recipients gets a link to it in Downloads (one announcement per subscription and period)."""

    code = UsageEventCode.SCHEDULED_REPORT_READY
    recipients: tuple  # the users subscribed (notifications sends only to those still admins here)
    run_id: int
    report: str  # the report's label
    period: str  # e.g. "2026-11-23 to 2026-11-29"
    download_path: str  # a path on this site: the export's page in Downloads
    file_name: str
    expires_at: datetime


EVENTS: tuple[type[UsageEvent], ...] = (ExportReady, ScheduledReportReady)


def announce(event: UsageEvent) -> None:
    """Tell whoever listens, now, inside the caller's transaction."""
    usage_event.send(sender=type(event), event=event)
