"""Billing's models, one module per room: the tenant (tenancy), money (credits), taking money
(payments) and auto-recharge."""

from .auto_recharge import AutoRechargeChange, AutoRechargePolicy, AutoRechargeState
from .credits import CreditAccount, CreditLot, LedgerEntry, ReconciliationMismatch
from .fields import money_field
from .payments import Payment, PaymentMethod, Receipt, SandboxCharge
from .tenancy import Membership, MembershipRole, Organization, Product, Subscription

__all__ = [
    "AutoRechargeChange",
    "AutoRechargePolicy",
    "AutoRechargeState",
    "CreditAccount",
    "CreditLot",
    "LedgerEntry",
    "Membership",
    "MembershipRole",
    "Organization",
    "Payment",
    "PaymentMethod",
    "Product",
    "Receipt",
    "ReconciliationMismatch",
    "SandboxCharge",
    "Subscription",
    "money_field",
]
