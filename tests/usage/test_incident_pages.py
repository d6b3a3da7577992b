"""The incident pages: what happened, the calls (paged), the confirmed actions; every admin reads them,
only a billing manager role acts, another tenant's incident answers 404."""

import pytest
from django.urls import reverse

from tests.usage.detection_scenario import burst_rows, calls, normal_month
from usage.models import Incident, IncidentStatus

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
