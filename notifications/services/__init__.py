"""Every write of notifications that matters, one function per use case."""

from .delivery import DeliveryRun, send_event_deliveries, send_pending_deliveries
from .events_api import notify_export_ready
from .outbox import UnknownEvent, record_event
from .preferences import (
    NotificationSettingsError,
    add_low_balance_threshold,
    remove_low_balance_threshold,
    set_role_preferences,
)
from .support import resend_delivery, retry_now

__all__ = [
    "DeliveryRun",
    "NotificationSettingsError",
    "UnknownEvent",
    "add_low_balance_threshold",
    "notify_export_ready",
    "record_event",
    "remove_low_balance_threshold",
    "resend_delivery",
    "retry_now",
    "send_event_deliveries",
    "send_pending_deliveries",
    "set_role_preferences",
]
