"""Card expiry: warn once per card when the card auto-recharge charges expires before the next likely
recharge (predicted from the last 30 days of usage), so that recharges do not start failing."""

from datetime import timedelta

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from billing.events import CardExpiresBeforeNextRecharge, announce
from billing.models import AutoRechargeState
from billing.rules import POST_USAGE_MODELS
from billing.selectors import card_expiry_warning

from .state import lock_with_auto_recharge


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
