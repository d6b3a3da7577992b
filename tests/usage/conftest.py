
import pytest

from billing.catalog import ensure_catalog
from tests.usage.factories import PersonFactory, fund, graph_call, page, standard_rates, today_at
from usage.services.destinations import load_destinations
from usage.services.ingest import import_graph_payload


@pytest.fixture
def catalog(db):
    return ensure_catalog()


@pytest.fixture
def destinations(db):
    """The destinations and country lists of usage/data/ in the database. The data migration loads
    them, but a transactional test empties every table when it ends; this adds what is missing."""
    return load_destinations()


@pytest.fixture
def rates(db):
    return standard_rates()


@pytest.fixture
def people(org, catalog):
    """The cast of the rating tests, by first name."""
    specs = {
        "alice": ("US", "MCOPSTN1 MCOPSTNPP MCOMEETADD"),
        "bob": ("US", "MCOPSTN1"),
        "carol": ("US", "MCOPSTN2 MCOPSTNPP"),
        "dave": ("US", "MCOPSTN9 MCOPSTNPP"),
        "erin": ("DE", "MCOPSTN1 MCOPSTNPP"),
        "frank": ("US", "MCOPSTN8 MCOPSTNPP"),
        "gina": ("US", "MCOMEETACPEA MCOPSTNPP"),
        "hank": ("GB", "MCOPSTNPP"),
    }
    return {
        name: PersonFactory(organization=org, upn=f"{name}@contoso.test", display_name=name.title(), usage_location=loc, licenses=lic)
        for name, (loc, lic) in specs.items()
    }


@pytest.fixture
def funded(org):
    return fund(org)


@pytest.fixture
def calls(org, people, rates, funded):
    """Thirteen calls of the last six days (two a day, one of them abroad, and an inbound one of bob's)."""
    rows = [graph_call(start=today_at(d, 9), seconds=125) for d in range(6)]
    rows += [graph_call(start=today_at(d, 15), callee="+442079460000", seconds=61) for d in range(6)]
    rows += [graph_call(upn="bob@contoso.test", call_type="user_in", start=today_at(2, 12), caller="+123 456789***")]
    import_graph_payload(org, page(rows), "pstn")
    return rows
