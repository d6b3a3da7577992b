"""The role matrix and tenant isolation, for every URL of billing."""

from decimal import Decimal

import pytest
from django.urls import get_resolver, reverse

from billing import services
from billing.choices import BILLING_MANAGER_ROLES, AdminRole
from billing.models import Payment, Receipt
from tests.factories import CardFactory, admin_in

pytestmark = pytest.mark.django_db(transaction=True)

READ_PAGES = ["home", "billing:products", "billing:credits", "billing:transactions"]
MANAGE_PAGES = ["billing:add_funds", "billing:auto_recharge", "billing:add_card", "billing:add_agreement"]
MANAGE_POSTS = ["billing:turn_off_auto_recharge"]
OBJECT_PAGES = ["billing:payment", "billing:receipt"]
OBJECT_POSTS = ["billing:remove_payment_method"]
OTHER = ["switch_organization"]


def test_every_billing_url_is_covered_by_these_tests():
    resolver = get_resolver()
    billing = resolver.namespace_dict["billing"][1]
    names = {f"billing:{p.name}" for p in billing.url_patterns}
    covered = set(READ_PAGES + MANAGE_PAGES + MANAGE_POSTS + OBJECT_PAGES + OBJECT_POSTS)
    assert names <= covered, f"add these URLs to the access tests: {sorted(names - covered)}"


@pytest.fixture
def paid(org, card, billing_admin):
    payment = services.fund_credits(
        organization=org, actor=billing_admin, amount=Decimal("20.00"), payment_method=card, idempotency_key="paid"
    )
    return payment


def object_url(name, paid, card):
    if name == "billing:payment":
        return reverse(name, args=[paid.idempotency_key])
    if name == "billing:receipt":
        return reverse(name, args=[Receipt.objects.get(entry=paid.entry).number])
    return reverse(name, args=[card.pk])


@pytest.mark.parametrize("role", list(AdminRole))
def test_every_admin_role_reads_billing_and_only_billing_managers_change_it(client, org, card, paid, role):
    person = admin_in(org, role)
    client.force_login(person)
    for name in READ_PAGES:
        assert client.get(reverse(name)).status_code == 200, name
    for name in OBJECT_PAGES:
        assert client.get(object_url(name, paid, card)).status_code == 200, name
    expected = 200 if role in BILLING_MANAGER_ROLES else 403
    for name in MANAGE_PAGES:
        assert client.get(reverse(name)).status_code == expected, name
    if role not in BILLING_MANAGER_ROLES:
        # Read-only roles are refused on POST as well, and nothing changes.
        assert client.post(reverse("billing:add_funds"), {"amount": "20", "payment_method": card.pk}).status_code == 403
        assert client.post(reverse("billing:auto_recharge"), {"enabled": "on"}).status_code == 403
        assert client.post(reverse("billing:turn_off_auto_recharge")).status_code == 403
        assert client.post(reverse("billing:remove_payment_method", args=[card.pk])).status_code == 403
        assert Payment.objects.count() == 1
        card.refresh_from_db()
        assert card.removed_at is None


def test_a_member_without_an_admin_role_cannot_open_the_admin_center(client, org, plain_member, card, paid):
    client.force_login(plain_member)
    for name in READ_PAGES + MANAGE_PAGES:
        assert client.get(reverse(name)).status_code == 403, name
    for name in OBJECT_PAGES:
        assert client.get(object_url(name, paid, card)).status_code == 403, name


def test_anonymous_visitors_are_sent_to_sign_in(client, card, paid):
    for name in READ_PAGES + MANAGE_PAGES:
        response = client.get(reverse(name))
        assert response.status_code == 302 and reverse("login") in response.url, name
    response = client.post(reverse("billing:add_funds"), {"amount": "20", "payment_method": card.pk})
    assert response.status_code == 302 and Payment.objects.count() == 1


def test_another_tenants_objects_answer_404(client, outsider, card, paid):
    client.force_login(outsider)
    for name in OBJECT_PAGES:
        assert client.get(object_url(name, paid, card)).status_code == 404, name
    for name in OBJECT_POSTS:
        assert client.post(object_url(name, paid, card)).status_code == 404, name
    card.refresh_from_db()
    assert card.removed_at is None
    # Their own pages show their own organization only.
    page = client.get(reverse("billing:credits")).content.decode()
    assert "ending in 4242" not in page
    assert client.post(reverse("switch_organization"), {"organization": card.organization_id}).status_code == 404


def test_an_outsider_cannot_pay_with_another_tenants_card(client, outsider, card):
    client.force_login(outsider)
    response = client.post(reverse("billing:add_funds"), {"amount": "20", "payment_method": card.pk})
    assert response.status_code == 400
    assert not Payment.objects.exists()


def test_a_person_in_two_organizations_switches_between_them(client, org, other_org):
    person = admin_in(org, AdminRole.GLOBAL_ADMINISTRATOR)
    admin_in(other_org, AdminRole.TEAMS_ADMINISTRATOR, user=person)
    CardFactory(organization=org, last4="1111")
    client.force_login(person)
    client.post(reverse("switch_organization"), {"organization": org.pk})
    assert "ending in 1111" in client.get(reverse("billing:credits")).content.decode()
    client.post(reverse("switch_organization"), {"organization": other_org.pk})
    page = client.get(reverse("billing:credits")).content.decode()
    assert "ending in 1111" not in page and other_org.name in page
    assert client.get(reverse("billing:add_funds")).status_code == 403, "a Teams Administrator there reads only"
