"""Helpers shared by the auto-recharge tests: gateways that misbehave on purpose (named by dotted path
in settings.PAYMENT_GATEWAY, so a worker in another thread or process uses them too), a recorder of
billing's signals, and account set-up through the services. The tests at the bottom check the gateways.

The gateways keep their memory in the database (SandboxCharge), never in the process, so that a worker
killed and replaced, or a thread pool, sees the same charges.
"""

import os
import threading
import time
from dataclasses import dataclass, field
from decimal import Decimal

import pytest

from billing import services, signals
from billing.gateways.base import TransientGatewayError
from billing.gateways.sandbox import SandboxGateway
from billing.models import SandboxCharge

HELPERS = "tests.billing.test_recharge_helpers"


class CountingGateway(SandboxGateway):
    """The sandbox, counting calls in this process (for threads); `reset()` between tests."""

    calls = 0
    _lock = threading.Lock()

    @classmethod
    def reset(cls):
        with cls._lock:
            CountingGateway.calls = 0

    def charge(self, **kwargs):
        with self._lock:
            CountingGateway.calls += 1
        return super().charge(**kwargs)


class SlowGateway(CountingGateway):
    """The sandbox, slowed down (RECHARGE_TEST_GATEWAY_DELAY seconds, default 0.3) after it has charged:
    long enough for racing workers to overlap, or for a test to kill the worker mid-call. Counts calls."""

    def charge(self, **kwargs):
        result = super().charge(**kwargs)
        time.sleep(float(os.environ.get("RECHARGE_TEST_GATEWAY_DELAY", "0.3")))
        return result


class TimeoutAfterChargeGateway(SandboxGateway):
    """The worst timeout: the charge is made, then the answer is lost. The same key later returns it."""

    def charge(self, *, idempotency_key, **kwargs):
        charged_before = SandboxCharge.objects.filter(idempotency_key=idempotency_key).exists()
        result = super().charge(idempotency_key=idempotency_key, **kwargs)
        if not charged_before:
            raise TransientGatewayError("timeout")
        return result


class WorkerDied(BaseException):
    """Stands for the worker process vanishing (SIGKILL, out of memory): nothing after it runs."""


class DyingGateway(SandboxGateway):
    """Charges the card, then the worker dies before the answer is recorded."""

    def charge(self, **kwargs):
        super().charge(**kwargs)
        raise WorkerDied()


@dataclass
class Recorder:
    """What billing announced during a test: auto-recharge events, failures, successes, depletions."""

    events: list = field(default_factory=list)
    failed: list = field(default_factory=list)
    succeeded: list = field(default_factory=list)
    depleted: list = field(default_factory=list)

    def codes(self):
        return [code for code, _account, _context in self.events]

    def of(self, code):
        return [context for c, _account, context in self.events if c == code]


@pytest.fixture
def recorder():
    rec = Recorder()

    def on_event(sender, account, event, context, **kwargs):
        rec.events.append((event, account.pk, context))

    def on_failed(sender, payment, **kwargs):
        rec.failed.append(payment.pk)

    def on_succeeded(sender, payment, receipt, **kwargs):
        rec.succeeded.append((payment.pk, receipt.number))

    def on_depleted(sender, account, entry, **kwargs):
        rec.depleted.append(entry.pk)

    pairs = [
        (signals.auto_recharge_event, on_event),
        (signals.payment_failed, on_failed),
        (signals.payment_succeeded, on_succeeded),
        (signals.balance_depleted, on_depleted),
    ]
    for signal, receiver in pairs:
        signal.connect(receiver, weak=False)
    yield rec
    for signal, receiver in pairs:
        signal.disconnect(receiver)


def arm(org, card, actor, *, balance="100.00", amount="50.00", trigger="20.00", cap=None):
    """Fund the account through the services and turn auto-recharge on."""
    if balance and Decimal(balance) > 0:
        services.fund_credits(
            organization=org, actor=actor, amount=Decimal(balance), payment_method=card, idempotency_key=f"arm:{org.pk}"
        )
    services.update_auto_recharge(
        organization=org,
        actor=actor,
        enabled=True,
        amount=Decimal(amount),
        trigger=Decimal(trigger),
        payment_method=card,
        monthly_cap=None if cap is None else Decimal(cap),
    )
    return services.get_credit_account(org)


_spent = iter(range(1, 10**9))


def spend(account, amount):
    """A call charged to credits (usage), through the service."""
    return services.charge_usage(
        account_id=account.pk, amount=Decimal(amount), idempotency_key=f"call:{next(_spent)}", memo="Test call"
    )


# --- the gateways themselves -------------------------------------------------------------------------------

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_timeout_gateway_charges_once_and_answers_the_retry_with_the_same_charge(card):
    gateway = TimeoutAfterChargeGateway()
    with pytest.raises(TransientGatewayError):
        gateway.charge(token=card.gateway_token, amount=Decimal("5.00"), currency="USD", idempotency_key="k1")
    again = gateway.charge(token=card.gateway_token, amount=Decimal("5.00"), currency="USD", idempotency_key="k1")
    assert SandboxCharge.objects.filter(idempotency_key="k1").count() == 1
    assert again.reference == SandboxCharge.objects.get(idempotency_key="k1").reference


def test_the_counting_gateway_counts_every_call_but_charges_once_per_key(card):
    CountingGateway.reset()
    gateway = CountingGateway()
    for _ in range(3):
        gateway.charge(token=card.gateway_token, amount=Decimal("5.00"), currency="USD", idempotency_key="k2")
    assert CountingGateway.calls == 3
    assert SandboxCharge.objects.filter(idempotency_key="k2").count() == 1
