"""The incident pages: what happened, the calls (paged), the confirmed actions; every admin reads them,
only a billing manager role acts, another tenant's incident answers 404."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.usage.detection_scenario import burst_rows, calls, normal_month
from tests.usage.factories import graph_call
from usage.models import Incident, IncidentStatus
from usage.spend_guard import CreditBlock, DestinationRule

pytestmark = pytest.mark.django_db


@pytest.fixture
def incident(org, catalog):
    normal_month(org)
    calls(org, burst_rows())
    return Incident.objects.get(organization=org)


def test_every_admin_reads_the_list_and_the_incident_with_its_calls_paged(client, incident, reports_reader, django_assert_max_num_queries):
    client.force_login(reports_reader)
    listing = client.get(reverse("incidents:list"))
    assert listing.status_code == 200
    assert "hank@contoso.test" in listing.content.decode()
    with django_assert_max_num_queries(15):
        page = client.get(reverse("incidents:detail", args=[incident.pk]))
    text = page.content.decode()
    assert page.status_code == 200
    assert "Burst of calls by one person" in text and "+44909879" in text
    assert text.count('href="/reports/usage/pstn/records/') == 50  # the first page of 300 calls
    assert "Dismiss as expected" not in text  # a read-only role is offered no action
    second = client.get(reverse("incidents:detail", args=[incident.pk]), {"page": 6})
    assert second.status_code == 200 and second.content.decode().count('href="/reports/usage/pstn/records/') == 50


def test_a_read_only_role_cannot_act(client, incident, reports_reader):
    client.force_login(reports_reader)
    assert client.get(reverse("incidents:dismiss", args=[incident.pk])).status_code == 403
    assert client.post(reverse("incidents:dismiss", args=[incident.pk])).status_code == 403
    incident.refresh_from_db()
    assert incident.status == IncidentStatus.OPEN


def test_a_billing_admin_dismisses_after_confirming(client, incident, billing_admin):
    client.force_login(billing_admin)
    confirm = client.get(reverse("incidents:dismiss", args=[incident.pk]))
    assert confirm.status_code == 200 and "Dismiss incident" in confirm.content.decode()
    incident.refresh_from_db()
    assert incident.status == IncidentStatus.OPEN  # the confirmation page changes nothing
    done = client.post(reverse("incidents:dismiss", args=[incident.pk]), {"note": "load test of the call centre"}, follow=True)
    assert done.status_code == 200
    incident.refresh_from_db()
    assert incident.status == IncidentStatus.DISMISSED
    assert incident.resolved_by == billing_admin and incident.resolved_at is not None
    assert "load test of the call centre" in incident.resolution
    # Twice: nothing more happens.
    client.post(reverse("incidents:dismiss", args=[incident.pk]))
    incident.refresh_from_db()
    assert incident.status == IncidentStatus.DISMISSED


def test_another_tenants_incident_answers_404(client, incident, outsider):
    client.force_login(outsider)
    for name in ("incidents:detail", "incidents:dismiss"):
        assert client.get(reverse(name, args=[incident.pk])).status_code == 404
    assert client.post(reverse("incidents:dismiss", args=[incident.pk])).status_code == 404
    assert "hank" not in client.get(reverse("incidents:list")).content.decode()
    incident.refresh_from_db()
    assert incident.status == IncidentStatus.OPEN


def test_blocking_the_person_stops_their_credit_calls_and_closes_the_incident(client, org, incident, billing_admin):
    client.force_login(billing_admin)
    confirm = client.get(reverse("incidents:block_person", args=[incident.pk]))
    assert confirm.status_code == 200 and "Block credit calls" in confirm.content.decode()
    assert not CreditBlock.objects.filter(organization=org).exists()
    client.post(reverse("incidents:block_person", args=[incident.pk]))
    block = CreditBlock.objects.get(organization=org)
    assert block.person_id == incident.person_id and block.incident_id == incident.pk and block.created_by == billing_admin
    incident.refresh_from_db()
    assert incident.status == IncidentStatus.ACTIONED and "hank@contoso.test" in incident.resolution
    # The person's next call that would be charged (a domestic call: no plan) is refused.
    after = max(block.starts_at, timezone.now()) + timedelta(seconds=1)
    result = calls(org, [graph_call(upn="hank@contoso.test", start=after, callee="+13125550123")])
    assert result.refused == 1 and result.charged_total == 0
    # Offered no more once done; the page says the person is blocked, and where to lift it.
    page = client.get(reverse("incidents:detail", args=[incident.pk])).content.decode()
    assert "Block the person" not in page and "Block the destination" in page
    assert 'data-testid="person-block">Blocked since' in page
    assert reverse("guard:block_lift", args=[block.pk]) in page


def test_blocking_the_destination_adds_an_organization_rule(client, org, incident, global_admin, reports_reader):
    client.force_login(reports_reader)
    assert client.post(reverse("incidents:block_destination", args=[incident.pk])).status_code == 403
    assert client.post(reverse("incidents:block_person", args=[incident.pk])).status_code == 403
    client.force_login(global_admin)
    client.post(reverse("incidents:block_destination", args=[incident.pk]))
    rule = DestinationRule.objects.get(organization=org, incident_id=incident.pk)
    assert rule.country == "GB" and rule.action == "block" and rule.number_type == ""
    incident.refresh_from_db()
    assert incident.status == IncidentStatus.ACTIONED
