"""Spike detection at the end of each import (usage.services.detection): a month of normal calls, then a
fraud burst, and what is (and is not) an incident; one alert per incident; thresholds from settings."""

from datetime import timedelta
from decimal import Decimal

import pytest

from billing.choices import AdminRole
from notifications import kinds
from notifications.models import Delivery, Event
from tests.factories import admin_in
from tests.usage.detection_scenario import BURST_NIGHT, DAYS, FIRST_DAY, burst_rows, calls, normal_month, normal_rows
from tests.usage.factories import graph_call
from usage.models import HourlyCalls, Incident, IncidentKind, IncidentStatus
from usage.services.detection import dismiss_incident
from usage.services.guard import save_policy
from usage.spend_guard import CapAction

pytestmark = pytest.mark.django_db


@pytest.fixture
def month(org, catalog):
    return normal_month(org)


def incidents(org):
    return list(Incident.objects.filter(organization=org).order_by("pk"))


def test_a_month_of_normal_calls_raises_nothing_and_keeps_hourly_figures(org, month):
    assert incidents(org) == []
    assert HourlyCalls.objects.filter(organization=org).exists()
    # Another normal week after the month: still nothing.
    calls(org, normal_rows(FIRST_DAY + timedelta(days=DAYS), days=7, seed=9))
    assert incidents(org) == []
    assert not Event.objects.filter(organization=org, kind=kinds.SPEND_INCIDENT).exists()


def test_a_fraud_burst_is_one_incident_and_one_alert_within_the_import_that_brings_it(org, month):
    billing_admin = admin_in(org, AdminRole.BILLING_ADMINISTRATOR)
    reader = admin_in(org, AdminRole.TEAMS_COMMUNICATIONS_SUPPORT_ENGINEER)
    result = calls(org, burst_rows())
    assert result.created == 300
    [incident] = incidents(org)
    assert incident.kind == IncidentKind.PERSON_BURST
    assert incident.upn == "hank@contoso.test"
    assert incident.country == "GB"
    assert incident.status == IncidentStatus.OPEN
    assert incident.window_start == BURST_NIGHT and incident.window_end == BURST_NIGHT + timedelta(hours=4)
    assert incident.calls == 300
    # The spend guard's default rule refuses premium-rate numbers: the calls are refused credit calls.
    assert result.refused == 300 and result.charged_total == 0 and incident.spend == 0
    assert incident.last_batch_id == result.batch.pk
    # The odd hour (nobody calls at night) is part of the same incident, not another alert.
    assert any("hour of the day" in signal for signal in incident.signals)
    [event] = Event.objects.filter(organization=org, kind=kinds.SPEND_INCIDENT)
    assert event.link_path == f"/billing/products/communications-credits/spend-guard/incidents/{incident.pk}/"
    assert "hank@contoso.test" in event.summary
    recipients = set(Delivery.objects.filter(event=event).values_list("email", flat=True))
    assert billing_admin.email in recipients and reader.email not in recipients


def test_a_burst_the_guard_lets_through_is_caught_in_the_same_import_and_the_daily_cap_stops_its_charges(org, month, global_admin):
    save_policy(org, actor=global_admin, person_day_cap=Decimal("20.00"), cap_action=CapAction.STOP)
    # Papua New Guinea: no default rule blocks it (0.50 a minute), and the organization never called it.
    result = calls(org, burst_rows(number="+6757{:04d}123"))
    [incident] = incidents(org)
    assert incident.kind == IncidentKind.PERSON_BURST and incident.country == "PG"
    assert any("never called" in signal for signal in incident.signals)
    # Charged until the person's day reached 20.00 (the call that crossed it is charged), refused after.
    assert Decimal("20.00") <= result.charged_total <= Decimal("21.00")
    assert result.refused > 250
    assert incident.spend == result.charged_total


def test_an_open_incident_takes_more_of_the_same_burst_without_a_second_alert(org, month):
    admin_in(org, AdminRole.BILLING_ADMINISTRATOR)
    calls(org, burst_rows())
    calls(org, burst_rows(start=BURST_NIGHT + timedelta(hours=4), calls=200, hours=1, seed=3))
    [incident] = incidents(org)
    assert incident.calls == 500
    assert incident.imports == 2
    assert incident.window_end == BURST_NIGHT + timedelta(hours=5)
    assert Event.objects.filter(organization=org, kind=kinds.SPEND_INCIDENT).count() == 1
    assert Delivery.objects.filter(event__kind=kinds.SPEND_INCIDENT).count() == 1


def test_after_an_incident_is_dismissed_a_new_burst_is_a_new_incident_and_alert(org, month, global_admin):
    calls(org, burst_rows())
    [first] = incidents(org)
    dismiss_incident(org, first.pk, actor=global_admin)
    calls(org, burst_rows(start=BURST_NIGHT + timedelta(days=1), seed=4))
    assert [i.status for i in incidents(org)] == [IncidentStatus.DISMISSED, IncidentStatus.OPEN]
    assert Event.objects.filter(organization=org, kind=kinds.SPEND_INCIDENT).count() == 2


def test_calls_to_a_country_never_called_are_an_incident(org, month):
    day = FIRST_DAY + timedelta(days=DAYS, hours=10)
    calls(org, [graph_call(upn="alice@contoso.test", start=day + timedelta(minutes=i), callee=f"+6757123456{i}") for i in range(3)])
    [incident] = incidents(org)
    assert incident.kind == IncidentKind.NEW_COUNTRY
    assert incident.country == "PG" and incident.person_id is None and incident.calls == 3


def test_calls_at_an_hour_the_organization_never_calls_are_an_incident(org, month):
    night = FIRST_DAY + timedelta(days=DAYS, hours=3)
    calls(org, [graph_call(upn="alice@contoso.test", start=night + timedelta(minutes=i), callee=f"+1206555{i:04d}") for i in range(6)])
    [incident] = incidents(org)
    assert incident.kind == IncidentKind.ODD_HOUR
    assert incident.calls == 6 and incident.window_start == night


def test_a_first_import_judges_nothing_without_a_week_of_history(org, catalog):
    normal_month(org)
    Incident.objects.all().delete()
    # A burst in the first days of history (the month starts on 1 April) raises nothing.
    calls(org, burst_rows(start=FIRST_DAY + timedelta(days=2, hours=1), seed=5))
    assert incidents(org) == []


def test_thresholds_come_from_the_settings(org, month, settings):
    settings.SPEND_DETECTION_MIN_CALLS = 1000
    settings.SPEND_DETECTION_MIN_SPEND = "100000"
    settings.SPEND_DETECTION_ODD_HOUR_MIN_CALLS = 1000
    calls(org, burst_rows())
    assert incidents(org) == []
    settings.SPEND_DETECTION_MIN_CALLS = 50
    settings.SPEND_DETECTION_MIN_SPEND = "100000"
    calls(org, burst_rows(start=BURST_NIGHT + timedelta(days=1), calls=60, hours=1, seed=6))
    [incident] = incidents(org)
    assert incident.calls == 60


def test_detection_can_be_turned_off(org, month, settings):
    settings.SPEND_DETECTION_ENABLED = False
    calls(org, burst_rows())
    assert incidents(org) == []
    # The hourly figures are still kept, so turning it on again has its baseline.
    assert HourlyCalls.objects.filter(organization=org, hour=BURST_NIGHT, country="GB").exists()


def test_one_organizations_burst_is_not_anothers_incident(org, other_org, month):
    calls(org, burst_rows())
    assert Incident.objects.filter(organization=other_org).count() == 0
    assert Incident.objects.filter(organization=org).count() == 1


@pytest.mark.django_db(transaction=True)
def test_the_alert_mail_says_who_when_and_links_to_the_incident(org, month, mailoutbox):
    billing_admin = admin_in(org, AdminRole.BILLING_ADMINISTRATOR)
    calls(org, burst_rows())  # the mail leaves after the import commits (Celery runs eagerly in tests)
    incident = Incident.objects.get(organization=org)
    [message] = [m for m in mailoutbox if "unusual calling" in m.subject]
    assert message.to == [billing_admin.email]
    assert message.subject == "Contoso Test: unusual calling detected (hank@contoso.test)"
    assert "Who or where: hank@contoso.test" in message.body
    assert "Calls: 300" in message.body
    assert f"/spend-guard/incidents/{incident.pk}/" in message.body
