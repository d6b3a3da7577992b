"""Which UsageIds of a batch of records the organization already has, and the statistics that keep
that question cheap on PostgreSQL.

Duplicate detection relies on a UsageId always having the same start time: a chunk outside the time
span of the organization's records cannot hold a duplicate, so new usage (the common case) streams
into one COPY with no check at all. A UsageId repeated far apart in one file meets the unique
constraint instead, and the import starts over checking every chunk; a UsageId imported before with
another start time fails the import with that UsageId named.

Inside the span, chunks are checked ten at a time (CHECK_CHUNKS) by one `usage_id = ANY(array)`
query, which PostgreSQL answers by probing the unique index (organization, UsageId) for each id.
It only does so when its statistics know how many records the organization has: planned on
statistics from before a large load, it read all of the organization's records through a bitmap
instead, about 600 ms a chunk rather than 25. So a large import refreshes them when it ends, and an
import into an organization the planner underestimates refreshes them first (`refresh_statistics`,
outside the import's transaction: ANALYZE in it would hold its lock until the import ends, making
every other organization's ANALYZE wait).
"""

import json

from django.db import connection

from .kinds import Kind

CHECK_CHUNKS = 10  # chunks checked for duplicates by one query
STALE_ROWS = 50_000  # rows an import writes that make the statistics worth refreshing after it


def existing_ids(kind: Kind, organization, records):
    """UsageIds of `records` the organization already has with the same start time. One stored with
    another time is not a duplicate to skip: writing the record meets the unique constraint, and the
    import is refused naming it (see the module's note on start times)."""
    if not records:
        return set()
    time_field = kind.time_field
    table = connection.ops.quote_name(kind.model._meta.db_table)
    if connection.vendor == "postgresql":
        # The ids are canonical UUID text (cleaning.guid), so the array literal needs no quoting; one
        # text parameter is also far cheaper for the driver than a list of 10,000 values.
        ids = "{" + ",".join(r["usage_id"] for r in records) + "}"
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT usage_id::text, {connection.ops.quote_name(time_field)} FROM {table} "
                "WHERE \"organization_id\" = %s AND usage_id = ANY(%s::uuid[])",
                [organization.pk, ids],
            )
            stored = dict(cursor.fetchall())
    else:
        ids = [r["usage_id"] for r in records]
        scope = kind.model.objects.filter(organization=organization)
        stored = {}
        for start in range(0, len(ids), 500):
            stored.update((str(u), t) for u, t in scope.filter(usage_id__in=ids[start : start + 500]).values_list("usage_id", time_field))
    if not stored:
        return set()
    return {r["usage_id"] for r in records if stored.get(r["usage_id"], r) == r[time_field]}


def existing_span(kind: Kind, organization):
    """(first, last) start time of the organization's records, or None: chunks outside need no check."""
    time_field = kind.time_field
    scope = kind.model.objects.filter(organization=organization).order_by(time_field).values_list(time_field, flat=True)
    first = scope.first()
    if first is None:
        return None
    return first, scope.last()


def refresh_statistics(kind: Kind, organization=None, *, written=None):
    """ANALYZE the records table on PostgreSQL, outside any transaction: after an import that wrote
    `written` >= STALE_ROWS rows; or (with `organization`, before its import) when the planner
    underestimates the organization's records (`_stale_for`). SKIP_LOCKED: if another ANALYZE
    (autovacuum's, another import's) is at it, that one does the work."""
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        return False
    table = connection.ops.quote_name(kind.model._meta.db_table)
    with connection.cursor() as cursor:
        if written is not None and written < STALE_ROWS:
            return False
        if written is None and not _stale_for(cursor, table, organization):
            return False
        cursor.execute(f"ANALYZE (SKIP_LOCKED) {table}")
    return True


def _stale_for(cursor, table, organization):
    """Whether the planner thinks the organization has far fewer records than it has: the case that
    made it read them all instead of probing the index. It asks the planner (EXPLAIN, no execution),
    and counts the records up to STALE_ROWS through the organization's index: a few milliseconds,
    where counters of changed rows (pg_stat_user_tables) lag behind the imports that just ended."""
    cursor.execute(f'EXPLAIN (FORMAT JSON) SELECT 1 FROM {table} WHERE "organization_id" = %s', [organization.pk])
    plan = cursor.fetchone()[0]
    if isinstance(plan, str):
        plan = json.loads(plan)
    estimate = plan[0]["Plan"]["Plan Rows"]
    cursor.execute(f'SELECT count(*) FROM (SELECT 1 FROM {table} WHERE "organization_id" = %s LIMIT %s) AS known', [organization.pk, STALE_ROWS])
    actual = cursor.fetchone()[0]
    return actual >= STALE_ROWS // 5 and actual > 4 * estimate
