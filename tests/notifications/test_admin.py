"""Support staff in Django admin: deliveries, failures and errors; resend as a new, recorded delivery."""

import pytest
from django.contrib.auth.models import Permission
from django.db import transaction
from django.urls import reverse

from notifications import kinds, services
from notifications.models import Delivery, DeliveryFailure, DeliveryStatus
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def support(db):
    person = UserFactory(username="agent@credits.example", is_staff=True)
    person.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="notifications", codename__startswith="view_"),
        Permission.objects.get(content_type__app_label="notifications", codename="resend_delivery"),
    )
    return person


@pytest.fixture
def viewer(db):
    person = UserFactory(username="viewer@credits.example", is_staff=True)
    person.user_permissions.add(*Permission.objects.filter(content_type__app_label="notifications", codename__startswith="view_"))
    return person


@pytest.fixture
def failed_delivery(org, billing_admin, monkeypatch):
    monkeypatch.setattr("notifications.receivers.enqueue_event_deliveries", lambda *a, **k: None)
    with transaction.atomic():
        event = services.record_event(kind=kinds.BALANCE_DEPLETED, organization=org, account=org.credit_account, dedupe_key="x")
    delivery = Delivery.objects.get(event=event)
    Delivery.objects.filter(pk=delivery.pk).update(status=DeliveryStatus.FAILED, attempts=8, last_error="550 5.1.1 No such user")
    DeliveryFailure.objects.create(delivery=delivery, attempt=8, at=event.occurred_at, error="550 5.1.1 No such user", smtp_code=550, permanent=True)
    monkeypatch.undo()
    return delivery


def test_support_sees_failed_deliveries_with_their_errors(client, support, failed_delivery):
    client.force_login(support)

    listing = client.get(reverse("admin:notifications_delivery_changelist"), {"status": "failed"}).content.decode()
    detail = client.get(reverse("admin:notifications_delivery_change", args=[failed_delivery.pk])).content.decode()
    event_page = client.get(reverse("admin:notifications_event_change", args=[failed_delivery.event_id]))
    failures = client.get(reverse("admin:notifications_deliveryfailure_changelist"))

    assert failed_delivery.email in listing and "550 5.1.1 No such user" in listing
    assert "550 5.1.1 No such user" in detail
    assert event_page.status_code == 200 and failures.status_code == 200


def test_support_resends_a_delivery_as_a_new_delivery_recorded_as_a_resend(client, support, failed_delivery):
    from django.core import mail

    client.force_login(support)

    response = client.post(
        reverse("admin:notifications_delivery_changelist"),
        {"action": "resend", "_selected_action": [failed_delivery.pk]},
    )

    assert response.status_code == 302
    copy = Delivery.objects.get(resend_of=failed_delivery)
    assert (copy.resent_by, copy.status) == (support, DeliveryStatus.SENT)
    assert Delivery.objects.get(pk=failed_delivery.pk).status == DeliveryStatus.FAILED
    assert [m.to for m in mail.outbox] == [[failed_delivery.email]]
    assert "Resend of #" in client.get(reverse("admin:notifications_delivery_changelist")).content.decode()


def test_nobody_edits_or_deletes_a_delivery_by_hand(client, support, failed_delivery):
    client.force_login(support)
    page = client.get(reverse("admin:notifications_delivery_change", args=[failed_delivery.pk])).content.decode()

    assert 'name="_save"' not in page
    assert client.post(reverse("admin:notifications_delivery_delete", args=[failed_delivery.pk])).status_code == 403


def test_staff_without_the_resend_permission_cannot_resend(client, viewer, failed_delivery):
    client.force_login(viewer)

    listing = client.get(reverse("admin:notifications_delivery_changelist")).content.decode()
    client.post(reverse("admin:notifications_delivery_changelist"), {"action": "resend", "_selected_action": [failed_delivery.pk]})

    assert failed_delivery.email in listing and 'value="resend"' not in listing
    assert not Delivery.objects.filter(resend_of=failed_delivery).exists()
