"""The real thing: PostgreSQL, Redis, a real Celery worker and a real SMTP server (aiosmtpd) on 127.0.0.1.

Run with DATABASE_URL=postgres://... CELERY_BROKER_URL=redis://127.0.0.1:6379/N; skipped otherwise.
"""

import time
from decimal import Decimal

import pytest
from django.db import transaction
from kombu.exceptions import OperationalError

from billing import services as billing
from billing.choices import AdminRole
from notifications import kinds, services, tasks
from notifications.models import Delivery, DeliveryStatus
from tests.factories import CardFactory, admin_in
from tests.markers import requires_postgres, requires_redis

pytestmark = [requires_postgres, requires_redis, pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def worker():
    """A real Celery worker (two threads) consuming from Redis, in this process so it sees the test database."""
    from celery.contrib.testing.worker import start_worker
    from celery.signals import task_prerun

    from credits_site.celery import app

    runs = []

    def seen(sender=None, task=None, **kwargs):
        runs.append((task.name, bool(task.request.is_eager), task.request.hostname))

    app.conf.task_always_eager = False
    with app.connection_for_write() as connection:
        connection.default_channel.queue_purge(app.conf.task_default_queue)
    task_prerun.connect(seen, weak=False)
    try:
        with start_worker(app, pool="threads", concurrency=2, perform_ping_check=False, shutdown_timeout=30, loglevel="WARNING"):
            yield runs
    finally:
        task_prerun.disconnect(seen)
        app.conf.task_always_eager = True


def wait_for(condition, timeout=30.0, what="the condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def all_sent(count):
    return lambda: Delivery.objects.filter(status=DeliveryStatus.SENT).count() >= count


def test_a_funding_is_emailed_through_redis_a_real_worker_and_a_real_smtp_server(
    org, billing_admin, reports_reader, plain_member, smtp_server, worker
):
    card = CardFactory(organization=org)

    billing.fund_credits(organization=org, actor=billing_admin, amount=Decimal("80.00"), payment_method=card, idempotency_key="it:1")

    wait_for(all_sent(2), what="two deliveries to be sent")
    wait_for(lambda: len(smtp_server.handler.envelopes) == 2, what="the SMTP server to receive two messages")
    assert sorted(smtp_server.handler.recipients) == sorted([billing_admin.email, reports_reader.email])
    content = smtp_server.handler.envelopes[0].content.decode()
    assert "Contoso Test: $80.00 added to Communications Credits" in content
    # Sent by the worker from a message it took off Redis, not eagerly in this thread.
    assert ("notifications.tasks.send_event_deliveries_task", False) in [(name, eager) for name, eager, _ in worker]


def test_an_smtp_server_that_refuses_then_accepts_ends_with_one_mail_through_the_worker(
    org, billing_admin, smtp_server, worker, settings
):
    settings.NOTIFICATIONS_RETRY_BASE_SECONDS = 1
    smtp_server.handler.refuse_first = 1

    with transaction.atomic():
        services.record_event(kind=kinds.BALANCE_DEPLETED, organization=org, account=org.credit_account, dedupe_key="it")

    wait_for(all_sent(1), what="the retried delivery to be sent")
    time.sleep(1.5)  # a duplicate would have arrived by now
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.SENT, 2)
    assert smtp_server.handler.refused == 1
    assert smtp_server.handler.recipients == [billing_admin.email]


def test_tasks_delivered_several_times_to_concurrent_worker_threads_send_each_email_once(
    org, smtp_server, worker, monkeypatch, settings
):
    settings.NOTIFICATIONS_BATCH_SIZE = 7
    people = [admin_in(org, AdminRole.TEAMS_ADMINISTRATOR) for _ in range(40)]
    monkeypatch.setattr("notifications.receivers.enqueue_event_deliveries", lambda *a, **k: None)
    with transaction.atomic():
        event = services.record_event(kind=kinds.BALANCE_DEPLETED, organization=org, account=org.credit_account, dedupe_key="dup")

    for _ in range(4):
        tasks.send_event_deliveries_task.delay(event.pk)
    tasks.send_pending_deliveries_task.delay()

    wait_for(all_sent(len(people)), what="every delivery to be sent")
    time.sleep(1.0)
    assert sorted(smtp_server.handler.recipients) == sorted(p.email for p in people)


def test_mail_recorded_while_the_broker_is_down_is_sent_by_the_sweep_when_it_is_back(
    org, billing_admin, smtp_server, worker, monkeypatch
):
    original = tasks.send_event_deliveries_task.apply_async

    def broker_down(*args, **kwargs):
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(tasks.send_event_deliveries_task, "apply_async", broker_down)
    with transaction.atomic():
        services.record_event(kind=kinds.BALANCE_DEPLETED, organization=org, account=org.credit_account, dedupe_key="down")
    time.sleep(1.0)
    assert smtp_server.handler.envelopes == []
    assert Delivery.objects.get().status == DeliveryStatus.PENDING
    monkeypatch.setattr(tasks.send_event_deliveries_task, "apply_async", original)

    tasks.send_pending_deliveries_task.delay()  # what beat does every 30 seconds

    wait_for(all_sent(1), what="the sweep to send the pending delivery")
    assert smtp_server.handler.recipients == [billing_admin.email]
