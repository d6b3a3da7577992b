"""Gateways that misbehave on purpose, for the auto-recharge tests. Named by dotted path in
settings.PAYMENT_GATEWAY (`f"{GATEWAYS}.SlowGateway"`), so that a worker in another thread or process
uses them too.

They keep their memory in the database (SandboxCharge), never in the process, so that a worker killed
and replaced, or a thread pool, sees the same charges.
"""

import os
import threading
import time

from billing.gateways.base import TransientGatewayError
from billing.gateways.sandbox import SandboxGateway
from billing.models import SandboxCharge

GATEWAYS = "tests.billing.gateways"


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
