"""Who receives what: the 20 roles, each person once, nobody from elsewhere and nobody without a role."""

from decimal import Decimal

import pytest

from billing.choices import AdminRole
from notifications import kinds, selectors, services
from notifications.models import Delivery
from tests.factories import UserFactory, admin_in

pytestmark = pytest.mark.django_db


def record_core_event(org):
    return services.record_event(
        kind=kinds.BALANCE_DEPLETED, organization=org, account=org.credit_account, context={}, dedupe_key="test"
    )


def addresses(event):
    return sorted(Delivery.objects.filter(event=event).values_list("email", flat=True))


def test_a_core_event_reaches_one_person_in_each_of_the_twenty_roles(org, one_admin_per_role):
    event = record_core_event(org)

    assert len(AdminRole.values) == 20
    assert addresses(event) == sorted(user.email for user in one_admin_per_role.values())


def test_a_person_holding_several_roles_is_emailed_once_with_all_their_roles(org):
    person = admin_in(
        org, AdminRole.GLOBAL_ADMINISTRATOR, AdminRole.BILLING_ADMINISTRATOR, AdminRole.TEAMS_ADMINISTRATOR
    )

    event = record_core_event(org)

    delivery = Delivery.objects.get(event=event)
    assert delivery.email == person.email
    assert delivery.role_labels == ["Billing Administrator", "Global Administrator", "Teams Administrator"]


def test_members_without_an_admin_role_are_never_included(org, billing_admin, plain_member):
    event = record_core_event(org)

    assert addresses(event) == [billing_admin.email]


def test_admins_of_other_organizations_are_never_included(org, billing_admin, outsider, other_org):
    # The outsider also belongs to this organization, but without a role here.
    admin_in(org, user=outsider)

    event = record_core_event(org)

    assert addresses(event) == [billing_admin.email]


def test_inactive_people_and_people_without_an_address_are_skipped(org, billing_admin):
    gone = admin_in(org, AdminRole.GLOBAL_ADMINISTRATOR)
    gone.is_active = False
    gone.save()
    admin_in(org, AdminRole.GLOBAL_ADMINISTRATOR, user=UserFactory(username="no-address", email=""))

    event = record_core_event(org)

    assert addresses(event) == [billing_admin.email]


def test_two_accounts_sharing_one_mailbox_get_one_email(org):
    admin_in(org, AdminRole.GLOBAL_ADMINISTRATOR, user=UserFactory(username="a1", email="Shared@Example.test"))
    admin_in(org, AdminRole.BILLING_ADMINISTRATOR, user=UserFactory(username="a2", email="shared@example.test"))

    event = record_core_event(org)

    assert Delivery.objects.filter(event=event).count() == 1


def test_an_optional_event_goes_to_its_default_roles(org, one_admin_per_role):
    event = services.record_event(
        kind="monthly_cap_reached",
        organization=org,
        account=org.credit_account,
        context={"cap": "500.00", "spent": "500.00", "resumes_at": "2026-12-01T00:00:00+00:00"},
    )

    expected = {one_admin_per_role[AdminRole.GLOBAL_ADMINISTRATOR].email, one_admin_per_role[AdminRole.BILLING_ADMINISTRATOR].email}
    assert set(addresses(event)) == expected


def test_billing_admins_choose_the_roles_that_receive_an_optional_event(org, one_admin_per_role, billing_admin):
    services.set_role_preferences(
        organization=org, actor=billing_admin, kind=kinds.LOW_BALANCE, roles=[AdminRole.HELPDESK_ADMINISTRATOR]
    )

    roles = selectors.enabled_roles(org.pk, kinds.REGISTRY[kinds.LOW_BALANCE])

    assert roles == {AdminRole.HELPDESK_ADMINISTRATOR}


def test_core_events_reach_all_twenty_roles_whatever_the_preferences(org, one_admin_per_role, billing_admin):
    with pytest.raises(services.NotificationSettingsError):
        services.set_role_preferences(
            organization=org, actor=billing_admin, kind=kinds.BALANCE_DEPLETED, roles=[AdminRole.GLOBAL_ADMINISTRATOR]
        )

    assert selectors.enabled_roles(org.pk, kinds.REGISTRY[kinds.BALANCE_DEPLETED]) == set(AdminRole.values)


def test_an_optional_event_with_every_role_turned_off_is_recorded_with_nobody_to_email(org, billing_admin):
    services.set_role_preferences(organization=org, actor=billing_admin, kind="credits_expired", roles=[])

    event = services.record_event(
        kind="credits_expired", organization=org, account=org.credit_account, context={"lot": 1, "amount": Decimal("3")}
    )

    assert event is not None
    assert addresses(event) == []


def test_support_events_go_to_the_support_addresses_only(org, billing_admin, settings):
    settings.SUPPORT_EMAILS = ["desk@credits.example", "DESK@credits.example", "oncall@credits.example"]

    event = services.record_event(
        kind="reconciliation_mismatch", organization=org, account=org.credit_account, context={"problem": "off by 1"}
    )

    assert addresses(event) == ["desk@credits.example", "oncall@credits.example"]
