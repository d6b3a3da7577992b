"""Every write of billing that matters, one function per use case."""

from .ledger import ledger_total, post_entry
from .payments import fund_credits, get_credit_account, process_funding, start_funding
from .settings import (
    add_card,
    add_enterprise_agreement,
    remove_payment_method,
    turn_off_auto_recharge,
    turn_off_auto_recharge_for_post_usage_billing,
    update_auto_recharge,
)
from .support import adjust_balance, refund_credits
from .usage_charges import can_charge_credits, charge_usage

__all__ = [
    "add_card",
    "add_enterprise_agreement",
    "adjust_balance",
    "can_charge_credits",
    "charge_usage",
    "fund_credits",
    "get_credit_account",
    "ledger_total",
    "post_entry",
    "process_funding",
    "refund_credits",
    "remove_payment_method",
    "start_funding",
    "turn_off_auto_recharge",
    "turn_off_auto_recharge_for_post_usage_billing",
    "update_auto_recharge",
]
