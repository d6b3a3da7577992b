"""Auto-recharge money paths under real concurrency: threads on PostgreSQL, each with its own
connection, racing through the same account. Whatever the interleaving: one charge per round, the
ledger reconciles."""

import threading
import time
from datetime import timedelta
from decimal import Decimal
from unittest import mock

import pytest
from django.db import connection
from django.utils import timezone

from billing import services, tasks
from billing.choices import EntryKind, PaymentStatus
from billing.models import CreditAccount, LedgerEntry, Payment, SandboxCharge
from billing.services.auto_recharge import guards, rounds
from billing.services.reconciliation import find_mismatches
from tests.billing.gateways import GATEWAYS, CountingGateway, WorkerDied
from tests.factories import arm, spend
from tests.markers import requires_postgres

pytestmark = [requires_postgres, pytest.mark.django_db(transaction=True)]


def in_threads(n, target):
    """Run `target(i)` in n threads released together; re-raise the first error any of them met."""
    barrier = threading.Barrier(n)
    errors, results = [], [None] * n

    def run(i):
        try:
            barrier.wait(timeout=10)
            results[i] = target(i)
        except Exception as exc:  # noqa: BLE001 - handed back to the test below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "a thread hung"
    if errors:
        raise errors[0]
    return results


def quietly_below_trigger(org, card, actor):
    """An account below its trigger whose on-commit message was lost (so that the racers start even)."""
    account = arm(org, card, actor)
    with mock.patch.object(tasks.run_auto_recharge_task, "apply_async"):
        spend(account, "85.00")
    return account


def assert_one_charge(account):
    payment = Payment.objects.get(account=account, purpose="recharge")
    assert payment.status == PaymentStatus.SUCCEEDED
    assert SandboxCharge.objects.filter(idempotency_key=payment.idempotency_key).count() == 1
    assert LedgerEntry.objects.filter(account=account, kind=EntryKind.RECHARGE).count() == 1
    account.refresh_from_db()
    assert account.balance == Decimal("65.00")
    assert find_mismatches([account.pk]) == []
    return payment


def test_eight_workers_racing_on_one_crossing_make_one_charge(org, card, billing_admin, settings):
    settings.PAYMENT_GATEWAY = f"{GATEWAYS}.CountingGateway"
    account = quietly_below_trigger(org, card, billing_admin)
    CountingGateway.reset()  # the funding's call is not a recharge
    in_threads(8, lambda i: rounds.run_auto_recharge(account.pk))
    payment = assert_one_charge(account)
    assert payment.gateway_calls == 1 and CountingGateway.calls == 1


def test_the_beat_sweep_and_the_on_commit_trigger_racing_make_one_charge(org, card, billing_admin, settings, monkeypatch):
    settings.PAYMENT_GATEWAY = f"{GATEWAYS}.SlowGateway"
    monkeypatch.setenv("RECHARGE_TEST_GATEWAY_DELAY", "0.3")
    account = arm(org, card, billing_admin)
    CountingGateway.reset()

    def racer(i):
        if i == 0:
            spend(account, "85.00")  # the debit; its on-commit task runs here (eager)
        else:
            deadline = time.monotonic() + 1.5
            while time.monotonic() < deadline:  # the sweep, arriving any time around the commit
                tasks.sweep_auto_recharge_task()

    in_threads(2, racer)
    tasks.sweep_auto_recharge_task()
    payment = assert_one_charge(account)
    assert CountingGateway.calls == 1 and payment.gateway_calls == 1


def test_a_worker_killed_mid_call_is_finished_by_the_next_run_with_one_charge(org, card, billing_admin, settings):
    account = quietly_below_trigger(org, card, billing_admin)
    # The first worker claims the payment and charges the card, then dies before recording anything.
    settings.PAYMENT_GATEWAY = f"{GATEWAYS}.DyingGateway"
    with pytest.raises(WorkerDied):
        rounds.run_auto_recharge(account.pk)
    settings.PAYMENT_GATEWAY = "billing.gateways.sandbox.SandboxGateway"
    payment = Payment.objects.get(account=account, purpose="recharge")
    assert payment.status == PaymentStatus.PROCESSING and payment.gateway_calls == 1
    reference = SandboxCharge.objects.get(idempotency_key=payment.idempotency_key).reference
    # The redelivered task, while the claim is fresh, does not call the gateway again ...
    rounds.run_auto_recharge(account.pk)
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PROCESSING and payment.gateway_calls == 1
    # ... and once the claim is stale, finishes it with the same key: the gateway answers with the first charge.
    Payment.objects.filter(pk=payment.pk).update(started_at=timezone.now() - timedelta(minutes=3))
    in_threads(3, lambda i: rounds.run_auto_recharge(account.pk))
    payment = assert_one_charge(account)
    assert payment.gateway_reference == reference and payment.gateway_calls == 2


def test_a_timeout_after_charging_retried_by_racing_workers_makes_one_charge(org, card, billing_admin, settings):
    account = arm(org, card, billing_admin)
    settings.PAYMENT_GATEWAY = f"{GATEWAYS}.TimeoutAfterChargeGateway"
    spend(account, "85.00")  # the first call charges, then times out
    payment = Payment.objects.get(account=account, purpose="recharge")
    assert payment.status == PaymentStatus.PENDING and payment.failure_code == "timeout"
    soon = timezone.now() + timedelta(minutes=1)
    in_threads(4, lambda i: rounds.run_auto_recharge(account.pk, now=soon))
    payment = assert_one_charge(account)
    assert payment.gateway_calls == 2


def test_calls_charged_from_many_threads_while_recharges_run_keep_the_ledger_whole(org, card, billing_admin):
    account = arm(org, card, billing_admin, balance="100.00", amount="250.00", trigger="50.00")

    def caller(i):
        for n in range(15):
            services.charge_usage(account_id=account.pk, amount=Decimal("4.25"), idempotency_key=f"t{i}-{n}")

    in_threads(6, caller)  # 382.50 of calls: at least one crossing below 50, each answered once
    tasks.sweep_auto_recharge_task()
    account.refresh_from_db()
    recharges = Payment.objects.filter(account=account, purpose="recharge")
    assert recharges.filter(status="succeeded").count() == account.auto_recharge_state.crossing >= 1
    assert account.balance == Decimal("100.00") - Decimal("382.50") + 250 * recharges.count()
    assert account.balance >= Decimal("50.00") or account.auto_recharge_state.due_since is not None
    assert find_mismatches([account.pk]) == []


def test_a_burst_of_crossings_from_many_threads_is_stopped_by_the_burst_guard(org, card, billing_admin, settings):
    account = arm(org, card, billing_admin, balance="100.00", amount="50.00", trigger="20.00")

    def caller(i):
        for n in range(10):
            services.charge_usage(account_id=account.pk, amount=Decimal("9.00"), idempotency_key=f"b{i}-{n}")

    in_threads(4, caller)  # 360 of calls against 50-dollar recharges: runaway usage
    tasks.sweep_auto_recharge_task()
    account = CreditAccount.objects.get(pk=account.pk)
    assert Payment.objects.filter(account=account, purpose="recharge", status="succeeded").count() == guards.BURST_LIMIT
    assert account.auto_recharge_state.paused_at is not None
    assert find_mismatches([account.pk]) == []
