"""Credit blocks: a person's calls (or the whole organization's) are not charged to credits."""

from datetime import date, datetime, time, timedelta
from datetime import timezone as dt_timezone

from django.db import transaction
from django.utils import timezone

from ...spend_guard import CreditBlock, GuardChange
from .audit import block_snapshot, record_change
from .validation import GuardError


def next_day_start(day) -> datetime:
    """Midnight (UTC) at the end of `day`: when a cap's stop ends (the last moment a datetime can hold
    for 9999-12-31, a day the API accepts)."""
    if day == date.max:
        return datetime.max.replace(tzinfo=dt_timezone.utc)
    return datetime.combine(day + timedelta(days=1), time.min, tzinfo=dt_timezone.utc)


def block_person(organization, person, *, actor, reason, until=None, incident=None) -> CreditBlock:
    """Stop charging this person's calls to credits from now until `until` (or until lifted); audited."""
    if person is None or person.organization_id != organization.pk:
        raise GuardError({"person": "Choose a person of this organization."})
    now = timezone.now()
    if until is not None and until <= now:
        raise GuardError({"until": "Choose a time in the future, or none to block until lifted."})
    with transaction.atomic():
        block = CreditBlock.objects.create(
            organization=organization,
            person=person,
            reason=(reason or "Blocked by an admin")[:300],
            rule="Credit block by an admin" if incident is None else "Credit block from an incident",
            created_by=actor if actor is not None and actor.is_authenticated else None,
            starts_at=now,
            until=until,
            incident_id=None if incident is None else getattr(incident, "pk", incident),
        )
        record_change(organization, GuardChange.Subject.BLOCK, block.pk, "created", actor=actor, before=None, after=block_snapshot(block), reason=reason or "")
    return block


def block_for_cap(organization, *, person_id, cap, day, starts_at, rule, reason) -> CreditBlock:
    """The block a cap at "stop" makes: until the end of that day (UTC). Made by rating, in the import's
    transaction; audited with no one as the actor."""
    block = CreditBlock.objects.create(
        organization=organization,
        person_id=person_id,
        reason=reason[:300],
        rule=rule[:200],
        cap=cap,
        cap_day=day,
        starts_at=starts_at,
        until=next_day_start(day),
    )
    record_change(organization, GuardChange.Subject.BLOCK, block.pk, "cap reached", actor=None, before=None, after=block_snapshot(block))
    return block


def lift_block(organization, block_id, *, actor) -> CreditBlock:
    """Charge the person's calls to credits again (another organization's id raises DoesNotExist).
    A block a cap made, once lifted, leaves that cap as "warn only" for the rest of its day."""
    with transaction.atomic():
        block = CreditBlock.objects.select_for_update(of=("self",)).select_related("person").get(organization=organization, pk=block_id)
        if block.lifted_at is not None:
            return block
        before = block_snapshot(block)
        block.lifted_at = timezone.now()
        block.lifted_by = actor if actor is not None and actor.is_authenticated else None
        block.save(update_fields=["lifted_at", "lifted_by"])
        record_change(organization, GuardChange.Subject.BLOCK, block.pk, "lifted", actor=actor, before=before, after=block_snapshot(block))
    return block
