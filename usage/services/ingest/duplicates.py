"""Which UsageIds of a chunk the organization already has.

Duplicate detection relies on a UsageId always having the same start time: a chunk outside the time
span of the organization's records cannot hold a duplicate, so new usage (the common case) streams
into one COPY with no check at all. A UsageId repeated far apart in one file meets the unique
constraint instead, and the import starts over checking every chunk; a UsageId imported before with
another start time fails the import with that UsageId named.
"""

from .kinds import Kind


def existing_ids(kind: Kind, organization, records):
    """UsageIds of `records` the organization already has (see the module's note on start times)."""
    time_field = kind.time_field
    low = min(r[time_field] for r in records)
    high = max(r[time_field] for r in records)
    scope = kind.model.objects.filter(organization=organization)
    if not scope.filter(**{f"{time_field}__gte": low, f"{time_field}__lte": high}).exists():
        return set()
    ids = [r["usage_id"] for r in records]
    found = set()
    for start in range(0, len(ids), 1000):
        found.update(str(u) for u in scope.filter(usage_id__in=ids[start : start + 1000]).values_list("usage_id", flat=True))
    return found


def existing_span(kind: Kind, organization):
    """(first, last) start time of the organization's records, or None: chunks outside need no check."""
    time_field = kind.time_field
    scope = kind.model.objects.filter(organization=organization).order_by(time_field).values_list(time_field, flat=True)
    first = scope.first()
    if first is None:
        return None
    return first, scope.last()
