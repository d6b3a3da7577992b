"""A month of an organization's normal calling, and the fraud burst that follows it, as Graph pages: the
scenario of the detection tests (and of the incident pages' tests)."""

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from tests.usage.factories import PersonFactory, fund, graph_call, page, standard_rates
from usage.models import Incident, IncidentKind
from usage.services.destinations import load_destinations
from usage.services.ingest import import_graph_payload

# Monday 1 April 2024: the normal month runs to 5 May; the burst is on the night of 6 May.
FIRST_DAY = datetime(2024, 4, 1, tzinfo=UTC)
DAYS = 35
BURST_NIGHT = FIRST_DAY + timedelta(days=DAYS, hours=1)
CAST = {
    # upn: (location, licenses, numbers they call)
    "alice@contoso.test": ("US", "MCOPSTN1 MCOPSTNPP", ["+1206555{:04d}"]),
    "hank@contoso.test": ("US", "MCOPSTNPP", ["+1312555{:04d}", "+44207946{:04d}"]),
    "frank@contoso.test": ("US", "MCOPSTN8 MCOPSTNPP", ["+1415555{:04d}", "+4930901{:04d}"]),
}


def cast(org):
    return {
        upn: PersonFactory(organization=org, upn=upn, display_name=upn.split("@")[0].title(), usage_location=loc, licenses=lic)
        for upn, (loc, lic, _numbers) in CAST.items()
    }


def normal_rows(first_day=FIRST_DAY, days=DAYS, seed=1):
    """Working hours (08:00 to 17:59 UTC), every day: each person makes 0 to 3 calls an hour."""
    rng = random.Random(seed)
    rows = []
    for day in range(days):
        for hour in range(8, 18):
            for upn, (_loc, _lic, numbers) in CAST.items():
                for _ in range(rng.randrange(4)):
                    start = first_day + timedelta(days=day, hours=hour, minutes=rng.randrange(60))
                    number = rng.choice(numbers).format(rng.randrange(10000))
                    rows.append(graph_call(upn=upn, start=start, callee=number, seconds=rng.randrange(30, 600)))
    return rows


def burst_rows(upn="hank@contoso.test", calls=300, start=BURST_NIGHT, hours=4, number="+44909879{:04d}", seed=2):
    """Hundreds of short calls to premium-rate numbers overnight by one person."""
    rng = random.Random(seed)
    return [
        graph_call(upn=upn, start=start + timedelta(seconds=int(n * hours * 3600 / calls)), callee=number.format(rng.randrange(10000)),
                   seconds=rng.randrange(20, 90))
        for n in range(calls)
    ]


def seed_incident(organization, person, marker, hours):
    """An open incident as detection leaves it, made directly (detection needs a week of history), for the
    URL walk: `marker` is in its signals, so a page that leaks it to another tenant is found."""
    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(days=1, hours=hours)
    return Incident.objects.create(
        organization=organization, kind=IncidentKind.PERSON_BURST, person=person, upn=person.upn, country="GB",
        window_start=start, window_end=start + timedelta(hours=1), calls=250, spend=Decimal("375.00"),
        signals=[f"{marker} burst of premium-rate calls"], detected_at=start, updated_at=start,
    )


def calls(org, rows):
    return import_graph_payload(org, page(rows), "pstn")


def normal_month(org, amount="5000.00"):
    """The organization, its people, rates, a balance and a month of normal calls, imported."""
    load_destinations()
    standard_rates()
    fund(org, amount)
    people = cast(org)
    calls(org, normal_rows())
    return people
