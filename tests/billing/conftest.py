"""Fixtures shared by the billing tests."""

from dataclasses import dataclass, field, fields
from datetime import datetime
from decimal import Decimal

import pytest
from django.db import models

from billing.events import BalanceDepleted, PaymentFailed, PaymentSucceeded, billing_event


def _plain(value):
    """A payload value as a test compares it: amounts and times as text, records by their id."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, models.Model):
        return value.pk
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value


@dataclass
class Recorder:
    """What billing announced during a test: every event, plus the failures, successes and depletions."""

    events: list = field(default_factory=list)  # (code, account id, payload fields but the account)
    failed: list = field(default_factory=list)
    succeeded: list = field(default_factory=list)
    depleted: list = field(default_factory=list)

    def codes(self):
        return [code for code, _account, _payload in self.events]

    def of(self, code):
        return [payload for c, _account, payload in self.events if c == code]

    def __call__(self, sender, event, **kwargs):
        payload = {f.name: _plain(getattr(event, f.name)) for f in fields(event) if f.name != "account"}
        self.events.append((str(event.code), event.account.pk, payload))
        if isinstance(event, PaymentFailed):
            self.failed.append(event.payment.pk)
        elif isinstance(event, PaymentSucceeded):
            self.succeeded.append((event.payment.pk, event.receipt.number))
        elif isinstance(event, BalanceDepleted):
            self.depleted.append(event.entry.pk)


@pytest.fixture
def recorder():
    rec = Recorder()
    billing_event.connect(rec, weak=False, dispatch_uid="tests.recorder")
    yield rec
    billing_event.disconnect(dispatch_uid="tests.recorder")
