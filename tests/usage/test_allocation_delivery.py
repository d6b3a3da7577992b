"""Scheduled reports: subscriptions (admins of the organization only, clear errors, billing roles
change them) and delivery once per subscription and period, however often beat runs."""

from datetime import UTC, date, datetime

import pytest
from django.urls import reverse

from billing.choices import AdminRole
from notifications import kinds
from notifications.emails import build_message
from notifications.models import Delivery, Event
from tests.conftest import sign_in
from tests.factories import admin_in
from tests.usage.allocation_helpers import call, import_calls
from usage.choices import ExportFormat, ExportStatus
from usage.models import Export, ReportRun, ReportSubscription
from usage.services import report_delivery
from usage.tasks import deliver_scheduled_reports_task

pytestmark = pytest.mark.django_db

PAGE = reverse("allocation:subscriptions")
# Wednesday 2 December 2026: the last complete week is 23-29 November, the last month November.
NOW = datetime(2026, 12, 2, 6, 37, tzinfo=UTC)


def subscribe(org, actor, recipients, report="allocation", frequency="weekly"):
    return report_delivery.save_subscription(
        organization=org, actor=actor, report=report, frequency=frequency, recipients=recipients
    )


def test_periods_are_the_last_complete_week_and_month():
    assert report_delivery.last_period("weekly", date(2026, 12, 2)) == (date(2026, 11, 23), date(2026, 11, 29))
    assert report_delivery.last_period("weekly", date(2026, 11, 30)) == (date(2026, 11, 23), date(2026, 11, 29))
    assert report_delivery.last_period("monthly", date(2026, 12, 1)) == (date(2026, 11, 1), date(2026, 11, 30))
    assert report_delivery.last_period("monthly", date(2026, 3, 31)) == (date(2026, 2, 1), date(2026, 2, 28))
    assert report_delivery.next_delivery("weekly", date(2026, 12, 2)) == date(2026, 12, 7)
    assert report_delivery.next_delivery("monthly", date(2026, 12, 2)) == date(2027, 1, 1)


def test_beat_running_twice_sends_the_period_once(org, people, rates, funded, global_admin, billing_admin, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    import_calls(org, [call(start=datetime(2026, 11, 25, 10, tzinfo=UTC), units="Sales")])
    subscribe(org, global_admin, [global_admin, billing_admin])
    assert report_delivery.deliver_due_reports(NOW) == 1
    assert report_delivery.deliver_due_reports(NOW) == 0  # beat again, same period
    assert report_delivery.deliver_due_reports(NOW.replace(hour=7)) == 0  # the next hour
    run = ReportRun.objects.get()
    assert (run.period_start, run.period_end, run.recipients) == (date(2026, 11, 23), date(2026, 11, 29), 2)
    export = Export.objects.get(pk=run.export_id)
    assert export.format == ExportFormat.ALLOCATION and export.status == ExportStatus.DONE
    assert export.parameters["start"] == "2026-11-23" and export.filename == "Where the credits go 2026-11-23 to 2026-11-29.xlsx"
    events = Event.objects.filter(kind=kinds.SCHEDULED_REPORT)
    assert events.count() == 2
    assert not Event.objects.filter(kind=kinds.EXPORT_READY).exists()  # nobody asked for the export itself
    assert sorted(Delivery.objects.filter(event__in=events).values_list("email", flat=True)) == sorted(
        [global_admin.email, billing_admin.email])
    assert all(e.link_path == reverse("usage:export", args=[export.public_id]) for e in events)
    # Sent through the outbox (which sends after commit, outside this test's transaction): each email
    # names the report and its period, and links to it in Downloads.
    message = build_message(Delivery.objects.filter(event__in=events).first())
    assert "Where the credits go" in message.subject and "2026-11-23 to 2026-11-29" in message.subject
    assert reverse("usage:export", args=[export.public_id]) in message.body
    # The following week is a new period.
    assert report_delivery.deliver_due_reports(datetime(2026, 12, 7, 0, 37, tzinfo=UTC)) == 1


def test_two_claims_of_one_period_give_it_to_one(org, global_admin):
    subscription = subscribe(org, global_admin, [global_admin])
    first = report_delivery.claim(subscription, date(2026, 11, 23), date(2026, 11, 29))
    second = report_delivery.claim(subscription, date(2026, 11, 23), date(2026, 11, 29))
    assert first is not None and second is None


def test_the_task_delivers_the_pstn_export_monthly(org, people, rates, funded, global_admin, settings, monkeypatch):
    subscribe(org, global_admin, [global_admin], report="pstn_export", frequency="monthly")
    import_calls(org, [call(start=datetime(2026, 11, 25, 10, tzinfo=UTC))])
    monkeypatch.setattr(report_delivery.timezone, "now", lambda: NOW)
    assert deliver_scheduled_reports_task() == 1
    assert deliver_scheduled_reports_task() == 0
    export = ReportRun.objects.get().export
    assert export.format == ExportFormat.XLSX and export.rows_total == 1
    assert (export.parameters["start"], export.parameters["end"]) == ("2026-11-01", "2026-11-30")


def test_an_admin_who_lost_their_role_is_not_sent_the_report(org, global_admin, billing_admin):
    subscribe(org, global_admin, [global_admin, billing_admin])
    billing_admin.memberships.all().delete()
    report_delivery.deliver_due_reports(NOW)
    assert ReportRun.objects.get().recipients == 1
    assert list(Delivery.objects.values_list("email", flat=True)) == [global_admin.email]


def test_only_admins_of_the_organization_can_be_subscribed(org, global_admin, outsider, plain_member):
    from django.core.exceptions import ValidationError

    for stranger in (outsider, plain_member):
        with pytest.raises(ValidationError, match="Only admins of this organization"):
            subscribe(org, global_admin, [global_admin, stranger])
    with pytest.raises(ValidationError, match="at least one admin"):
        subscribe(org, global_admin, [])
    assert not ReportSubscription.objects.exists()


def test_the_page_subscribes_admins_and_says_what_is_wrong(client, org, global_admin, billing_admin, outsider):
    sign_in(client, billing_admin)
    response = client.post(PAGE, {"report": "allocation", "frequency": "weekly", "recipients": [outsider.pk]})
    assert response.status_code == 400
    assert "Only admins of this organization can receive its reports." in response.content.decode()
    response = client.post(PAGE, {"report": "allocation", "frequency": "weekly"})
    assert response.status_code == 400 and "Choose at least one admin" in response.content.decode()
    response = client.post(PAGE, {"report": "allocation", "frequency": "weekly", "recipients": [global_admin.pk, billing_admin.pk]})
    assert response.status_code == 302
    subscription = ReportSubscription.objects.get(organization=org)
    assert set(subscription.recipients.all()) == {global_admin, billing_admin}
    # The same report and frequency again replaces its recipients.
    client.post(PAGE, {"report": "allocation", "frequency": "weekly", "recipients": [billing_admin.pk]})
    assert list(ReportSubscription.objects.get().recipients.all()) == [billing_admin]
    body = client.get(PAGE).content.decode()
    assert "Where the credits go (.xlsx)" in body and "Stop sending" in body
    assert outsider.email not in body  # the picker lists this organization's admins only
    response = client.post(reverse("allocation:delete_subscription", args=[subscription.pk]))
    assert response.status_code == 302 and not ReportSubscription.objects.exists()


def test_read_only_roles_see_the_page_but_cannot_change_it(client, org, global_admin):
    subscription = subscribe(org, global_admin, [global_admin])
    reader = admin_in(org, AdminRole.TEAMS_COMMUNICATIONS_SUPPORT_ENGINEER)
    sign_in(client, reader)
    body = client.get(PAGE).content.decode()
    assert "You can view them" in body and "Schedule report" not in body
    assert client.post(PAGE, {"report": "allocation", "frequency": "weekly", "recipients": [reader.pk]}).status_code == 403
    assert client.post(reverse("allocation:delete_subscription", args=[subscription.pk])).status_code == 403
    assert ReportSubscription.objects.filter(pk=subscription.pk).exists()


def test_another_organization_s_subscription_answers_404(client, org, global_admin, outsider):
    subscription = subscribe(org, global_admin, [global_admin])
    sign_in(client, outsider)
    assert client.post(reverse("allocation:delete_subscription", args=[subscription.pk])).status_code == 404
    assert "No report is scheduled." in client.get(PAGE).content.decode()
    assert ReportSubscription.objects.filter(pk=subscription.pk).exists()


def test_beat_schedules_the_delivery(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["deliver-scheduled-reports"]
    assert entry["task"] == "usage.tasks.deliver_scheduled_reports_task"
