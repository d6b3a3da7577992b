from datetime import UTC, datetime, timedelta

from django.utils.timesince import timesince

# Any fixed instant: timesince() measures between two datetimes, and a duration has none of its own.
_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


def in_words(duration: timedelta) -> str:
    """A duration as Django says it on pages ("15 minutes", "8 hours", "1 hour, 30 minutes")."""
    return timesince(_EPOCH, _EPOCH + duration)
