
import pytest

from billing.catalog import ensure_catalog
from tests.usage.factories import PersonFactory, fund, standard_rates
from usage.services.destinations import load_destinations


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
