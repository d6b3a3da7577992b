class BillingError(Exception):
    """A domain error with a message fit to show an admin as is."""

    def __init__(self, message, *, code="billing_error", field=None):
        super().__init__(message)
        self.message = message
        self.code = code
        self.field = field


class PurchaseBlocked(BillingError):
    def __init__(self, blockers):
        super().__init__(blockers[0].reason, code=blockers[0].code)
        self.blockers = blockers


class InsufficientCredits(BillingError):
    pass


class PaymentFailed(BillingError):
    pass
