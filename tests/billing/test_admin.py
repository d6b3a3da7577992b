"""Support staff in Django admin: read-only ledger, money moves only through the services with a reason."""

from decimal import Decimal

import pytest
from django.core.management import call_command
from django.urls import reverse

from billing.models import LedgerEntry

pytestmark = pytest.mark.django_db(transaction=True)


def test_support_adjusts_a_balance_with_a_reason(client, support, funded_account):
    client.force_login(support)
    url = reverse("admin:billing_creditaccount_move_money", args=[funded_account.pk])
    key = "8d7e5f0c-2f43-4a55-9a43-5d0b1b1f0a11"
    refused = client.post(url, {"kind": "adjustment", "amount": "5.00", "reason": "", "key": key})
    assert refused.status_code == 200 and not LedgerEntry.objects.filter(kind="adjustment", account=funded_account).exists()
    form = {"kind": "adjustment", "amount": "5.00", "reason": "Goodwill credit for outage 4411", "key": key}
    client.post(url, form)
    client.post(url, form)  # a double click posts the same form twice
    entry = LedgerEntry.objects.get(kind="adjustment", account=funded_account)
    assert entry.created_by == support and "outage 4411" in entry.memo
    funded_account.refresh_from_db()
    assert funded_account.balance == Decimal("105.00")


def test_a_refund_larger_than_the_balance_is_refused(client, support, funded_account):
    client.force_login(support)
    url = reverse("admin:billing_creditaccount_move_money", args=[funded_account.pk])
    response = client.post(url, {"kind": "refund", "amount": "150.00", "reason": "Customer closed the account", "key": "2b1c0f4e-0b7e-4f3e-8f7e-1d3c5a6b7c8d"})
    assert "negative" in response.content.decode()
    funded_account.refresh_from_db()
    assert funded_account.balance == Decimal("100.00")


def test_the_ledger_is_read_only_in_admin(client, support, funded_account):
    client.force_login(support)
    entry = LedgerEntry.objects.filter(account=funded_account).first()
    assert client.get(reverse("admin:billing_ledgerentry_changelist")).status_code == 200
    assert client.post(reverse("admin:billing_ledgerentry_delete", args=[entry.pk]), {"post": "yes"}).status_code == 403
    assert LedgerEntry.objects.filter(pk=entry.pk).exists()


def test_the_support_group_cannot_manage_users_or_groups(client, support):
    client.force_login(support)
    assert client.get(reverse("admin:auth_user_changelist")).status_code == 403
    assert client.get(reverse("admin:auth_group_changelist")).status_code == 403


def test_payment_methods_are_masked_in_admin(client, support, card):
    client.force_login(support)
    page = client.get(reverse("admin:billing_paymentmethod_changelist")).content.decode()
    assert "ending in 4242" in page and card.gateway_token not in page


def test_load_demo_can_run_twice(support):
    before = LedgerEntry.objects.count()
    call_command("load_demo", verbosity=0)
    assert LedgerEntry.objects.count() == before
