"""A simulated toll-fraud burst, for the demo and the tests: hundreds of short calls to premium-rate
numbers overnight by one person, imported through the normal import service (so they are rated,
charged or refused, and judged by detection like any other import)."""

import random
import uuid
from datetime import UTC, datetime, timedelta

from django.utils import timezone

from ..choices import Capability
from ..models import ImportBatch, Person
from .ingest import import_graph_payload

# A UK premium-rate range (09xx): the demo's rate card prices it at 1.20 per minute.
PREMIUM_NUMBER = "+44 909 879 1"


class NoOneToSimulate(ValueError):
    pass


def burst_night(now=None) -> datetime:
    """01:00 UTC of the last night that is over (the burst runs until 05:00)."""
    now = now or timezone.now()
    start = now.astimezone(UTC).replace(hour=1, minute=0, second=0, microsecond=0)
    if start + timedelta(hours=4) > now:
        start -= timedelta(days=1)
    return start


def fraud_person(organization, upn=""):
    """The person whose account is 'hijacked': the one named, else the first holder of the Communications
    Credits license who is not a resource account."""
    people = Person.objects.filter(organization=organization)
    if upn:
        person = people.filter(upn=upn.strip().lower()).first()
        if person is None:
            raise NoOneToSimulate(f"No person {upn} in {organization}.")
        return person
    for person in people.filter(is_resource_account=False).order_by("upn"):
        if Capability.CREDITS in person.license_set:
            return person
    raise NoOneToSimulate(f"{organization} has no person holding the Communications Credits license (MCOPSTNPP).")


def burst_rows(person, *, calls=300, start=None, hours=4, number=PREMIUM_NUMBER, seed=None):
    """Graph getPstnCalls rows: `calls` short outbound calls (20 to 90 seconds) spread over `hours` hours."""
    rng = random.Random(seed)
    start = start or burst_night()
    rows = []
    for n in range(calls):
        moment = start + timedelta(seconds=int(n * hours * 3600 / calls) + rng.randrange(5))
        seconds = rng.randrange(20, 91)
        rows.append({
            "id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "callId": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "userId": person.object_id,
            "userPrincipalName": person.upn,
            "userDisplayName": person.display_name,
            "startDateTime": moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "endDateTime": (moment + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "duration": seconds,
            "charge": 0,
            "connectionCharge": 0,
            "callType": "user_out",
            "currency": "",
            "calleeNumber": _number(number, rng),
            "callerNumber": person.phone_number.replace(" ", ""),
            "usageCountryCode": person.usage_location,
            "tenantCountryCode": organization_country(person),
            "destinationContext": None,
            "destinationName": "",
            "conferenceId": None,
            "licenseCapability": "",
            "inventoryType": "Subscriber",
            "operator": "Microsoft",
            "callDurationSource": "microsoft",
        })
    return rows


def _number(start, rng):
    digits = start.replace(" ", "")
    return digits + "".join(str(rng.randrange(10)) for _ in range(max(3, 13 - len(digits))))


def organization_country(person):
    return person.organization.country


def page_of(rows):
    return {"@odata.count": len(rows), "value": rows, "@odata.nextLink": None}


def simulate_fraud_burst(organization, *, upn="", calls=300, start=None, actor=None, seed=None, number=PREMIUM_NUMBER):
    """Import a simulated fraud burst for `organization` through the import service. Returns its ImportResult."""
    person = fraud_person(organization, upn)
    rows = burst_rows(person, calls=calls, start=start, seed=seed, number=number)
    return import_graph_payload(organization, page_of(rows), "pstn", origin=ImportBatch.Source.DEMO, actor=actor)
