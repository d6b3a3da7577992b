"""Card expiry: warn once per card when the card auto-recharge charges expires before the next likely
recharge (predicted from the last 30 days of usage), so that recharges do not start failing."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import F, Sum
from django.utils import timezone

from billing.choices import CommerceModel, EntryKind, PaymentMethodKind
from billing.events import CardExpiresBeforeNextRecharge, announce
from billing.models import AutoRechargeState, LedgerEntry
from billing.money import ZERO

from .arming import lock_with_auto_recharge

# When usage is too thin to predict the next recharge, warn this long before the card expires.
CARD_WARNING_FALLBACK = timedelta(days=30)
USAGE_WINDOW_DAYS = 30
POST_USAGE_MODELS = (CommerceModel.NCE, CommerceModel.MCA)


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


def warn_expiring_cards(now=None) -> int:
    """Daily: announce once per card that it expires before the next likely recharge."""
    now = now or timezone.now()
    # A card valid for more than a year yet is left for a later day: its warning would come too early.
    within_a_year = now + timedelta(days=366)
    candidates = (
        AutoRechargeState.objects.filter(
            account__auto_recharge_policy__enabled=True,
            account__auto_recharge_policy__payment_method__isnull=False,
            account__auto_recharge_policy__payment_method__exp_year__lte=within_a_year.year,
        )
        .exclude(account__organization__commerce_model__in=POST_USAGE_MODELS)
        .exclude(card_expiry_warned_for=F("account__auto_recharge_policy__payment_method"))
        .values_list("account_id", flat=True)
    )
    warned = 0
    for account_id in candidates.iterator():
        with transaction.atomic():
            account = lock_with_auto_recharge(account_id)
            policy, state = account.auto_recharge_policy, account.auto_recharge_state
            card = policy.payment_method
            if card is None or state.card_expiry_warned_for_id == card.pk:
                continue
            warning = card_expiry_warning(account, policy, card, now)
            if warning is None:
                continue
            state.card_expiry_warned_for = card
            state.save(update_fields=["card_expiry_warned_for", "updated_at"])
            announce(
                CardExpiresBeforeNextRecharge(
                    account=account,
                    card=card.label,
                    expires=f"{card.exp_month:02d}/{card.exp_year}",
                    next_recharge_at=warning.next_recharge_at,
                    message=warning.message,
                )
            )
            warned += 1
    return warned
