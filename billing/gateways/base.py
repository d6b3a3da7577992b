"""What a payment gateway must do. Implementations never see or return more than a token for a card."""

from dataclasses import dataclass
from decimal import Decimal

# Plain words for gateway failure codes, and the way forward.
FAILURE_MESSAGES = {
    "expired_card": ("The card has expired.", "Update the payment method with a card that is still valid."),
    "insufficient_funds": (
        "The card was declined for insufficient funds.",
        "Use another card, or ask the card issuer to allow the charge.",
    ),
    "card_declined": ("The card was declined by its issuer.", "Use another card, or contact the card issuer."),
    "lost_card": ("The card was reported lost.", "Update the payment method with another card."),
    "stolen_card": ("The card was reported stolen.", "Update the payment method with another card."),
    "incorrect_number": ("The card number is not valid.", "Check the number and try again."),
    "processing_error": (
        "The payment processor had a temporary error.",
        "Nothing was charged. Try again in a few minutes.",
    ),
    "timeout": ("The payment processor did not answer in time.", "Try again in a few minutes."),
}


def describe_failure(code):
    return FAILURE_MESSAGES.get(code, ("The payment failed.", "Try again, or use another payment method."))


class GatewayError(Exception):
    transient = False

    def __init__(self, code, message=None):
        self.code = code
        self.message = message or describe_failure(code)[0]
        super().__init__(f"{code}: {self.message}")


class CardDeclined(GatewayError):
    """A hard decline: retrying the same card blindly will not help."""


class TransientGatewayError(GatewayError):
    """A processing error or timeout: the same request may succeed later (same idempotency key)."""

    transient = True


@dataclass(frozen=True)
class CardDetails:
    brand: str
    last4: str
    exp_month: int
    exp_year: int
    token: str


@dataclass(frozen=True)
class ChargeResult:
    reference: str


class PaymentGateway:
    def attach_card(self, *, number: str, exp_month: int, exp_year: int, cvc: str) -> CardDetails:
        raise NotImplementedError

    def charge(
        self, *, token: str, amount: Decimal, currency: str, idempotency_key: str, description: str = ""
    ) -> ChargeResult:
        """Charge once per idempotency key: a repeated key returns the first outcome."""
        raise NotImplementedError
