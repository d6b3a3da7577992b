"""Reconciliation: balances against the ledger and the lots, payments against their credits; mismatches
alert support once and are listed in Django admin until fixed."""

from decimal import Decimal

import pytest
from django.urls import reverse

from billing import services, tasks
from billing.models import CreditAccount, CreditLot, Payment, ReconciliationMismatch
from billing.services.reconciliation import find_mismatches, reconcile
from tests.factories import UserFactory, arm, spend

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_ledger_kept_through_the_services_reconciles(org, card, billing_admin):
    account = arm(org, card, billing_admin)
    spend(account, "85.00")  # a recharge follows
    spend(account, "70.00")  # into debt: a usage charge may go below zero
    assert find_mismatches() == []
    assert tasks.reconcile_ledgers_task.delay().get() == 0
    assert not ReconciliationMismatch.objects.exists()


def test_a_balance_that_disagrees_with_its_ledger_is_found_alerted_once_and_resolved_when_fixed(funded_account, recorder):
    CreditAccount.objects.filter(pk=funded_account.pk).update(balance=Decimal("130.00"))
    found = reconcile()
    assert {m.code for m in found} == {"balance", "lots"}
    (alert,) = recorder.of("reconciliation_mismatch")
    assert "The balance is 130.00 but the ledger sums to 100.00." in alert["problems"]
    reconcile()
    assert len(recorder.of("reconciliation_mismatch")) == 1, "an open problem is not announced again"
    assert ReconciliationMismatch.objects.filter(resolved_at__isnull=True).count() == 2
    CreditAccount.objects.filter(pk=funded_account.pk).update(balance=Decimal("100.00"))
    assert reconcile() == []
    assert ReconciliationMismatch.objects.filter(resolved_at__isnull=True).count() == 0


def test_a_succeeded_payment_without_its_credit_is_found(funded_account):
    payment = Payment.objects.get(account=funded_account)
    Payment.objects.filter(pk=payment.pk).update(entry=None)
    codes = {m.code for m in find_mismatches()}
    assert f"payment_without_credit:{payment.idempotency_key}" in codes
    assert f"credit_without_payment:payment:{payment.idempotency_key}" in codes


def test_a_failed_payment_with_a_credit_is_found(funded_account):
    payment = Payment.objects.get(account=funded_account)
    Payment.objects.filter(pk=payment.pk).update(status="failed")
    assert [m.code for m in find_mismatches()] == [f"credit_without_success:{payment.idempotency_key}"]


def test_lots_that_disagree_with_the_balance_are_found(funded_account):
    CreditLot.objects.filter(account=funded_account).update(remaining=Decimal("90.00"))
    (mismatch,) = find_mismatches()
    assert mismatch.code == "lots" and "90.00" in mismatch.problem


def test_support_sees_the_mismatches_in_django_admin_and_can_run_the_check(client, support, funded_account):
    CreditAccount.objects.filter(pk=funded_account.pk).update(balance=Decimal("1.00"))
    client.force_login(support)
    listing = reverse("admin:billing_reconciliationmismatch_changelist")
    assert "ledger sums to" not in client.get(listing).content.decode()
    response = client.post(reverse("admin:billing_reconciliationmismatch_run"), follow=True)
    page = response.content.decode()
    assert "Reconciliation found 2 problem(s)" in page
    assert "The balance is 1.00 but the ledger sums to 100.00." in page
    live = client.get(reverse("admin:billing_creditaccount_reconciliation")).content.decode()
    assert "ledger sums to 100.00" in live


def test_someone_without_access_cannot_run_the_check(client, funded_account):
    staff = UserFactory(username="nobody@credits.example", is_staff=True)
    client.force_login(staff)
    client.post(reverse("admin:billing_reconciliationmismatch_run"))
    assert not ReconciliationMismatch.objects.exists()
    services.adjust_balance(account=funded_account, actor=None, amount=Decimal("1.00"), reason="keeps reconciling")
    assert find_mismatches() == []
