"""The reads and the one write of detection: the hourly figures an import adds to (HourlyCalls), and
the baselines, each in one query whatever the size of the import.

Hours are whole numbers here (hours since 1970-01-01 00:00 UTC): cheap to compute for a million
records, to subtract a day (24) from, and to use as dictionary keys.
"""

from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta

from django.db import connection
from django.db.models import Count, Min, Q, Sum
from django.db.models.functions import TruncHour

from billing.money import ZERO

from ...choices import Direction, Rating
from ...models import CallRecord, HourlyCalls
from ..arrays import columns_of

CREDIT_RATINGS = (Rating.CHARGED, Rating.REFUSED)


def hour_of(moment: datetime) -> int:
    return int(moment.timestamp()) // 3600


# The hours a datetime can hold: a record of 0001-01-01 (which the API accepts) has baseline days before
# it, and one of 9999-12-31 23:00 a window ending after it; both are clamped rather than overflowing.
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
FIRST_HOUR = hour_of(datetime.min.replace(tzinfo=UTC))
LAST_HOUR = hour_of(datetime(9999, 12, 31, 23, tzinfo=UTC))


def moment_of(hour: int) -> datetime:
    return EPOCH + timedelta(hours=min(max(hour, FIRST_HOUR), LAST_HOUR))


def save_hourly(organization, by_country) -> None:
    """Add the import's (hour, country) figures to HourlyCalls: one statement (PostgreSQL: the rows as
    arrays, unnested; a year of calls is some 50,000 rows), a row per hour and country."""
    table = HourlyCalls._meta.db_table
    on_conflict = (
        f"ON CONFLICT (organization_id, hour, country) DO UPDATE SET calls = {table}.calls + excluded.calls, "
        f"seconds = {table}.seconds + excluded.seconds, charge = {table}.charge + excluded.charge"
    )
    items = sorted(by_country.items())
    if not items:
        return
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"INSERT INTO {table} (organization_id, hour, country, calls, seconds, charge) "
                "SELECT %s, to_timestamp(h * 3600), c, n, s, m FROM unnest(%s::bigint[], %s::text[], %s::integer[], "
                f"%s::bigint[], %s::numeric[]) AS t(h, c, n, s, m) {on_conflict}",
                [organization.pk, *columns_of([(hour, country, *values) for (hour, country), values in items], {1})],
            )
            return
        adapt = connection.ops.adapt_datetimefield_value
        cursor.executemany(
            f"INSERT INTO {table} (organization_id, hour, country, calls, seconds, charge) VALUES (%s, %s, %s, %s, %s, %s) {on_conflict}",
            [(organization.pk, adapt(moment_of(hour)), country, *values) for (hour, country), values in items],
        )


def history_start(organization) -> int | None:
    """The first hour the organization called out, as far as HourlyCalls knows."""
    first = HourlyCalls.objects.filter(organization=organization).aggregate(first=Min("hour"))["first"]
    return hour_of(first) if first else None


def hourly_figures(organization, first_hour: int, last_hour: int) -> dict:
    """(hour, country) -> [calls, charge] from first_hour to last_hour, both included."""
    rows = HourlyCalls.objects.filter(
        organization=organization, hour__gte=moment_of(first_hour), hour__lte=moment_of(last_hour)
    ).values_list("hour", "country", "calls", "charge")
    return {(hour_of(hour), country): [calls, charge] for hour, country, calls, charge in rows.iterator(chunk_size=5000)}


def first_hours(organization, countries) -> dict:
    """country -> the first hour it was ever called."""
    rows = (
        HourlyCalls.objects.filter(organization=organization, country__in=sorted(countries))
        .values("country")
        .annotate(first=Min("hour"))
        .values_list("country", "first")
    )
    return {country: hour_of(first) for country, first in rows}


def person_figures(organization, person_ids, first_hour: int, last_hour: int) -> dict:
    """(person id, hour) -> [credit calls, charge] of these people from first_hour to last_hour, read from
    the records by the (organization, person, start time) index."""
    if not person_ids:
        return {}
    rows = (
        CallRecord.objects.filter(
            organization=organization,
            person_id__in=sorted(person_ids),
            start_time__gte=moment_of(first_hour),
            start_time__lt=moment_of(last_hour + 1),
            direction=Direction.OUTBOUND,
            rating__in=CREDIT_RATINGS,
        )
        .annotate(hour=TruncHour("start_time"))
        .values("person_id", "hour")
        .annotate(calls=Count("id"), spend=Sum("charge"))
        .values_list("person_id", "hour", "calls", "spend")
    )
    figures = defaultdict(lambda: [0, ZERO])
    for person_id, hour, calls, spend in rows:
        slot = figures[(person_id, hour_of(hour))]
        slot[0] += calls
        slot[1] += spend or ZERO
    return dict(figures)


def batch_person_hours(organization, batch_id, first_hour: int, last_hour: int, *, min_calls, min_spend) -> dict:
    """What SpendWatch tallies, read back from one import's records: (person id, hour) -> [credit calls,
    charge, Counter of countries] of the person-hours that reach min_calls or min_spend. Records carry no
    index on their batch: the (organization, start time) index bounds the read to the import's hours."""
    records = CallRecord.objects.filter(
        organization=organization,
        batch_id=batch_id,
        start_time__gte=moment_of(first_hour),
        start_time__lt=moment_of(last_hour + 1),
        direction=Direction.OUTBOUND,
        rating__in=CREDIT_RATINGS,
        person_id__isnull=False,
    ).annotate(hour=TruncHour("start_time"))
    # The threshold is applied in the database: only the person-hours that reach it come back.
    reached = (
        records.values("person_id", "hour")
        .annotate(calls=Count("id"), spend=Sum("charge"))
        .filter(Q(calls__gte=min_calls) | Q(spend__gte=min_spend))
        .values_list("person_id", "hour", "calls", "spend")
    )
    candidates = {(person_id, hour_of(hour)): [calls, spend or ZERO, Counter()] for person_id, hour, calls, spend in reached}
    if not candidates:
        return {}
    by_country = (
        records.filter(person_id__in=sorted({person_id for person_id, _hour in candidates}))
        .values("person_id", "hour", "external_country")
        .annotate(calls=Count("id"))
        .values_list("person_id", "hour", "external_country", "calls")
    )
    for person_id, hour, country, calls in by_country.iterator():
        slot = candidates.get((person_id, hour_of(hour)))
        if slot is not None:
            slot[2][country] += calls
    return candidates
