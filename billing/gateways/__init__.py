from django.conf import settings
from django.utils.module_loading import import_string

from .base import CardDeclined, CardDetails, ChargeResult, GatewayError, PaymentGateway, TransientGatewayError

__all__ = [
    "CardDeclined",
    "CardDetails",
    "ChargeResult",
    "GatewayError",
    "PaymentGateway",
    "TransientGatewayError",
    "get_gateway",
]


def get_gateway() -> PaymentGateway:
    """The gateway named by settings.PAYMENT_GATEWAY."""
    return import_string(settings.PAYMENT_GATEWAY)()
