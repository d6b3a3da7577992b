"""The Spend guard pages: every admin reads them, only the billing managers change them (403 on POST
for the read-only roles, enforced by the server), another organization's ids answer 404, and the forms
say what is wrong on the field."""

import re

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.factories import credit_block, spend_policy
from tests.usage.factories import PersonFactory
from usage.models import CapCrossing, CreditBlock, DestinationRule, GuardChange, SpendPolicy
from usage.services.guard.blocks import block_for_cap

pytestmark = pytest.mark.django_db


@pytest.fixture
def dave(org):
    return PersonFactory(organization=org, upn="dave@contoso.test", display_name="Dave Diaz")


def test_a_read_only_admin_sees_everything_and_changes_nothing(client, org, reports_reader, dave, global_admin):
    block = credit_block(org, dave, actor=global_admin)
    rule = DestinationRule.objects.filter(organization=org).first()
    client.force_login(reports_reader)
    page = client.get(reverse("guard:home"))
    body = page.content.decode()
    assert page.status_code == 200 and "Premium-rate and shared-cost numbers" in body and "dave@contoso.test" in body
    assert reverse("guard:policy") not in body and "You can view the spend guard" in body
    assert client.get(reverse("guard:audit")).status_code == 200
    posts = [
        (reverse("guard:policy"), {"person_day_cap": "5", "cap_action": "stop"}),
        (reverse("guard:rule_add"), {"action": "block", "country": "CU", "scope": "organization"}),
        (reverse("guard:rule", args=[rule.pk]), {"action": "lift"}),
        (reverse("guard:restore_defaults"), {}),
        (reverse("guard:block_add"), {"person": dave.pk, "reason": "x"}),
        (reverse("guard:block_lift", args=[block.pk]), {}),
        (reverse("guard:override_add"), {"scope": "person", "person": dave.pk, "call_cap": "1"}),
    ]
    for url, data in posts:
        assert client.post(url, data).status_code == 403, url
    assert not SpendPolicy.objects.filter(organization=org).exists()
    assert CreditBlock.objects.get(pk=block.pk).lifted_at is None
    assert GuardChange.objects.filter(organization=org).count() == 1  # the block made above


def test_a_billing_admin_saves_the_caps_and_the_change_is_audited(client, org, billing_admin):
    client.force_login(billing_admin)
    response = client.post(reverse("guard:policy"), {"call_cap": "5", "person_day_cap": "25.5", "cap_action": "stop"})
    assert response.status_code == 302
    policy = SpendPolicy.objects.get(organization=org)
    assert str(policy.person_day_cap) == "25.50" and policy.cap_action == "stop"
    change = GuardChange.objects.get(organization=org)
    assert change.changed_by == billing_admin and change.before is None and change.after["person_day_cap"] == "25.50"
    assert "25.50" in client.get(reverse("guard:home")).content.decode()


def test_the_forms_say_what_is_wrong(client, org, billing_admin, dave):
    client.force_login(billing_admin)
    response = client.post(reverse("guard:policy"), {"person_day_cap": "lots", "cap_action": "stop"})
    assert response.status_code == 400 and "Enter a number." in response.content.decode()
    response = client.post(reverse("guard:rule_add"), {"action": "allow", "scope": "organization"})
    assert response.status_code == 400 and "Name a country, a number type or a prefix" in response.content.decode()
    response = client.post(reverse("guard:rule_add"), {"action": "block", "prefix": "+44x", "scope": "organization"})
    assert response.status_code == 400 and "A prefix is E.164 digits" in response.content.decode()
    response = client.post(reverse("guard:override_add"), {"scope": "department", "call_cap": "1"})
    assert response.status_code == 400 and "Name the department" in response.content.decode()


def test_a_billing_admin_blocks_and_lifts_and_adds_a_person_override(client, org, billing_admin, dave):
    client.force_login(billing_admin)
    assert client.post(reverse("guard:block_add"), {"person": dave.pk, "reason": "Night calls"}).status_code == 302
    block = CreditBlock.objects.get(organization=org)
    assert block.created_by == billing_admin and block.person == dave
    assert client.get(reverse("guard:block_lift", args=[block.pk])).status_code == 200
    assert client.post(reverse("guard:block_lift", args=[block.pk])).status_code == 302
    block.refresh_from_db()
    assert block.lifted_by == billing_admin
    assert client.post(reverse("guard:override_add"), {"scope": "person", "person": dave.pk, "person_day_cap": "60"}).status_code == 302
    override = SpendPolicy.objects.get(organization=org, scope="person")
    assert override.person == dave and str(override.person_day_cap) == "60.00"
    assert client.post(reverse("guard:override_delete", args=[override.pk])).status_code == 302
    assert not SpendPolicy.objects.filter(pk=override.pk).exists()


def test_another_organizations_ids_answer_404(client, org, other_org, outsider, dave, global_admin):
    block = credit_block(org, dave, actor=global_admin)
    rule = DestinationRule.objects.filter(organization=org).first()
    override = spend_policy(org, scope="person", person=dave, call_cap="3")
    client.force_login(outsider)
    for url in (
        reverse("guard:rule", args=[rule.pk]),
        reverse("guard:block_lift", args=[block.pk]),
        reverse("guard:override_edit", args=[override.pk]),
        reverse("guard:override_delete", args=[override.pk]),
    ):
        assert client.get(url).status_code == 404, url
        assert client.post(url, {"action": "lift", "call_cap": "9"}).status_code == 404, url
    # A form naming another organization's person is an invalid choice.
    assert client.post(reverse("guard:block_add"), {"person": dave.pk, "reason": "x"}).status_code == 400
    assert CreditBlock.objects.get(pk=block.pk).lifted_at is None
    assert DestinationRule.objects.get(pk=rule.pk).lifted_at is None


def test_the_page_shows_todays_spend_and_the_caps_reached(client, org, reports_reader, dave):
    spend_policy(org, organization_day_cap="100", person_day_cap="5", cap_action="stop")
    CapCrossing.objects.create(
        organization=org, person=dave, cap="person_day", day=timezone.now().date(), limit="5.00", spent="5.40", action="stop"
    )
    client.force_login(reports_reader)
    body = client.get(reverse("guard:home")).content.decode()
    assert "$0.00 of $100.00" in body
    assert 'data-testid="crossings"' in body and "dave@contoso.test" in body and "$5.40" in body and "Stopped" in body


def test_the_audit_says_rating_only_for_a_cap_and_the_system_for_other_changes_without_an_admin(client, org, reports_reader, dave):
    # The demo (load_demo) saves Contoso's caps with no one signed in: that is not rating's doing.
    spend_policy(org, person_day_cap="5", cap_action="stop")
    day = timezone.now().date()
    block_for_cap(
        org, person_id=dave.pk, cap="person_day", day=day, starts_at=timezone.now(),
        rule="Cap per person per day: 5.00 USD", reason="Cap reached",
    )
    client.force_login(reports_reader)
    body = client.get(reverse("guard:audit")).content.decode()
    assert re.search(r"<td>System \(no admin signed in\)</td>\s*<td>Spend policy #\d+ created", body)
    assert re.search(r"<td>Rating \(a cap\)</td>\s*<td>Credit block #\d+ cap reached", body)
