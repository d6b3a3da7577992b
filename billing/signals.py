"""What billing announces. Sent inside the service's transaction; listeners record what they need in
that same transaction (an outbox), so a rollback takes it back. Billing never knows who listens."""

from django.dispatch import Signal

# account, entry, previous_balance
ledger_entry_posted = Signal()
# account, entry: the balance reached zero or less from above zero
balance_depleted = Signal()
# payment, receipt: a funding or a recharge was paid and credited
payment_succeeded = Signal()
# payment: a funding or recharge payment failed (payment.failure_code, payment.failure_message)
payment_failed = Signal()
# account, event (a short code such as "auto_recharge_paused"), context (dict)
auto_recharge_event = Signal()
