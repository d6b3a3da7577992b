"""Personas: a global admin, a billing admin, a reports reader, a member with no admin role, and an
outsider from another organization. Ledger state is built only through the billing services."""

from decimal import Decimal

import pytest
from django.contrib.auth.models import Group
from django.core.cache import cache
from django.core.management import call_command

from billing import services
from billing.choices import AdminRole
from billing.selectors import credit_account
from tests.factories import DEFAULT_PASSWORD, CardFactory, OrganizationFactory, UserFactory, admin_in


@pytest.fixture(autouse=True)
def empty_cache():
    # Kept figures are keyed by organization id and usage version, which a rolled-back test gives the next
    # one again (SQLite reuses ids): each test starts with an empty cache, as a fresh deployment would.
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def org(db):
    return OrganizationFactory(name="Contoso Test", slug="contoso-test")


@pytest.fixture
def other_org(db):
    return OrganizationFactory(name="Outsider Corp", slug="outsider")


@pytest.fixture
def global_admin(org):
    return admin_in(org, AdminRole.GLOBAL_ADMINISTRATOR)


@pytest.fixture
def billing_admin(org):
    return admin_in(org, AdminRole.BILLING_ADMINISTRATOR)


@pytest.fixture
def reports_reader(org):
    return admin_in(org, AdminRole.TEAMS_COMMUNICATIONS_SUPPORT_ENGINEER)


@pytest.fixture
def plain_member(org):
    return admin_in(org)


@pytest.fixture
def outsider(other_org):
    return admin_in(other_org, AdminRole.BILLING_ADMINISTRATOR)


@pytest.fixture
def card(org):
    return CardFactory(organization=org)


@pytest.fixture
def account(org):
    return credit_account(org)


@pytest.fixture
def funded_account(org, card, billing_admin):
    services.fund_credits(
        organization=org, actor=billing_admin, amount=Decimal("100.00"), payment_method=card, idempotency_key="fixture:fund"
    )
    return credit_account(org)


def sign_in(client, user):
    client.force_login(user)
    return client


@pytest.fixture
def as_billing_admin(client, billing_admin):
    return sign_in(client, billing_admin)


@pytest.fixture
def password():
    return DEFAULT_PASSWORD


@pytest.fixture
def support(db):
    """A support agent in the Support group that load_demo sets up (Django admin only)."""
    call_command("load_demo", verbosity=0)
    person = UserFactory(username="agent@credits.example", is_staff=True)
    person.groups.add(Group.objects.get(name="Support"))
    return person
