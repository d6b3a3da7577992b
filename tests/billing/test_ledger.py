from datetime import timedelta
from decimal import Decimal

import pytest
from dateutil.relativedelta import relativedelta
from django.db import IntegrityError, transaction
from django.utils import timezone

from billing import services
from billing.choices import EntryKind
from billing.events import BalanceDepleted, billing_event
from billing.exceptions import BillingError, InsufficientCredits
from billing.models import CreditLot, LedgerEntry
from billing.money import to_money

pytestmark = pytest.mark.django_db(transaction=True)


def post(account, kind, amount, key, **kw):
    return services.post_entry(account_id=account.pk, kind=kind, amount=Decimal(amount), idempotency_key=key, **kw)


def test_money_rounds_half_up_to_the_cent_and_refuses_floats():
    assert to_money("1.005") == Decimal("1.01")
    assert to_money(Decimal("2.344")) == Decimal("2.34")
    assert to_money("-0.125") == Decimal("-0.13")
    with pytest.raises(TypeError):
        to_money(1.5)


def test_balance_always_equals_the_sum_of_the_ledger(account):
    post(account, EntryKind.FUNDING, "50.00", "a")
    post(account, EntryKind.USAGE_CHARGE, "-12.34", "b")
    post(account, EntryKind.ADJUSTMENT, "5.00", "c")
    post(account, EntryKind.REFUND, "-10.00", "d")
    account.refresh_from_db()
    assert account.balance == Decimal("32.66")
    assert services.ledger_total(account.pk) == account.balance


def test_posting_the_same_key_twice_moves_money_once(account):
    first = post(account, EntryKind.FUNDING, "20.00", "same")
    second = post(account, EntryKind.FUNDING, "20.00", "same")
    assert first.created and not second.created
    assert second.entry.pk == first.entry.pk
    account.refresh_from_db()
    assert account.balance == Decimal("20.00")


def test_only_a_usage_charge_may_take_the_balance_below_zero(account):
    post(account, EntryKind.FUNDING, "10.00", "fund")
    with pytest.raises(InsufficientCredits):
        post(account, EntryKind.REFUND, "-10.01", "refund")
    with pytest.raises(InsufficientCredits):
        post(account, EntryKind.ADJUSTMENT, "-11.00", "adj")
    post(account, EntryKind.USAGE_CHARGE, "-12.00", "call")
    account.refresh_from_db()
    assert account.balance == Decimal("-2.00")
    assert account.is_depleted and account.depleted_at is not None


def test_the_database_refuses_a_negative_balance_from_anything_but_usage(account):
    with pytest.raises(IntegrityError), transaction.atomic():
        LedgerEntry.objects.create(
            account=account, kind=EntryKind.ADJUSTMENT, amount=Decimal("-1"), balance_after=Decimal("-1"),
            idempotency_key="raw", created_at=timezone.now(),
        )


def test_zero_and_wrongly_signed_entries_are_refused(account):
    with pytest.raises(BillingError):
        post(account, EntryKind.FUNDING, "0", "zero")
    with pytest.raises(BillingError):
        post(account, EntryKind.USAGE_CHARGE, "5.00", "positive-usage")
    with pytest.raises(BillingError):
        post(account, EntryKind.FUNDING, "-5.00", "negative-funding")


def test_entries_are_append_only(account):
    entry = post(account, EntryKind.FUNDING, "10.00", "x").entry
    entry.memo = "changed"
    with pytest.raises(ValueError):
        entry.save()
    with pytest.raises(ValueError):
        entry.delete()


def test_spending_draws_the_oldest_lot_first(account):
    now = timezone.now()
    post(account, EntryKind.FUNDING, "10.00", "old", at=now - timedelta(days=40))
    post(account, EntryKind.FUNDING, "30.00", "new", at=now - timedelta(days=2))
    post(account, EntryKind.USAGE_CHARGE, "-15.00", "call")
    old, new = CreditLot.objects.filter(account=account).order_by("purchased_at")
    assert old.remaining == Decimal("0.00")
    assert new.remaining == Decimal("25.00")


def test_a_lot_expires_twelve_months_after_purchase(account):
    bought = timezone.now()
    entry = post(account, EntryKind.FUNDING, "10.00", "lot", at=bought).entry
    assert entry.lot.expires_at == bought + relativedelta(months=12)


def test_money_that_arrives_while_in_debt_pays_the_debt_first(account):
    post(account, EntryKind.FUNDING, "5.00", "fund")
    post(account, EntryKind.USAGE_CHARGE, "-8.00", "call")
    post(account, EntryKind.FUNDING, "20.00", "top-up")
    account.refresh_from_db()
    assert account.balance == Decimal("17.00")
    open_lots = CreditLot.objects.filter(account=account, remaining__gt=0)
    assert sum(lot.remaining for lot in open_lots) == Decimal("17.00")
    assert account.depleted_at is None


def test_depletion_is_signalled_once_per_crossing(account):
    seen = []

    def listener(sender, event, **kw):
        seen.append(event.entry.idempotency_key)

    billing_event.connect(listener, sender=BalanceDepleted)
    try:
        post(account, EntryKind.FUNDING, "5.00", "f1")
        post(account, EntryKind.USAGE_CHARGE, "-5.00", "c1")
        post(account, EntryKind.USAGE_CHARGE, "-1.00", "c2")
        post(account, EntryKind.FUNDING, "10.00", "f2")
        post(account, EntryKind.USAGE_CHARGE, "-10.00", "c3")
    finally:
        billing_event.disconnect(listener, sender=BalanceDepleted)
    assert seen == ["c1", "c3"]
