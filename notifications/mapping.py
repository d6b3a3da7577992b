"""Every event that another app announces, mapped to what notifications records for it (its email).

The senders declare their events (billing/events.py, usage/events.py); this is the one place that
says what each becomes. tests/notifications/test_mapping.py fails when an event is left unmapped or
a line here names something that is not an event.
"""

from billing import events as billing
from usage import events as usage

from .kinds import (
    AUTO_RECHARGE_PAUSED,
    AUTO_RECHARGE_REARMED,
    BURST_GUARD_PAUSED,
    CARD_EXPIRES_BEFORE_NEXT_RECHARGE,
    CREDITS_EXPIRED,
    CREDITS_EXPIRING,
    MONTHLY_CAP_REACHED,
    RECONCILIATION_MISMATCH,
)
from .services import events_api

# A test that needs no database, made before the receiver opens a savepoint: most events of the kind
# need no email (every ledger entry is an `EntryPosted`; few cross a low-balance threshold).
ONLY_IF = {
    billing.EntryPosted: events_api.balance_went_down,
    # A scheduled report's export was asked for by nobody: its recipients hear of it by ScheduledReportReady.
    usage.ExportReady: lambda event: event.requested_by is not None,
}

HANDLERS = {
    # A low-balance warning when the entry crosses one of the organization's thresholds.
    billing.EntryPosted: events_api.low_balance,
    billing.BalanceDepleted: events_api.balance_depleted,
    billing.PaymentSucceeded: events_api.payment_succeeded,
    # A failed auto-recharge; a failed funding is shown to the person at the screen instead.
    billing.PaymentFailed: events_api.recharge_failed,
    billing.AutoRechargePaused: events_api.announced(AUTO_RECHARGE_PAUSED),
    billing.BurstGuardPaused: events_api.announced(BURST_GUARD_PAUSED),
    billing.AutoRechargeRearmed: events_api.announced(AUTO_RECHARGE_REARMED),
    billing.MonthlyCapReached: events_api.announced(MONTHLY_CAP_REACHED),
    billing.CardExpiresBeforeNextRecharge: events_api.announced(CARD_EXPIRES_BEFORE_NEXT_RECHARGE),
    billing.CreditsExpiring: events_api.announced(CREDITS_EXPIRING),
    billing.CreditsExpired: events_api.announced(CREDITS_EXPIRED),
    billing.ReconciliationMismatchFound: events_api.announced(RECONCILIATION_MISMATCH),
    usage.ExportReady: events_api.export_ready,
    usage.SpendCapReached: events_api.spend_cap_reached,
    usage.SpendIncidentOpened: events_api.spend_incident_opened,
    usage.ScheduledReportReady: events_api.scheduled_report_ready,
}


def handler_for(event):
    """What records `event`, or None when the event needs nothing recorded (or, against the tests, is unmapped)."""
    wanted = ONLY_IF.get(type(event))
    if wanted is not None and not wanted(event):
        return None
    return HANDLERS.get(type(event))
