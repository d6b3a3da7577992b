"""Support staff and auto-recharge in Django admin: attempts with status, reason, gateway reference and
timings; retrying a failed attempt (through the services, idempotent); resuming a paused auto-recharge;
the demo's spend button."""

from decimal import Decimal

import pytest
from django.core.management import call_command
from django.urls import reverse

from billing.gateways.sandbox import sandbox_token
from billing.models import AutoRechargeState, CreditAccount, LedgerEntry, Payment, PaymentMethod
from tests.factories import CardFactory, UserFactory, arm, spend

pytestmark = pytest.mark.django_db(transaction=True)

PAYMENTS = reverse("admin:billing_payment_changelist")
ACCOUNTS = reverse("admin:billing_creditaccount_changelist")


@pytest.fixture
def failed_recharge(org, billing_admin):
    """A recharge refused for insufficient funds (the issuer may allow it later)."""
    card = CardFactory(organization=org, behaviour="insufficient_funds", last4="9995")
    arm(org, card, billing_admin, balance="0")
    return Payment.objects.get(account__organization=org, purpose="recharge")


def test_support_sees_attempts_with_status_reason_gateway_reference_and_timings(client, support, failed_recharge, funded_account):
    client.force_login(support)
    page = client.get(PAYMENTS).content.decode()
    assert "The card was declined for insufficient funds. (insufficient_funds)" in page
    paid = Payment.objects.get(account=funded_account, purpose="funding")
    assert paid.gateway_reference in page
    for column in ("Status", "Reason", "Gateway reference", "Started at", "Finished at", "Took", "Next retry at"):
        assert column in page
    assert client.get(reverse("admin:billing_payment_change", args=[failed_recharge.pk])).status_code == 200


def test_retrying_a_failed_recharge_makes_one_new_attempt_however_often_it_is_asked(client, support, failed_recharge):
    # The card holder sorted it out with the issuer: the same card now pays.
    PaymentMethod.objects.filter(pk=failed_recharge.payment_method_id).update(gateway_token=sandbox_token("ok"))
    client.force_login(support)
    for _ in range(2):
        response = client.post(
            PAYMENTS, {"action": "retry_failed_recharges", "_selected_action": [failed_recharge.pk]}, follow=True
        )
    attempts = Payment.objects.filter(account=failed_recharge.account, purpose="recharge").order_by("pk")
    assert [p.status for p in attempts] == ["failed", "succeeded"]
    assert "already followed by another attempt" in response.content.decode()
    account = CreditAccount.objects.get(pk=failed_recharge.account_id)
    assert account.balance == Decimal("50.00") and account.auto_recharge_state.consecutive_failures == 0


def test_a_funding_payment_is_not_retried_behind_the_customers_back(client, support, funded_account):
    funding = Payment.objects.get(account=funded_account)
    Payment.objects.filter(pk=funding.pk).update(status="failed")
    client.force_login(support)
    before = Payment.objects.count()
    response = client.post(PAYMENTS, {"action": "retry_failed_recharges", "_selected_action": [funding.pk]}, follow=True)
    assert "Only an auto-recharge can be retried here" in response.content.decode()
    assert Payment.objects.count() == before


def test_support_resumes_a_paused_auto_recharge(client, support, failed_recharge):
    account = failed_recharge.account
    AutoRechargeState.objects.filter(account=account).update(paused_at="2026-01-01T00:00Z", paused_reason="Paused")
    PaymentMethod.objects.filter(pk=failed_recharge.payment_method_id).update(gateway_token=sandbox_token("ok"))
    client.force_login(support)
    listing = client.get(ACCOUNTS, {"recharge_state": "paused"}).content.decode()
    assert "paused: Paused" in listing
    response = client.post(ACCOUNTS, {"action": "resume_auto_recharge", "_selected_action": [account.pk]}, follow=True)
    assert "Auto-recharge resumed for 1 account(s)." in response.content.decode()
    account.refresh_from_db()
    assert account.auto_recharge_state.paused_at is None and account.balance == Decimal("50.00")
    assert account.auto_recharge_changes.filter(changed_by=support).exists()


def test_staff_without_the_permissions_get_no_retry_or_resume_actions(client, failed_recharge):
    staff = UserFactory(username="viewer@credits.example", is_staff=True)
    from django.contrib.auth.models import Permission

    staff.user_permissions.add(*Permission.objects.filter(codename__in=["view_payment", "view_creditaccount"]))
    client.force_login(staff)
    assert "retry_failed_recharges" not in client.get(PAYMENTS).content.decode()
    assert "resume_auto_recharge" not in client.get(ACCOUNTS).content.decode()
    client.post(PAYMENTS, {"action": "retry_failed_recharges", "_selected_action": [failed_recharge.pk]})
    assert Payment.objects.filter(purpose="recharge").count() == 1


def test_the_demo_spend_button_exists_only_in_the_demo_and_takes_the_balance_below_the_trigger(client, support, org, card, billing_admin, settings):
    account = arm(org, card, billing_admin)
    client.force_login(support)
    settings.DEBUG = False
    assert "spend_demo_credits" not in client.get(ACCOUNTS).content.decode()
    settings.DEBUG = True
    assert "spend_demo_credits" in client.get(ACCOUNTS).content.decode()
    client.post(ACCOUNTS, {"action": "spend_demo_credits", "_selected_action": [account.pk]})
    demo = LedgerEntry.objects.get(account=account, idempotency_key__startswith="demo-spend:")
    assert demo.amount == Decimal("-81.00") and demo.balance_after == Decimal("19.00")
    account.refresh_from_db()
    assert account.balance == Decimal("69.00"), "and the recharge followed"


def test_the_spend_demo_credits_command_takes_contoso_below_its_trigger(support, capsys):
    call_command("spend_demo_credits")
    out = capsys.readouterr().out
    assert "Below the $20.00 trigger" in out
    contoso = CreditAccount.objects.get(organization__slug="contoso")
    assert contoso.balance == Decimal("69.00")
    spend(contoso, "1.00")
    assert contoso.payments.filter(purpose="recharge", status="succeeded").count() == 1
