"""Opening the Communications Credits account of an organization, with its auto-recharge policy and state."""

from django.db import transaction

from billing.models import AutoRechargePolicy, AutoRechargeState, CreditAccount


def open_credit_account(organization) -> CreditAccount:
    """The organization's account, policy and state, created if missing. Idempotent.

    Every organization gets them when it is created (billing/receivers.py), so that pages and
    selectors only ever read them.
    """
    with transaction.atomic():
        account, _ = CreditAccount.objects.get_or_create(
            organization=organization, defaults={"currency": organization.currency}
        )
        AutoRechargePolicy.objects.get_or_create(account=account)
        AutoRechargeState.objects.get_or_create(account=account)
    return account
