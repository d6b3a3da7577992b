"""A sandbox gateway that behaves like Stripe's public test cards.

4242 4242 4242 4242 succeeds; 4000 0000 0000 0069 expired card; ...9995 insufficient funds; ...0002
generic decline (those three are refused when attached, as Stripe checks a card when it is saved);
...0341 attaches but every charge fails; ...0119 attaches and every charge meets a transient processing
error. The card number never leaves `attach_card`: only brand, last four, expiry and a token come back.
"""

import secrets
import uuid
from datetime import date

from django.db import IntegrityError, transaction
from django.views.decorators.debug import sensitive_variables

from billing.models import SandboxCharge

from .base import CardDeclined, CardDetails, ChargeResult, GatewayError, PaymentGateway, TransientGatewayError

# number -> (brand, behaviour at attach, behaviour at charge)
TEST_CARDS = {
    "4242424242424242": ("visa", None, "ok"),
    "5555555555554444": ("mastercard", None, "ok"),
    "4000000000000069": ("visa", "expired_card", "expired_card"),
    "4000000000009995": ("visa", "insufficient_funds", "insufficient_funds"),
    "4000000000000002": ("visa", "card_declined", "card_declined"),
    "4000000000000341": ("visa", None, "card_declined"),
    "4000000000000119": ("visa", None, "processing_error"),
}
CHARGE_BEHAVIOURS = {"ok", "expired_card", "insufficient_funds", "card_declined", "processing_error", "lost_card"}


def luhn_valid(number: str) -> bool:
    digits = [int(d) for d in number]
    checksum = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        checksum += d
    return checksum % 10 == 0


def sandbox_token(behaviour: str) -> str:
    """A token whose charges behave as `behaviour`; tests use it to put any kind of card on file."""
    if behaviour not in CHARGE_BEHAVIOURS:
        raise ValueError(f"unknown sandbox behaviour {behaviour!r}")
    return f"sbx_{behaviour}_{secrets.token_hex(8)}"


class SandboxGateway(PaymentGateway):
    @sensitive_variables("number", "cvc")
    def attach_card(self, *, number, exp_month, exp_year, cvc):
        number = "".join(ch for ch in str(number) if ch.isdigit())
        if len(number) < 12 or not luhn_valid(number):
            raise CardDeclined("incorrect_number")
        if number not in TEST_CARDS:
            raise CardDeclined(
                "card_declined", "The sandbox accepts only the documented test cards, such as 4242 4242 4242 4242."
            )
        today = date.today()
        if (int(exp_year), int(exp_month)) < (today.year, today.month):
            raise CardDeclined("expired_card")
        brand, attach_failure, charge_behaviour = TEST_CARDS[number]
        if attach_failure:
            raise CardDeclined(attach_failure)
        return CardDetails(
            brand=brand,
            last4=number[-4:],
            exp_month=int(exp_month),
            exp_year=int(exp_year),
            token=sandbox_token(charge_behaviour),
        )

    def charge(self, *, token, amount, currency, idempotency_key, description=""):
        existing = SandboxCharge.objects.filter(idempotency_key=idempotency_key).first()
        if existing:
            return ChargeResult(reference=existing.reference)
        behaviour = token[4:].rsplit("_", 1)[0] if token.startswith("sbx_") else "card_declined"
        if behaviour == "processing_error":
            raise TransientGatewayError("processing_error")
        if behaviour != "ok":
            raise CardDeclined(behaviour)
        try:
            with transaction.atomic():
                charge = SandboxCharge.objects.create(
                    idempotency_key=idempotency_key,
                    token=token,
                    amount=amount,
                    currency=currency,
                    reference=f"ch_sbx_{uuid.uuid4().hex[:20]}",
                )
        except IntegrityError:
            # Another process charged with this key at the same moment: theirs is the one charge.
            charge = SandboxCharge.objects.get(idempotency_key=idempotency_key)
        return ChargeResult(reference=charge.reference)


__all__ = ["GatewayError", "SandboxGateway", "TEST_CARDS", "luhn_valid", "sandbox_token"]
