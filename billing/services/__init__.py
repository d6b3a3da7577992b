"""Every write of billing that matters, one function per use case (the modules of this package say
which room each belongs to; auto-recharge has a package of its own)."""

from .accounts import open_credit_account
from .auto_recharge.policy import (
    turn_off_auto_recharge,
    turn_off_auto_recharge_for_post_usage_billing,
    update_auto_recharge,
)
from .ledger import ledger_total, post_entry
from .payment_methods import add_card, add_enterprise_agreement, remove_payment_method
from .payments import fund_credits, process_funding, start_funding
from .support import adjust_balance, refund_credits
from .usage_charges import can_charge_credits, charge_usage

__all__ = [
    "add_card",
    "add_enterprise_agreement",
    "adjust_balance",
    "can_charge_credits",
    "charge_usage",
    "fund_credits",
    "ledger_total",
    "open_credit_account",
    "post_entry",
    "process_funding",
    "refund_credits",
    "remove_payment_method",
    "start_funding",
    "turn_off_auto_recharge",
    "turn_off_auto_recharge_for_post_usage_billing",
    "update_auto_recharge",
]
