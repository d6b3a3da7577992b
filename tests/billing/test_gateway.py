from decimal import Decimal

import pytest

from billing import services
from billing.exceptions import BillingError
from billing.gateways import CardDeclined, TransientGatewayError
from billing.gateways.sandbox import SandboxGateway, luhn_valid
from billing.models import PaymentMethod, SandboxCharge
from tests.billing.gateways import CountingGateway, TimeoutAfterChargeGateway


@pytest.mark.parametrize(
    "number, code",
    [
        ("4000 0000 0000 0069", "expired_card"),
        ("4000000000009995", "insufficient_funds"),
        ("4000000000000002", "card_declined"),
        ("4242424242424241", "incorrect_number"),
    ],
)
def test_the_sandbox_refuses_the_documented_declining_cards_when_attached(number, code):
    with pytest.raises(CardDeclined) as error:
        SandboxGateway().attach_card(number=number, exp_month=12, exp_year=2031, cvc="123")
    assert error.value.code == code


@pytest.mark.django_db
def test_a_card_that_attaches_but_fails_every_charge():
    details = SandboxGateway().attach_card(number="4000000000000341", exp_month=1, exp_year=2032, cvc="123")
    assert details.last4 == "0341"
    with pytest.raises(CardDeclined):
        SandboxGateway().charge(token=details.token, amount=Decimal("10"), currency="USD", idempotency_key="a")


@pytest.mark.django_db
def test_the_processing_error_card_fails_transiently():
    details = SandboxGateway().attach_card(number="4000000000000119", exp_month=1, exp_year=2032, cvc="123")
    with pytest.raises(TransientGatewayError):
        SandboxGateway().charge(token=details.token, amount=Decimal("10"), currency="USD", idempotency_key="b")


@pytest.mark.django_db
def test_a_repeated_idempotency_key_returns_the_first_charge():
    details = SandboxGateway().attach_card(number="4242424242424242", exp_month=1, exp_year=2032, cvc="123")
    first = SandboxGateway().charge(token=details.token, amount=Decimal("10"), currency="USD", idempotency_key="same")
    second = SandboxGateway().charge(token=details.token, amount=Decimal("10"), currency="USD", idempotency_key="same")
    assert first.reference == second.reference


def test_luhn():
    assert luhn_valid("4242424242424242") and not luhn_valid("4242424242424243")


@pytest.mark.django_db
def test_only_brand_last_four_expiry_and_token_are_stored(org, billing_admin, caplog):
    caplog.set_level("DEBUG")
    method = services.add_card(organization=org, actor=billing_admin, number="4242424242424242", exp_month=7, exp_year=2031, cvc="321")
    stored = PaymentMethod.objects.filter(pk=method.pk).values().get()
    assert "4242424242424242" not in repr(stored)
    assert "321" not in [str(v) for v in stored.values()]
    assert (stored["brand"], stored["last4"], stored["exp_month"], stored["exp_year"]) == ("visa", "4242", 7, 2031)
    assert "4242424242424242" not in caplog.text


@pytest.mark.django_db
def test_an_expired_card_is_refused_with_its_reason(org, billing_admin):
    with pytest.raises(BillingError) as error:
        services.add_card(organization=org, actor=billing_admin, number="4000000000000069", exp_month=7, exp_year=2031, cvc="321")
    assert "expired" in error.value.message
    assert not PaymentMethod.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_the_timeout_gateway_charges_once_and_answers_the_retry_with_the_same_charge(card):
    gateway = TimeoutAfterChargeGateway()
    with pytest.raises(TransientGatewayError):
        gateway.charge(token=card.gateway_token, amount=Decimal("5.00"), currency="USD", idempotency_key="k1")
    again = gateway.charge(token=card.gateway_token, amount=Decimal("5.00"), currency="USD", idempotency_key="k1")
    assert SandboxCharge.objects.filter(idempotency_key="k1").count() == 1
    assert again.reference == SandboxCharge.objects.get(idempotency_key="k1").reference


@pytest.mark.django_db(transaction=True)
def test_the_counting_gateway_counts_every_call_but_charges_once_per_key(card):
    CountingGateway.reset()
    gateway = CountingGateway()
    for _ in range(3):
        gateway.charge(token=card.gateway_token, amount=Decimal("5.00"), currency="USD", idempotency_key="k2")
    assert CountingGateway.calls == 3
    assert SandboxCharge.objects.filter(idempotency_key="k2").count() == 1
