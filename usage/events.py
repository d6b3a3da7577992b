"""What usage announces, declared here by usage, the sender (notifications maps each to its email).

Each event is a frozen dataclass with a `code` from `UsageEventCode`, sent by `announce()` on
`usage_event` (the payload's class as the sender) inside the transaction of the change that caused it.
"""

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import ClassVar

from django.contrib.auth.base_user import AbstractBaseUser
from django.dispatch import Signal

from billing.models import Organization

# Sent with `event=<one of the payloads below>`; the sender is the payload's class.
usage_event = Signal()


class UsageEventCode(StrEnum):
    EXPORT_READY = "export_ready"
    SPEND_CAP_REACHED = "spend_cap_reached"
    SPEND_INCIDENT_OPENED = "spend_incident_opened"
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
class SpendCapReached(UsageEvent):
    """A spend guard cap was reached (or crossed at "warn only"): once per person (or, for the
    organization's cap, once per organization) per day. The billing admins are told."""

    code = UsageEventCode.SPEND_CAP_REACHED
    crossing_id: int  # one announcement per crossing
    cap: str  # what the cap limits, as people read it ("Cap per person per day")
    who: str  # the person's name and UPN, or "the organization"
    day: date
    limit: Decimal
    spent: Decimal
    currency: str
    stopped: bool  # True: calls charged to credits are refused until the next day or until lifted
    guard_path: str  # the Spend guard page, a path on this site


@dataclass(frozen=True, kw_only=True)
class SpendIncidentOpened(UsageEvent):
    """Spike detection opened an incident (unusual calling): the admins in the billing roles are told
    once; a later import that adds to the open incident announces nothing."""

    code = UsageEventCode.SPEND_INCIDENT_OPENED
    incident_id: int
    kind_label: str
    about: str  # the person's UPN, the country, or the hour
    country: str
    window_start: datetime
    window_end: datetime
    calls: int
    spend: Decimal
    signals: tuple[str, ...]  # what the detectors found, a sentence each
    link_path: str  # the incident's page on this site



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


EVENTS: tuple[type[UsageEvent], ...] = (ExportReady, SpendCapReached, SpendIncidentOpened, ScheduledReportReady)


def announce(event: UsageEvent) -> None:
    """Tell whoever listens, now, inside the caller's transaction."""
    usage_event.send(sender=type(event), event=event)
