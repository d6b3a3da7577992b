"""Payment methods: cards attached through the gateway, and enterprise agreements."""

from django.db import transaction
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from billing.choices import PaymentMethodKind, PurchaseChannel
from billing.exceptions import BillingError
from billing.gateways import GatewayError, get_gateway
from billing.gateways.base import describe_failure
from billing.models import AutoRechargePolicy, PaymentMethod

from .auto_recharge.policy import adopt_new_card
from .ledger import lock_account


@sensitive_variables("number", "cvc")
def add_card(*, organization, actor, number, exp_month, exp_year, cvc) -> PaymentMethod:
    """Attach a card through the gateway; only brand, last four, expiry and token are kept."""
    try:
        details = get_gateway().attach_card(number=number, exp_month=exp_month, exp_year=exp_year, cvc=cvc)
    except GatewayError as error:
        raise BillingError(f"{error.message} {describe_failure(error.code)[1]}", code=error.code, field="number") from None
    with transaction.atomic(durable=True):
        method = PaymentMethod.objects.create(
            organization=organization,
            kind=PaymentMethodKind.CARD,
            brand=details.brand,
            last4=details.last4,
            exp_month=details.exp_month,
            exp_year=details.exp_year,
            gateway_token=details.token,
            created_by=actor,
        )
        adopt_new_card(organization=organization, actor=actor, card=method)
    return method


def add_enterprise_agreement(*, organization, actor, agreement_number) -> PaymentMethod:
    agreement_number = agreement_number.strip()
    if not agreement_number:
        raise BillingError("Enter the enterprise agreement number.", code="required", field="agreement_number")
    if organization.purchase_channel != PurchaseChannel.VOLUME_LICENSING:
        raise BillingError(
            "Only Volume Licensing customers can pay against an enterprise agreement.",
            code="not_volume_licensing",
            field="agreement_number",
        )
    return PaymentMethod.objects.create(
        organization=organization,
        kind=PaymentMethodKind.ENTERPRISE_AGREEMENT,
        agreement_number=agreement_number,
        created_by=actor,
    )


def remove_payment_method(*, organization, actor, payment_method) -> None:
    if payment_method.organization_id != organization.pk:
        raise BillingError("Not one of your organization's payment methods.", code="bad_payment_method")
    with transaction.atomic(durable=True):
        # Under the account's lock, so auto-recharge cannot start using this card meanwhile.
        account = lock_account(organization.credit_account.pk)
        in_use = AutoRechargePolicy.objects.filter(account=account, enabled=True, payment_method=payment_method).exists()
        if in_use:
            raise BillingError(
                "Auto-recharge charges this card. Choose another card in the auto-recharge settings, or turn "
                "auto-recharge off, before removing it.",
                code="in_use",
            )
        PaymentMethod.objects.filter(pk=payment_method.pk).update(removed_at=timezone.now(), gateway_token="")
