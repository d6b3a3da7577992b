"""The ledger under real concurrency, on PostgreSQL: no lost update, balance equals the ledger."""

import threading
from decimal import Decimal

import pytest
from django.db import connection, connections

from billing import services
from billing.choices import EntryKind
from billing.models import CreditLot, LedgerEntry, Payment, SandboxCharge
from billing.selectors import credit_account
from billing.services.reconciliation import find_mismatches
from tests.markers import requires_postgres

pytestmark = [requires_postgres, pytest.mark.django_db(transaction=True)]


def run_in_threads(target, args_list):
    errors = []
    barrier = threading.Barrier(len(args_list))

    def wrapper(*args):
        try:
            barrier.wait()
            target(*args)
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=wrapper, args=args) for args in args_list]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return errors


def test_many_threads_funding_and_charging_one_account_lose_no_update(funded_account):
    assert connection.vendor == "postgresql"
    account_id = funded_account.pk

    def work(i):
        if i % 2:
            # A support credit: a funding entry without its payment would (rightly) fail reconciliation.
            services.post_entry(account_id=account_id, kind=EntryKind.ADJUSTMENT, amount=Decimal("7.00"), idempotency_key=f"f{i}")
        else:
            services.charge_usage(account_id=account_id, amount=Decimal("3.25"), idempotency_key=f"c{i}")

    errors = run_in_threads(work, [(i,) for i in range(40)])
    assert errors == []
    funded_account.refresh_from_db()
    expected = Decimal("100.00") + 20 * Decimal("7.00") - 20 * Decimal("3.25")
    assert funded_account.balance == expected
    assert services.ledger_total(account_id) == funded_account.balance
    assert sum(lot.remaining for lot in CreditLot.objects.filter(account_id=account_id)) == expected
    assert find_mismatches() == []


def test_the_same_key_posted_by_many_threads_at_once_moves_money_once(account):
    errors = run_in_threads(
        lambda: services.post_entry(account_id=account.pk, kind=EntryKind.FUNDING, amount=Decimal("5.00"), idempotency_key="race"),
        [() for _ in range(12)],
    )
    assert errors == []
    assert LedgerEntry.objects.filter(account=account).count() == 1
    account.refresh_from_db()
    assert account.balance == Decimal("5.00")


def test_a_double_submitted_funding_racing_itself_charges_once(org, card, billing_admin):
    errors = run_in_threads(
        lambda: services.fund_credits(
            organization=org, actor=billing_admin, amount=Decimal("30.00"), payment_method=card, idempotency_key="double-click"
        ),
        [() for _ in range(8)],
    )
    assert errors == []
    assert Payment.objects.count() == 1
    assert SandboxCharge.objects.count() == 1
    assert credit_account(org).balance == Decimal("30.00")


def test_concurrent_refunds_never_take_the_balance_below_zero(funded_account, billing_admin):
    def refund():
        services.refund_credits(account=funded_account, actor=billing_admin, amount=Decimal("30.00"), reason="customer asked")

    errors = run_in_threads(refund, [() for _ in range(6)])
    funded_account.refresh_from_db()
    assert funded_account.balance == Decimal("10.00")
    assert len(errors) == 3
    assert services.ledger_total(funded_account.pk) == funded_account.balance
