"""Limits shown to admins beside the fields they govern. Public docs give none; these are ours."""

from decimal import Decimal

FUNDING_MIN = Decimal("10.00")
FUNDING_MAX = Decimal("10000.00")
RECHARGE_AMOUNT_MIN = Decimal("10.00")
RECHARGE_AMOUNT_MAX = Decimal("10000.00")
RECHARGE_TRIGGER_MIN = Decimal("5.00")
RECHARGE_TRIGGER_MAX = Decimal("5000.00")
SUGGESTED_RECHARGE_AMOUNT = Decimal("50.00")
SUGGESTED_RECHARGE_TRIGGER = Decimal("10.00")
LOT_LIFETIME_MONTHS = 12
