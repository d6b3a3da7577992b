"""The one-click answers to an incident, as the incident page offers them: what each does, when it is
possible, and running it (through detection's services and the spend guard's)."""

from dataclasses import dataclass
from typing import Callable

from ...models import IncidentStatus
from .incidents import dismiss_incident


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


ACTIONS = {
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
