from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from billing import services
from billing.choices import CommerceModel, PaymentStatus, PurchaseChannel
from billing.exceptions import BillingError, PurchaseBlocked
from billing.gateways import TransientGatewayError
from billing.gateways.sandbox import SandboxGateway
from billing.models import LedgerEntry, Payment, Receipt, SandboxCharge
from billing.selectors import credit_account
from billing.services.payments import MAX_FUNDING_GATEWAY_CALLS, retry_pending_fundings
from tests.factories import CardFactory, OrganizationFactory

pytestmark = pytest.mark.django_db(transaction=True)


def fund(org, user, card, amount="25.00", key="k1", **kw):
    return services.fund_credits(
        organization=org, actor=user, amount=Decimal(amount), payment_method=card, idempotency_key=key, **kw
    )


def test_funding_with_a_good_card_credits_the_balance_and_issues_a_receipt(org, billing_admin, card):
    payment = fund(org, billing_admin, card, "25.00")
    assert payment.status == PaymentStatus.SUCCEEDED
    account = credit_account(org)
    assert account.balance == Decimal("25.00")
    receipt = Receipt.objects.get(entry=payment.entry)
    assert receipt.number.startswith("CC-") and receipt.amount == Decimal("25.00")
    assert "ending in 4242" in receipt.paid_with


def test_submitting_the_same_confirmation_twice_charges_once(org, billing_admin, card):
    first = fund(org, billing_admin, card, key="double")
    second = fund(org, billing_admin, card, key="double")
    assert first.pk == second.pk
    assert SandboxCharge.objects.count() == 1
    assert LedgerEntry.objects.filter(account__organization=org).count() == 1
    assert credit_account(org).balance == Decimal("25.00")


def test_a_reused_key_with_another_amount_is_refused(org, billing_admin, card):
    fund(org, billing_admin, card, "25.00", key="reuse")
    with pytest.raises(BillingError):
        fund(org, billing_admin, card, "30.00", key="reuse")


def test_a_declined_card_fails_without_moving_money(org, billing_admin):
    card = CardFactory(organization=org, behaviour="card_declined", last4="0341")
    payment = fund(org, billing_admin, card)
    assert payment.status == PaymentStatus.FAILED
    assert payment.failure_code == "card_declined"
    assert credit_account(org).balance == 0
    assert not LedgerEntry.objects.exists()


def test_a_transient_gateway_error_is_retried_in_the_background_with_the_same_key_then_given_up(org, billing_admin):
    card = CardFactory(organization=org, behaviour="processing_error", last4="0119")
    payment = fund(org, billing_admin, card)
    assert payment.status == PaymentStatus.PENDING and payment.next_retry_at is not None
    assert payment.failure_code == "processing_error"
    later = timezone.now() + timedelta(hours=2)
    for _ in range(5):
        retry_pending_fundings(now=later)
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.FAILED
    assert payment.gateway_calls == MAX_FUNDING_GATEWAY_CALLS
    assert SandboxCharge.objects.count() == 0
    assert credit_account(org).balance == 0


class FlakyThenFineGateway(SandboxGateway):
    """Times out after charging on the first call; the retry with the same key finds the charge."""

    calls = 0

    def charge(self, **kwargs):
        type(self).calls += 1
        result = super().charge(token=kwargs.pop("token").replace("processing_error", "ok"), **kwargs)
        if type(self).calls == 1:
            raise TransientGatewayError("timeout")
        return result


def test_a_funding_that_timed_out_after_charging_is_finished_once_by_the_retry(org, billing_admin, settings):
    settings.PAYMENT_GATEWAY = "tests.billing.test_funding.FlakyThenFineGateway"
    FlakyThenFineGateway.calls = 0
    card = CardFactory(organization=org, behaviour="processing_error", last4="0119")
    payment = fund(org, billing_admin, card)
    assert payment.status == PaymentStatus.PENDING
    assert SandboxCharge.objects.count() == 1, "the processor charged before timing out"
    retry_pending_fundings(now=timezone.now() + timedelta(hours=1))
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.SUCCEEDED
    assert SandboxCharge.objects.count() == 1
    assert credit_account(org).balance == Decimal("25.00")


def test_a_funding_left_processing_by_a_dead_request_is_finished_by_the_retry(org, billing_admin, card):
    payment = services.start_funding(
        organization=org, actor=billing_admin, amount=Decimal("25.00"), payment_method=card, idempotency_key="dead"
    )
    Payment.objects.filter(pk=payment.pk).update(status=PaymentStatus.PROCESSING, started_at=timezone.now() - timedelta(minutes=10))
    assert retry_pending_fundings() == 1
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.SUCCEEDED
    assert credit_account(org).balance == Decimal("25.00")


@pytest.mark.parametrize("amount", ["9.99", "10000.01", "0", "-5"])
def test_amounts_outside_the_stated_limits_are_refused(org, billing_admin, card, amount):
    with pytest.raises(BillingError) as error:
        fund(org, billing_admin, card, amount)
    assert error.value.field == "amount"
    assert not Payment.objects.exists()


def test_an_enterprise_agreement_needs_a_purchase_order(billing_admin):
    org = OrganizationFactory(purchase_channel=PurchaseChannel.VOLUME_LICENSING)
    agreement = services.add_enterprise_agreement(organization=org, actor=billing_admin, agreement_number="EA-1")
    with pytest.raises(BillingError) as error:
        fund(org, billing_admin, agreement, key="no-po")
    assert error.value.field == "purchase_order"
    payment = fund(org, billing_admin, agreement, key="with-po", purchase_order="PO-778")
    assert payment.status == PaymentStatus.SUCCEEDED
    assert Receipt.objects.get(entry=payment.entry).purchase_order == "PO-778"


@pytest.mark.parametrize(
    "attrs, code",
    [
        ({"commerce_model": CommerceModel.NCE}, "post_usage_billing"),
        ({"commerce_model": CommerceModel.MCA}, "post_usage_billing"),
        ({"purchase_channel": PurchaseChannel.CSP}, "csp"),
        ({"purchase_channel": PurchaseChannel.VOLUME_LICENSING, "country": "DE", "billing_region": "US"}, "region_mismatch"),
    ],
)
def test_blocked_organizations_cannot_buy_and_no_money_moves(billing_admin, attrs, code):
    org = OrganizationFactory(**attrs)
    card = CardFactory(organization=org)
    with pytest.raises(PurchaseBlocked) as blocked:
        fund(org, billing_admin, card)
    assert blocked.value.blockers[0].code == code
    assert blocked.value.blockers[0].way_forward
    assert not Payment.objects.exists() and not SandboxCharge.objects.exists()


def test_a_card_of_another_organization_cannot_pay(org, billing_admin, other_org):
    foreign = CardFactory(organization=other_org)
    with pytest.raises(BillingError):
        fund(org, billing_admin, foreign)


def test_a_volume_licensing_organization_in_its_agreement_region_can_buy(billing_admin):
    org = OrganizationFactory(purchase_channel=PurchaseChannel.VOLUME_LICENSING, country="DE", billing_region="DE")
    payment = fund(org, billing_admin, CardFactory(organization=org))
    assert payment.status == PaymentStatus.SUCCEEDED
