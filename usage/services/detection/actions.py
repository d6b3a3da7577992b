"""The one-click answers to an incident, as the incident page offers them: what each does, when it is
possible, and running it (through detection's services and the spend guard's)."""

from collections.abc import Callable
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from ...models import IncidentStatus
from ...spend_guard import CreditBlock, DestinationRule, GuardScope, RuleAction
from ..guard import block_destination, block_person
from .incidents import dismiss_incident, mark_actioned


@dataclass(frozen=True)
class IncidentAction:
    name: str  # also the URL name, in the `incidents` namespace
    title: str  # the confirmation page's heading
    button: str
    explanation: str
    possible: Callable
    impossible: str
    run_with: Callable

    def impossible_text(self, incident):
        return self.impossible.format(incident=incident)

    def run(self, organization, incident, *, actor, note=""):
        return self.run_with(organization, incident, actor, note)


def _dismiss(organization, incident, actor, note):
    dismiss_incident(organization, incident.pk, actor=actor, note=note)
    return "Incident dismissed as expected. A later burst opens a new incident and a new alert."


def person_block(incident) -> CreditBlock | None:
    """The block (by an admin or a cap) that stops the incident's person's credit calls now, if any."""
    if incident.person_id is None:
        return None
    now = timezone.now()
    return CreditBlock.objects.filter(
        Q(until__isnull=True) | Q(until__gt=now), organization_id=incident.organization_id, person_id=incident.person_id,
        lifted_at__isnull=True, starts_at__lte=now,
    ).first()


def person_blocked(incident) -> bool:
    """Whether the incident's person is already blocked (by an admin or a cap), now."""
    return person_block(incident) is not None


def destination_blocked(incident) -> bool:
    """Whether an organization rule blocks every call to the incident's country already."""
    return DestinationRule.objects.filter(
        organization_id=incident.organization_id, scope=GuardScope.ORGANIZATION, action=RuleAction.BLOCK,
        country=incident.country, number_type="", prefix="", lifted_at__isnull=True,
    ).exists()


def _block_person(organization, incident, actor, note):
    reason = f"Incident {incident.pk}: {incident.get_kind_display().lower()}" + (f" ({note})" if note else "")
    with transaction.atomic():
        block_person(organization, incident.person, actor=actor, reason=reason, incident=incident)
        mark_actioned(organization, incident.pk, actor=actor, resolution=f"Credit calls of {incident.upn} blocked until lifted.")
    return f"{incident.upn}'s calls are no longer charged to credits, until an admin lifts the block on the Spend guard page."


def _block_destination(organization, incident, actor, note):
    reason = f"Incident {incident.pk}: calls to {incident.country}" + (f" ({note})" if note else "")
    with transaction.atomic():
        block_destination(organization, incident.country, actor=actor, reason=reason, incident=incident)
        mark_actioned(organization, incident.pk, actor=actor, resolution=f"Calls to {incident.country} blocked for the organization.")
    return f"Calls to {incident.country} are no longer charged to credits, for the whole organization (a rule on the Spend guard page)."


ACTIONS = {
    "block_person": IncidentAction(
        "block_person",
        "Block the person's credit calls",
        "Block credit calls",
        "From now on, none of this person's calls is charged to Communications Credits (they are recorded as refused, with this block as the reason), until an admin lifts the block on the Spend guard page. Calls included in a calling plan are not affected.",
        lambda incident: incident.person_id is not None and not person_blocked(incident),
        "There is no person to block for this incident, or they are blocked already.",
        _block_person,
    ),
    "block_destination": IncidentAction(
        "block_destination",
        "Block the destination",
        "Block the destination",
        "From now on, no call of the organization to this country is charged to Communications Credits: an organization rule blocks it (every number type), visible and liftable on the Spend guard page.",
        lambda incident: bool(incident.country) and not destination_blocked(incident),
        "This incident names no destination country, or calls to it are blocked already.",
        _block_destination,
    ),
    "dismiss": IncidentAction(
        "dismiss",
        "Dismiss as expected",
        "Dismiss incident",
        "Nothing is blocked. The incident is closed as expected calling; if the calling goes on, a later import opens a new incident and alerts again.",
        lambda incident: incident.status == IncidentStatus.OPEN,
        "This incident is already closed ({incident.status}).",
        _dismiss,
    ),
}


def available(incident):
    return [action for action in ACTIONS.values() if action.possible(incident)]
