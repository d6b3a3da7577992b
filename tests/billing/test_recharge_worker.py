"""Auto-recharge through a real Celery worker on Redis and PostgreSQL (not eager mode).

Run with your own Redis database number, which these tests flush:
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/credits_recharge \\
    CELERY_BROKER_URL=redis://127.0.0.1:6379/3 .venv/bin/python -m pytest tests/billing/test_recharge_worker.py

The worker runs in this process (celery.contrib.testing.worker.start_worker, a thread pool) and uses
the test database; one test starts a worker in a separate process and kills it with SIGKILL mid-call.
"""

import os
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from datetime import timedelta
from decimal import Decimal

import pytest
from celery.contrib.testing.worker import start_worker
from django.conf import settings as django_settings
from django.db import connection
from django.utils import timezone

from billing import tasks
from billing.choices import EntryKind, PaymentStatus
from billing.models import CreditAccount, LedgerEntry, Payment, SandboxCharge
from billing.services.reconciliation import find_mismatches
from credits_site.celery import app
from tests.billing.gateways import GATEWAYS, CountingGateway
from tests.factories import arm, spend
from tests.markers import REDIS_URL, requires_postgres, requires_redis

pytestmark = [requires_postgres, requires_redis, pytest.mark.django_db(transaction=True)]

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def wait_for(predicate, timeout=20.0, what="the worker"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"Timed out after {timeout}s waiting for {what}.")


def queue_is_drained():
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    return client.llen("celery") == 0 and client.hlen("unacked") == 0


def reset_producers():
    # Celery caches its connection pools; a changed broker setting needs fresh ones.
    app._pool = None
    app.amqp._producer_pool = None


@pytest.fixture
def redis_db():
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    client.flushdb()  # our own database number only
    yield client
    client.flushdb()


@pytest.fixture
def not_eager():
    app.conf.task_always_eager = False
    reset_producers()
    yield
    app.conf.task_always_eager = True
    app.conf.broker_write_url = None
    app.conf.broker_transport_options = dict(django_settings.CELERY_BROKER_TRANSPORT_OPTIONS)
    reset_producers()


@contextmanager
def running_worker(**transport_options):
    if transport_options:
        app.conf.broker_transport_options = {**django_settings.CELERY_BROKER_TRANSPORT_OPTIONS, **transport_options}
        reset_producers()
    with start_worker(app, pool="threads", concurrency=2, perform_ping_check=False, loglevel="WARNING", shutdown_timeout=30) as worker:
        yield worker


def settled(account_id):
    def check():
        payment = Payment.objects.filter(account_id=account_id, purpose="recharge").first()
        return payment is not None and payment.is_final and queue_is_drained()

    return check


def assert_one_charge(account, calls=1):
    payment = Payment.objects.get(account=account, purpose="recharge")
    assert payment.status == PaymentStatus.SUCCEEDED and payment.gateway_calls == calls
    assert SandboxCharge.objects.filter(idempotency_key=payment.idempotency_key).count() == 1
    assert LedgerEntry.objects.filter(account=account, kind=EntryKind.RECHARGE).count() == 1
    account.refresh_from_db()
    assert account.balance == Decimal("65.00") and account.auto_recharge_state.due_since is None
    assert find_mismatches([account.pk]) == []
    return payment


def test_the_beat_sweep_and_the_on_commit_trigger_racing_on_one_account_make_one_charge(
    org, card, billing_admin, settings, monkeypatch, redis_db, not_eager
):
    account = arm(org, card, billing_admin)
    settings.PAYMENT_GATEWAY = f"{GATEWAYS}.SlowGateway"
    monkeypatch.setenv("RECHARGE_TEST_GATEWAY_DELAY", "0.5")
    CountingGateway.reset()
    with running_worker():
        spend(account, "85.00")  # commits, then enqueues the recharge
        tasks.sweep_auto_recharge_task.delay()  # beat's sweep, at the same moment
        tasks.sweep_auto_recharge_task.delay()
        wait_for(settled(account.pk))
        time.sleep(1)  # let any late duplicate run to its end
        wait_for(queue_is_drained)
    assert_one_charge(account)
    assert CountingGateway.calls == 1, "the gateway was asked once"


def test_a_gateway_that_times_out_after_charging_then_succeeds_on_the_retry_makes_one_charge(
    org, card, billing_admin, settings, redis_db, not_eager
):
    account = arm(org, card, billing_admin)
    settings.PAYMENT_GATEWAY = f"{GATEWAYS}.TimeoutAfterChargeGateway"
    settings.AUTO_RECHARGE_BACKOFF_SECONDS = 0.5  # Celery's retry countdown, shortened for the test
    with running_worker():
        spend(account, "85.00")
        wait_for(settled(account.pk))
    payment = assert_one_charge(account, calls=2)
    assert payment.failure_code == ""


def test_a_hard_decline_through_the_worker_is_final_at_once_and_not_retried(org, billing_admin, redis_db, not_eager, settings):
    from tests.factories import CardFactory

    declined = CardFactory(organization=org, behaviour="card_declined", last4="0341")
    good = CardFactory(organization=org)
    account = arm(org, good, billing_admin)
    from billing import services

    services.update_auto_recharge(organization=org, actor=billing_admin, enabled=True, amount=50, trigger=20, payment_method=declined)
    with running_worker():
        spend(account, "85.00")
        wait_for(settled(account.pk))
        tasks.sweep_auto_recharge_task.delay()  # the sweep right after: the cool-down holds
        time.sleep(1)
        wait_for(queue_is_drained)
    payment = Payment.objects.get(account=account, purpose="recharge")
    assert payment.status == PaymentStatus.FAILED and payment.gateway_calls == 1
    account.refresh_from_db()
    assert account.auto_recharge_state.consecutive_failures == 1 and account.auto_recharge_state.retry_at > timezone.now()


def test_redis_down_when_a_debit_commits_loses_nothing_the_sweep_catches_up(org, card, billing_admin, redis_db, not_eager):
    account = arm(org, card, billing_admin)
    with running_worker():
        # The broker is unreachable for whoever publishes (a refused port stands for Redis being down).
        app.conf.broker_write_url = "redis://127.0.0.1:1/3"
        reset_producers()
        started = time.monotonic()
        spend(account, "85.00")
        assert time.monotonic() - started < 2, "a broker outage must not hold the debit"
        account.refresh_from_db()
        assert account.balance == Decimal("15.00") and account.auto_recharge_state.due_since is not None
        time.sleep(0.5)
        assert not Payment.objects.filter(account=account, purpose="recharge").exists(), "the message was lost"
        # Redis is back; beat's next sweep finds the account still below its trigger.
        app.conf.broker_write_url = None
        reset_producers()
        tasks.sweep_auto_recharge_task.delay()
        wait_for(settled(account.pk))
    assert_one_charge(account)


def worker_process_env(**extra):
    db = connection.settings_dict
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="credits_site.settings.test",
        DATABASE_URL=f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
        CELERY_BROKER_URL=REDIS_URL,
        CELERY_TASK_ALWAYS_EAGER="false",
        PYTHONPATH=ROOT,
        **extra,
    )
    return env


def test_a_worker_killed_mid_recharge_and_the_task_redelivered_make_one_charge(
    org, card, billing_admin, redis_db, not_eager, tmp_path
):
    account = arm(org, card, billing_admin)
    log = open(tmp_path / "doomed-worker.log", "w")
    doomed = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "credits_site", "worker", "--pool=solo", "--loglevel=INFO", "-n", "doomed@%h"],
        cwd=ROOT,
        env=worker_process_env(PAYMENT_GATEWAY=f"{GATEWAYS}.SlowGateway", RECHARGE_TEST_GATEWAY_DELAY="120"),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        spend(account, "85.00")
        # The doomed worker has charged the card and is now "waiting for the gateway's answer".
        wait_for(lambda: SandboxCharge.objects.filter(idempotency_key__startswith="recharge:").exists(), timeout=60, what="the charge")
        payment = Payment.objects.get(account=account, purpose="recharge")
        assert payment.status == PaymentStatus.PROCESSING
    finally:
        os.killpg(doomed.pid, signal.SIGKILL)
        doomed.wait(timeout=10)
        log.close()
    assert Payment.objects.get(pk=payment.pk).status == PaymentStatus.PROCESSING, "nothing was recorded"
    # Time passes: the claim grows stale (2 minutes), and Redis's visibility timeout (shortened here)
    # hands the unacknowledged message to the next worker.
    Payment.objects.filter(pk=payment.pk).update(started_at=timezone.now() - timedelta(minutes=3))
    with running_worker(visibility_timeout=2, unacked_restore_interval=1, unacked_restore_throttle=1):
        wait_for(settled(account.pk), timeout=30, what="the redelivered task")
    payment = assert_one_charge(account, calls=2)
    assert CreditAccount.objects.get(pk=account.pk).auto_recharge_state.consecutive_failures == 0
