"""Credits expire 12 months after purchase (a ledger entry per lot), with warnings 30 and 7 days ahead."""

from datetime import timedelta
from decimal import Decimal

import pytest
from dateutil.relativedelta import relativedelta
from django.utils import timezone

from billing import services, tasks
from billing.choices import EntryKind
from billing.models import CreditLot, LedgerEntry, Payment
from billing.selectors import credit_account
from billing.services import expiry
from billing.services.reconciliation import find_mismatches
from tests.factories import arm, spend

pytestmark = pytest.mark.django_db(transaction=True)


def old_lot(account, amount, months_ago=12, days_more=1, key="old"):
    """Credits granted long ago, through the ledger service (its `at` is when they were granted)."""
    at = timezone.now() - relativedelta(months=months_ago) - timedelta(days=days_more)
    entry = services.post_entry(
        account_id=account.pk, kind=EntryKind.ADJUSTMENT, amount=Decimal(amount), idempotency_key=key, memo="Old grant", at=at
    ).entry
    return CreditLot.objects.get(entry=entry)


def test_what_is_left_of_a_lot_expires_after_twelve_months_with_one_ledger_entry(account, org, card, billing_admin, recorder):
    lot = old_lot(account, "100.00")
    services.fund_credits(organization=org, actor=billing_admin, amount=Decimal("50.00"), payment_method=card, idempotency_key="new")
    spend(account, "30.00")  # first in, first out: from the old lot
    lot.refresh_from_db()
    assert lot.remaining == Decimal("70.00")

    assert expiry.expire_lots() == 1
    account.refresh_from_db()
    assert account.balance == Decimal("50.00")
    entry = LedgerEntry.objects.get(account=account, kind=EntryKind.EXPIRY)
    assert entry.amount == Decimal("-70.00") and entry.idempotency_key == f"expiry:lot:{lot.pk}"
    lot.refresh_from_db()
    assert lot.remaining == 0
    assert CreditLot.objects.get(entry__idempotency_key="payment:new").remaining == Decimal("50.00")
    assert recorder.of("credits_expired") == [{"amount": "70.00", "lots": 1}]
    assert find_mismatches([account.pk]) == []


def test_running_the_daily_expiry_twice_expires_nothing_twice(account, recorder):
    old_lot(account, "40.00")
    result = tasks.expire_credits_task.delay().get()
    assert result["expired_accounts"] == 1
    assert expiry.expire_lots() == 0
    assert LedgerEntry.objects.filter(kind=EntryKind.EXPIRY).count() == 1
    assert len(recorder.of("credits_expired")) == 1


def test_a_lot_younger_than_twelve_months_does_not_expire(account):
    old_lot(account, "40.00", months_ago=11)
    assert expiry.expire_lots() == 0
    account.refresh_from_db()
    assert account.balance == Decimal("40.00")


def test_an_expiry_that_takes_the_balance_below_the_trigger_is_followed_by_a_recharge(org, account, card, billing_admin):
    old_lot(account, "30.00")
    account = arm(org, card, billing_admin, balance="10.00", amount="50.00", trigger="20.00")  # 40: not due
    assert not Payment.objects.filter(purpose="recharge").exists()
    assert expiry.expire_lots() == 1  # 30 expire: 10, below the trigger
    account.refresh_from_db()
    assert account.balance == Decimal("60.00")
    assert Payment.objects.filter(purpose="recharge", status="succeeded").count() == 1
    assert find_mismatches([account.pk]) == []


def test_warnings_go_out_thirty_and_seven_days_ahead_once_each(org, card, billing_admin, recorder):
    services.fund_credits(organization=org, actor=billing_admin, amount=Decimal("80.00"), payment_method=card, idempotency_key="f")
    lot = CreditLot.objects.get()
    thirty_ahead = lot.expires_at - timedelta(days=29, hours=12)
    assert expiry.warn_expiring_lots(now=lot.expires_at - timedelta(days=31)) == 0
    assert expiry.warn_expiring_lots(now=thirty_ahead) == 1
    assert expiry.warn_expiring_lots(now=thirty_ahead + timedelta(days=1)) == 0, "once"
    seven_ahead = lot.expires_at - timedelta(days=6, hours=12)
    assert expiry.warn_expiring_lots(now=seven_ahead) == 1
    assert expiry.warn_expiring_lots(now=seven_ahead + timedelta(days=1)) == 0, "once"
    first, second = recorder.of("credits_expiring")
    assert (first["days"], first["notice"], first["amount"]) == (30, 30, "80.00")
    assert (second["days"], second["notice"], second["amount"]) == (7, 7, "80.00")
    assert first["expires_at"] == lot.expires_at.isoformat()


def test_a_lot_found_inside_seven_days_gets_only_the_seven_day_warning(org, card, billing_admin, recorder):
    services.fund_credits(organization=org, actor=billing_admin, amount=Decimal("80.00"), payment_method=card, idempotency_key="f")
    lot = CreditLot.objects.get()
    assert expiry.warn_expiring_lots(now=lot.expires_at - timedelta(days=3)) == 1
    assert [c["notice"] for c in recorder.of("credits_expiring")] == [7]
    assert expiry.warn_expiring_lots(now=lot.expires_at - timedelta(days=2)) == 0


def test_an_amount_not_worth_mentioning_is_not_warned_about(org, card, billing_admin, recorder):
    services.fund_credits(organization=org, actor=billing_admin, amount=Decimal("10.00"), payment_method=card, idempotency_key="f")
    spend(credit_account(org), "9.50")
    lot = CreditLot.objects.get()
    assert expiry.warn_expiring_lots(now=lot.expires_at - timedelta(days=20)) == 0
    assert recorder.of("credits_expiring") == []


def test_the_credits_page_shows_the_lot_that_expires_first_and_what_expires_within_30_days(
    account, org, billing_admin, client, django_assert_max_num_queries
):
    from billing.selectors import next_expiry
    from tests.factories import OrganizationFactory

    assert next_expiry(account) == (None, None)
    spent_first = old_lot(account, "9.00", months_ago=11, days_more=28, key="spent")  # spent below: not shown
    soonest = old_lot(account, "5.00", months_ago=11, days_more=25, key="soonest")  # expires in under a week
    old_lot(account, "7.00", months_ago=11, days_more=10, key="later")  # in about three weeks
    old_lot(account, "11.00", months_ago=6, key="far")  # in about six months: not in the 30 days
    spend(account, "9.00")  # first in, first out: the oldest lot is used up
    assert CreditLot.objects.get(pk=spent_first.pk).remaining == 0
    other = credit_account(OrganizationFactory())
    old_lot(other, "99.00", months_ago=11, days_more=29, key="theirs")  # another organization's, sooner still

    lot, expiring = next_expiry(account)
    assert lot == soonest and expiring == Decimal("12.00")
    client.force_login(billing_admin)
    with django_assert_max_num_queries(20):
        page = client.get("/billing/products/communications-credits/")
    body = page.content.decode()
    assert f"$5.00 on {soonest.expires_at:%b} {soonest.expires_at.day}, {soonest.expires_at.year}" in body
    assert "$12.00 expires in the next 30 days." in body
