"""Sending: once per delivery however often a task runs, retries with back-off, a real SMTP server."""

import smtplib
import threading
from datetime import timedelta
from email import message_from_bytes

import pytest
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend
from django.db import connection, transaction
from django.utils import timezone

from billing.choices import AdminRole
from notifications import kinds, services, tasks
from notifications.emails import message_id
from notifications.models import Delivery, DeliveryFailure, DeliveryStatus, Event
from notifications.services import delivery as sender
from tests.factories import admin_in
from tests.markers import requires_postgres

pytestmark = pytest.mark.django_db(transaction=True)


def record(org, key="once", kind=kinds.BALANCE_DEPLETED):
    """An event recorded, its task not yet run (as if the broker had not delivered it yet)."""
    with transaction.atomic():
        event = services.record_event(kind=kind, organization=org, account=org.credit_account, dedupe_key=key)
    return event


@pytest.fixture
def no_enqueue(monkeypatch):
    """The on-commit hand-off does nothing: tests drive the tasks themselves."""
    monkeypatch.setattr("notifications.receivers.enqueue_event_deliveries", lambda *args, **kwargs: None)


class FlakyBackend(BaseEmailBackend):
    """A mail backend that raises the queued errors first, then delivers to mail.outbox."""

    errors: list = []

    def send_messages(self, messages):
        if FlakyBackend.errors:
            raise FlakyBackend.errors.pop(0)
        mail.outbox.extend(messages)
        return len(messages)


@pytest.fixture
def flaky_mailer(settings):
    settings.MAILERS = {"default": {"BACKEND": f"{__name__}.FlakyBackend"}}
    FlakyBackend.errors = []
    yield FlakyBackend
    FlakyBackend.errors = []


def test_a_task_run_twice_sends_each_email_once(org, billing_admin, global_admin, no_enqueue):
    event = record(org)

    tasks.send_event_deliveries_task.delay(event.pk)
    tasks.send_event_deliveries_task.delay(event.pk)
    tasks.send_pending_deliveries_task.delay()

    assert sorted(m.to[0] for m in mail.outbox) == sorted([billing_admin.email, global_admin.email])


def test_two_workers_claiming_at_the_same_moment_never_share_a_delivery(org, no_enqueue, settings):
    settings.NOTIFICATIONS_BATCH_SIZE = 3
    people = [admin_in(org, AdminRole.HELPDESK_ADMINISTRATOR) for _ in range(7)]
    event = record(org)

    token_a, first = sender.claim_batch(event_id=event.pk)
    token_b, second = sender.claim_batch(event_id=event.pk)
    token_c, third = sender.claim_batch(event_id=event.pk)

    claimed = [d.pk for d in first + second + third]
    assert len(claimed) == len(set(claimed)) == len(people)
    assert sender.claim_batch(event_id=event.pk)[1] == []


def test_an_email_is_retried_with_growing_back_off_then_delivered_once(org, billing_admin, no_enqueue, flaky_mailer, settings):
    settings.NOTIFICATIONS_RETRY_BASE_SECONDS = 30
    flaky_mailer.errors = [smtplib.SMTPServerDisconnected("Connection unexpectedly closed"), ConnectionRefusedError(111, "refused")]
    event = record(org)

    before = timezone.now()
    run = services.send_event_deliveries(event.pk)
    delivery = Delivery.objects.get(event=event)
    assert (run.sent, run.retrying, delivery.status, delivery.attempts) == (0, 1, DeliveryStatus.PENDING, 1)
    assert before + timedelta(seconds=29) < delivery.next_attempt_at < before + timedelta(seconds=40)
    assert "Connection unexpectedly closed" in delivery.last_error

    # Not due yet: a task that runs early sends nothing.
    assert services.send_event_deliveries(event.pk).sent == 0

    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
    before = timezone.now()
    services.send_event_deliveries(event.pk)
    delivery.refresh_from_db()
    assert delivery.attempts == 2
    assert before + timedelta(seconds=59) < delivery.next_attempt_at < before + timedelta(seconds=70)

    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
    run = services.send_event_deliveries(event.pk)
    delivery.refresh_from_db()
    assert (run.sent, delivery.status, delivery.attempts, delivery.last_error) == (1, DeliveryStatus.SENT, 3, "")
    assert [m.to for m in mail.outbox] == [[billing_admin.email]]
    assert list(DeliveryFailure.objects.filter(delivery=delivery).values_list("attempt", "permanent")) == [(2, False), (1, False)]


def test_a_delivery_gives_up_after_the_last_attempt_and_says_why(org, billing_admin, no_enqueue, flaky_mailer, fast_retries):
    fast_retries.NOTIFICATIONS_MAX_ATTEMPTS = 3
    flaky_mailer.errors = [smtplib.SMTPDataError(451, b"try later") for _ in range(5)]
    event = record(org)

    for _ in range(5):
        services.send_event_deliveries(event.pk)

    delivery = Delivery.objects.get(event=event)
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.FAILED, 3)
    assert delivery.last_error == "451 try later"
    assert mail.outbox == []
    assert DeliveryFailure.objects.filter(delivery=delivery, permanent=True).count() == 1


def test_a_permanent_refusal_is_not_retried(org, billing_admin, no_enqueue, flaky_mailer, fast_retries):
    flaky_mailer.errors = [smtplib.SMTPRecipientsRefused({billing_admin.email: (550, b"5.1.1 No such user")})]
    event = record(org)

    services.send_event_deliveries(event.pk)
    services.send_event_deliveries(event.pk)

    delivery = Delivery.objects.get(event=event)
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.FAILED, 1)
    assert DeliveryFailure.objects.get(delivery=delivery).smtp_code == 550


def test_an_email_that_cannot_be_built_fails_for_good_and_says_why(org, billing_admin, no_enqueue):
    event = record(org)
    Event.objects.filter(pk=event.pk).update(kind="kind_without_templates")

    run = services.send_event_deliveries(event.pk)

    delivery = Delivery.objects.get(event=event)
    assert (run.failed, delivery.status) == (1, DeliveryStatus.FAILED)
    assert "Could not build the message" in delivery.last_error and "kind_without_templates" in delivery.last_error


def test_a_server_that_is_down_ends_the_batch_and_everyone_waits_for_the_retry(org, no_enqueue, flaky_mailer):
    people = [admin_in(org, AdminRole.USER_ADMINISTRATOR) for _ in range(4)]
    flaky_mailer.errors = [ConnectionRefusedError(111, "Connection refused")]
    event = record(org)

    run = services.send_event_deliveries(event.pk)

    assert (run.sent, run.retrying) == (0, len(people))
    assert set(Delivery.objects.filter(event=event).values_list("status", flat=True)) == {DeliveryStatus.PENDING}
    assert run.next_due_at is not None


def test_a_claim_left_by_a_dead_worker_is_taken_back_by_the_sweep(org, billing_admin, no_enqueue, settings):
    event = record(org)
    token, (claimed,) = sender.claim_batch(event_id=event.pk)
    # The worker died before sending: its claim stays until it is old enough to be taken back.
    assert services.send_pending_deliveries().sent == 0
    Delivery.objects.filter(pk=claimed.pk).update(claimed_at=timezone.now() - timedelta(seconds=601))

    assert services.send_pending_deliveries().sent == 1

    assert [m.to for m in mail.outbox] == [[billing_admin.email]]
    sender.mark_sent(claimed, token)  # the dead worker's late write changes nothing
    assert Delivery.objects.get(pk=claimed.pk).attempts == 2


def test_every_attempt_of_a_delivery_carries_the_same_message_id(org, billing_admin, no_enqueue, flaky_mailer, fast_retries):
    flaky_mailer.errors = [smtplib.SMTPServerDisconnected("closed")]
    event = record(org)
    delivery = Delivery.objects.get(event=event)

    services.send_event_deliveries(event.pk)
    services.send_event_deliveries(event.pk)

    (message,) = mail.outbox
    assert message.extra_headers["Message-ID"] == message_id(delivery) == f"<notification-{delivery.pk}.{event.pk}@credits.example>"


def test_support_can_resend_as_a_new_delivery_recorded_as_such(org, billing_admin, no_enqueue, settings):
    support = admin_in(org)
    event = record(org)
    services.send_event_deliveries(event.pk)
    original = Delivery.objects.get(event=event)

    copy = services.resend_delivery(delivery=original, actor=support)
    services.send_event_deliveries(event.pk)

    assert (copy.resend_of, copy.resent_by) == (original, support)
    assert Delivery.objects.get(pk=copy.pk).status == DeliveryStatus.SENT
    assert [m.to for m in mail.outbox] == [[billing_admin.email], [billing_admin.email]]


def test_email_is_never_sent_inside_a_transaction(org, billing_admin, no_enqueue):
    event = record(org)

    with pytest.raises(RuntimeError, match="never sent inside a transaction"):
        with transaction.atomic():
            services.send_event_deliveries(event.pk)


def test_an_smtp_server_that_refuses_then_accepts_ends_with_one_delivered_mail(org, billing_admin, smtp_server, fast_retries):
    smtp_server.handler.refuse_first = 1

    # The on-commit task meets "451", retries itself (eagerly here), and the second attempt is accepted.
    record(org)

    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.SENT, 2)
    assert smtp_server.handler.refused == 1
    assert smtp_server.handler.recipients == [billing_admin.email]
    assert DeliveryFailure.objects.get(delivery=delivery).smtp_code == 451
    (envelope,) = smtp_server.handler.envelopes
    parsed = message_from_bytes(envelope.original_content)
    assert parsed["Subject"] == "Contoso Test: your Communications Credits balance reached zero"
    assert parsed["Message-ID"] == message_id(delivery)
    assert parsed.is_multipart()


@requires_postgres
def test_concurrent_dispatch_sends_each_email_exactly_once(org, no_enqueue, settings):
    settings.NOTIFICATIONS_BATCH_SIZE = 5
    people = [admin_in(org, AdminRole.LICENSE_ADMINISTRATOR) for _ in range(60)]
    event = record(org)
    start = threading.Barrier(4)
    errors = []

    def worker(scope):
        try:
            start.wait()
            if scope == "event":
                services.send_event_deliveries(event.pk)
            else:
                services.send_pending_deliveries()
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(scope,)) for scope in ("event", "event", "sweep", "sweep")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    sent_to = [m.to[0] for m in mail.outbox]
    assert sorted(sent_to) == sorted(p.email for p in people)
    assert Delivery.objects.filter(event=event, status=DeliveryStatus.SENT).count() == len(people)


class ConnectionCutBackend(BaseEmailBackend):
    """Delivers to mail.outbox, then has PostgreSQL end the sending worker's database connection (as a
    failover or `pg_terminate_backend` would) before the send is recorded, the first `cuts` times."""

    cuts = 0

    def send_messages(self, messages):
        import psycopg

        mail.outbox.extend(messages)
        if ConnectionCutBackend.cuts:
            ConnectionCutBackend.cuts -= 1
            db = connection.settings_dict
            pid = connection.connection.info.backend_pid
            with psycopg.connect(dbname=db["NAME"], user=db["USER"], host=db["HOST"] or "127.0.0.1", port=db["PORT"] or 5432,
                                 password=db["PASSWORD"] or None, autocommit=True) as other:
                other.execute("SELECT pg_terminate_backend(%s)", [pid])
        return len(messages)


@requires_postgres
def test_a_send_is_recorded_even_when_the_database_connection_is_lost_just_after_it(org, billing_admin, global_admin, no_enqueue, settings, monkeypatch):
    """The e-mail has left when the connection dies: recorded on a new connection, it is not sent again
    once the claim would have gone stale (the faults run's database scenario found one sent twice)."""
    settings.MAILERS = {"default": {"BACKEND": f"{__name__}.ConnectionCutBackend"}}
    monkeypatch.setattr(sender, "RECORD_RETRY_PAUSES", (0.1, 0.1))
    ConnectionCutBackend.cuts = 1
    event = record(org)

    run = services.send_event_deliveries(event.pk)

    assert run.sent == 2 and ConnectionCutBackend.cuts == 0
    assert Delivery.objects.filter(event=event, status=DeliveryStatus.SENT).count() == 2
    # Long after: nothing is left claimed, so the sweep that takes back stale claims sends nothing again.
    assert sender.release_stale_claims(now=timezone.now() + timedelta(days=1)) == 0
    services.send_pending_deliveries()
    assert sorted(m.to[0] for m in mail.outbox) == sorted([billing_admin.email, global_admin.email])


def test_recording_a_send_is_not_tried_again_after_an_error_that_is_not_a_lost_connection(org, billing_admin, no_enqueue, monkeypatch):
    """A statement timeout would fail the same way again: raised at once, not retried for 30 s."""
    import psycopg
    from django.db import OperationalError

    monkeypatch.setattr(sender, "RECORD_RETRY_PAUSES", (5.0,))
    event = record(org)
    token, (claimed, *_) = sender.claim_batch(event_id=event.pk)
    updates = []

    def time_out(execute, sql, params, many, context):
        if sql.startswith("UPDATE") and "notifications_delivery" in sql:
            updates.append(sql)
            try:
                raise psycopg.errors.QueryCanceled("canceling statement due to statement timeout")
            except psycopg.Error as cause:
                raise OperationalError(str(cause)) from cause
        return execute(sql, params, many, context)

    with connection.execute_wrapper(time_out), pytest.raises(OperationalError):
        sender.mark_sent(claimed, token)
    assert len(updates) == 1


def test_the_demo_writes_each_email_to_a_file_without_any_smtp_server(org, billing_admin, settings, tmp_path, monkeypatch):
    from credits_site.settings.base import mailer_from_env

    monkeypatch.delenv("EMAIL_BACKEND", raising=False)
    settings.MAILERS = {"default": mailer_from_env("file")}
    settings.MAILERS["default"]["OPTIONS"]["file_path"] = str(tmp_path)

    record(org)

    (written,) = list(tmp_path.iterdir())
    content = written.read_text()
    assert "Subject: Contoso Test: your Communications Credits balance reached zero" in content
    assert f"To: {billing_admin.email}" in content


def test_production_mail_settings_come_from_the_environment(monkeypatch):
    from credits_site.settings.base import mailer_from_env

    for name in ("EMAIL_BACKEND", "EMAIL_USE_SSL", "EMAIL_TIMEOUT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("EMAIL_HOST", "smtp.example.net")
    monkeypatch.setenv("EMAIL_PORT", "2525")
    monkeypatch.setenv("EMAIL_HOST_USER", "mailer")
    monkeypatch.setenv("EMAIL_HOST_PASSWORD", "s3cret")
    monkeypatch.setenv("EMAIL_USE_TLS", "false")

    mailer = mailer_from_env("smtp")

    assert mailer == {
        "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "OPTIONS": {
            "host": "smtp.example.net", "port": 2525, "username": "mailer", "password": "s3cret",
            "use_tls": False, "use_ssl": False, "timeout": 30,
        },
    }
