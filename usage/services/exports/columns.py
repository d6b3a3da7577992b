"""The export's columns, per kind of record, and the kind of value each field holds."""

from datetime import UTC

from ...choices import RecordKind
from ...columns import PSTN_EXPORT_COLUMNS, SMS_EXPORT_COLUMNS

COLUMNS = {RecordKind.PSTN: PSTN_EXPORT_COLUMNS, RecordKind.SMS: SMS_EXPORT_COLUMNS}
MONEY_FIELDS = frozenset({"charge", "connection_fee"})
TIME_VALUE_FIELDS = frozenset({"start_time", "end_time", "sent_time"})
INTEGER_FIELDS = frozenset({"duration_seconds", "segments"})
# Rows fetched at a time from the server-side cursor.
FETCH_CHUNK = 5_000


def iso_time(moment):
    """UTC ISO 8601 with microseconds, as the original writes its times (2019-11-01T00:00:08.258993Z)."""
    if moment is None:
        return ""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
