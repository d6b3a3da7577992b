"""Reads shared by the billing pages, exports and tasks. Every one is scoped to an organization."""

from dataclasses import dataclass
from datetime import timedelta

from django.db.models import Sum
from django.utils import timezone

from .choices import PaymentMethodKind, PurchaseChannel
from .models import AutoRechargeChange, CreditLot, LedgerEntry, Payment, PaymentMethod, Receipt, Subscription
from .rules import auto_recharge_must_be_off, included_destinations_notice, purchase_blockers, usage_coverage_notes
from .services.payments import get_credit_account


def active_payment_methods(organization):
    return PaymentMethod.objects.filter(organization=organization, removed_at__isnull=True)


def card_payment_methods(organization):
    return active_payment_methods(organization).filter(kind=PaymentMethodKind.CARD)


def organization_subscriptions(organization):
    return Subscription.objects.filter(organization=organization).select_related("product")


def ledger_entries(organization):
    return LedgerEntry.objects.filter(account__organization=organization).select_related("receipt", "account").order_by(
        "-created_at", "-pk"
    )


def receipts(organization):
    return Receipt.objects.filter(account__organization=organization)


def receipt_for(organization, number):
    return receipts(organization).select_related("entry", "account__organization").get(number=number)


def payment_for(organization, idempotency_key):
    return Payment.objects.select_related("payment_method", "entry__receipt").get(
        account__organization=organization, idempotency_key=idempotency_key
    )


@dataclass
class CreditsStatus:
    code: str  # "active", "depleted", "not_purchasable"
    label: str
    detail: str


@dataclass
class CreditsOverview:
    account: object
    status: CreditsStatus
    blockers: list
    nce_auto_recharge_warning: bool
    coverage_notice: str | None
    usage_coverage: list
    subscriptions: list
    payment_methods: list
    recharge_card: object
    recent_receipts: list
    audit_trail: list
    next_expiry: object
    expiring_amount: object
    card_expiry_warning: str | None
    recent_failure: object
    monthly_cap_reached: bool
    recent_failure_fix: str
    can_pay_by_agreement: bool
    has_agreement: bool


def credits_overview(organization) -> CreditsOverview:
    account = get_credit_account(organization)
    blockers = purchase_blockers(organization)
    if blockers:
        status = CreditsStatus("not_purchasable", "Not purchasable", "Credits can't be bought for this organization: the reason and what to do are shown above.")
    elif account.balance <= 0:
        status = CreditsStatus(
            "depleted", "Depleted", "The balance is zero: calls charged to credits and toll-free numbers are stopped."
        )
    else:
        status = CreditsStatus("active", "Active", "Calls beyond your subscriptions are paid from this balance.")
    subscriptions = list(organization_subscriptions(organization))
    methods = list(active_payment_methods(organization))
    recharge_card = next((m for m in methods if m.pk == account.recharge_payment_method_id), None)
    soon = timezone.now() + timedelta(days=30)
    expiring = CreditLot.objects.filter(account=account, remaining__gt=0, expires_at__lte=soon)
    next_lot = CreditLot.objects.filter(account=account, remaining__gt=0).order_by("expires_at").first()
    from . import recharge

    warning = None if auto_recharge_must_be_off(organization) else recharge.card_expiry_warning(account, recharge_card)
    card_warning = warning.message if warning else None
    cap_reached = account.auto_recharge_enabled and recharge.monthly_cap_reached(account)
    recent_failure = (
        Payment.objects.filter(account=account, purpose="recharge", status="failed").select_related("payment_method").first()
        if account.consecutive_recharge_failures or account.auto_recharge_paused_at
        else None
    )
    return CreditsOverview(
        account=account,
        status=status,
        blockers=blockers,
        nce_auto_recharge_warning=account.auto_recharge_enabled and auto_recharge_must_be_off(organization),
        coverage_notice=None if blockers else included_destinations_notice(subscriptions),
        usage_coverage=[] if blockers else usage_coverage_notes(organization),
        subscriptions=subscriptions,
        payment_methods=methods,
        recharge_card=recharge_card,
        recent_receipts=list(receipts(organization)[:5]),
        audit_trail=list(AutoRechargeChange.objects.filter(account=account).select_related("changed_by")[:10]),
        next_expiry=next_lot,
        expiring_amount=expiring.aggregate(total=Sum("remaining"))["total"],
        card_expiry_warning=card_warning,
        recent_failure=recent_failure,
        monthly_cap_reached=cap_reached,
        recent_failure_fix=recharge.failure_fix(recent_failure) if recent_failure else "",
        can_pay_by_agreement=organization.purchase_channel == PurchaseChannel.VOLUME_LICENSING,
        has_agreement=any(m.kind == PaymentMethodKind.ENTERPRISE_AGREEMENT for m in methods),
    )
