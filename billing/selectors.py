"""Reads shared by the billing pages, exports and tasks. Every one is scoped to an organization."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.db.models import Case, DecimalField, F, Sum, Value, When, Window
from django.utils import timezone

from .choices import EntryKind, PaymentMethodKind, PaymentPurpose, PaymentStatus, PurchaseChannel
from .gateways.base import describe_failure
from .models import AutoRechargeChange, CreditAccount, CreditLot, LedgerEntry, Payment, PaymentMethod, Receipt, Subscription
from .money import ZERO, format_money, to_money
from .rules import auto_recharge_must_be_off, included_destinations_notice, purchase_blockers, usage_coverage_notes


def credit_account(organization) -> CreditAccount:
    """The organization's account, with its auto-recharge policy (and card) and state."""
    return CreditAccount.objects.select_related(
        "auto_recharge_policy__payment_method", "auto_recharge_state"
    ).get(organization=organization)


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
    policy: object
    state: object
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
    account = credit_account(organization)
    policy, state = account.auto_recharge_policy, account.auto_recharge_state
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
    recharge_card = next((m for m in methods if m.pk == policy.payment_method_id), None)
    next_lot, expiring_amount = next_expiry(account)
    warning = None if auto_recharge_must_be_off(organization) else card_expiry_warning(account, policy, recharge_card)
    card_warning = warning.message if warning else None
    cap_reached = policy.enabled and monthly_cap_reached(account, policy)
    recent_failure = (
        Payment.objects.filter(account=account, purpose=PaymentPurpose.RECHARGE, status=PaymentStatus.FAILED)
        .select_related("payment_method")
        .first()
        if state.consecutive_failures or state.paused_at
        else None
    )
    return CreditsOverview(
        account=account,
        policy=policy,
        state=state,
        status=status,
        blockers=blockers,
        nce_auto_recharge_warning=policy.enabled and auto_recharge_must_be_off(organization),
        coverage_notice=None if blockers else included_destinations_notice(subscriptions),
        usage_coverage=[] if blockers else usage_coverage_notes(organization),
        subscriptions=subscriptions,
        payment_methods=methods,
        recharge_card=recharge_card,
        recent_receipts=list(Receipt.objects.filter(account=account)[:5]),
        audit_trail=list(AutoRechargeChange.objects.filter(account=account).select_related("changed_by")[:10]),
        next_expiry=next_lot,
        expiring_amount=expiring_amount,
        card_expiry_warning=card_warning,
        recent_failure=recent_failure,
        monthly_cap_reached=cap_reached,
        recent_failure_fix=describe_failure(recent_failure.failure_code)[1] if recent_failure else "",
        can_pay_by_agreement=organization.purchase_channel == PurchaseChannel.VOLUME_LICENSING,
        has_agreement=any(m.kind == PaymentMethodKind.ENTERPRISE_AGREEMENT for m in methods),
    )


EXPIRY_WARNING = timedelta(days=30)


def next_expiry(account, now=None):
    """(the open lot that expires first, or None; what the open lots hold that expires within
    EXPIRY_WARNING, or None when nothing is open). One query: the sum is a window over the open
    lots, taken before the LIMIT of the first one."""
    soon = (now or timezone.now()) + EXPIRY_WARNING
    expiring = Case(When(expires_at__lte=soon, then=F("remaining")), default=Value(ZERO), output_field=DecimalField())
    lot = (
        CreditLot.objects.filter(account=account, remaining__gt=0)
        .annotate(expiring_total=Window(Sum(expiring)))
        .order_by("expires_at", "pk")
        .first()
    )
    return (lot, to_money(lot.expiring_total)) if lot is not None else (None, None)


def auto_recharge_summary(account) -> str:
    """One line for support (Django admin) on where the account's auto-recharge stands."""
    policy, state = account.auto_recharge_policy, account.auto_recharge_state
    if not policy.enabled:
        return "off"
    if state.paused_at:
        return f"paused: {state.paused_reason}"
    if state.due_since is None:
        return "armed"
    amount = format_money(policy.amount or ZERO, account.currency)
    return f"due since {state.due_since:%Y-%m-%d %H:%M} ({amount})"


# --- auto-recharge: what the credits page shows, and what its guards and warnings decide on ----------------

# When usage is too thin to predict the next recharge, warn this long before the card expires.
CARD_WARNING_FALLBACK = timedelta(days=30)
USAGE_WINDOW_DAYS = 30


def month_start(now) -> datetime:
    return now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def next_month_start(now) -> datetime:
    start = month_start(now)
    return start.replace(year=start.year + 1, month=1) if start.month == 12 else start.replace(month=start.month + 1)


def recharged_this_month(account, now) -> Decimal:
    total = Payment.objects.filter(
        account=account,
        purpose=PaymentPurpose.RECHARGE,
        status=PaymentStatus.SUCCEEDED,
        finished_at__gte=month_start(now),
    ).aggregate(total=Sum("amount"))["total"]
    return to_money(total or ZERO)


def monthly_cap_reached(account, policy, now=None) -> bool:
    """True when the next recharge would go over the monthly cap (what the credits page shows)."""
    if policy.monthly_cap is None or policy.amount is None:
        return False
    now = now or timezone.now()
    return recharged_this_month(account, now) + policy.amount > policy.monthly_cap


def next_likely_recharge(account, policy, now=None) -> datetime | None:
    """When the balance will probably fall below the trigger, at the last 30 days' pace of usage."""
    if not policy.enabled or policy.trigger is None:
        return None
    now = now or timezone.now()
    if account.balance < policy.trigger:
        return now
    spent = -(
        LedgerEntry.objects.filter(
            account=account, kind=EntryKind.USAGE_CHARGE, created_at__gte=now - timedelta(days=USAGE_WINDOW_DAYS)
        ).aggregate(total=Sum("amount"))["total"]
        or ZERO
    )
    if spent <= 0:
        return None
    days = (account.balance - policy.trigger) / (spent / USAGE_WINDOW_DAYS)
    return now + timedelta(days=min(float(days), 3650.0))


@dataclass(frozen=True)
class CardWarning:
    card: object
    next_recharge_at: datetime | None
    message: str


def card_expiry_warning(account, policy, card, now=None) -> CardWarning | None:
    """Warn when the card auto-recharge charges will have expired by the next likely recharge (or, when
    usage is too thin to tell, within 30 days)."""
    if not policy.enabled or card is None or card.kind != PaymentMethodKind.CARD or not card.exp_year:
        return None
    now = now or timezone.now()
    next_at = next_likely_recharge(account, policy, now)
    horizon = next_at or now + CARD_WARNING_FALLBACK
    if not card.expires_before(horizon.date()):
        return None
    expiry = f"{card.exp_month:02d}/{card.exp_year}"
    if card.expires_before(now.date()):
        message = f"The card that auto-recharge charges ({card.label}) has expired. Add a new card so that recharges keep working."
    elif next_at is not None:
        message = (
            f"The card that auto-recharge charges ({card.label}) expires at the end of {expiry}, before the next "
            f"likely recharge (around {next_at:%b} {next_at.day}, at your recent usage). Add a new card so that "
            "recharges keep working."
        )
    else:
        message = f"The card that auto-recharge charges ({card.label}) expires at the end of {expiry}. Add a new card so that recharges keep working."
    return CardWarning(card=card, next_recharge_at=next_at, message=message)
