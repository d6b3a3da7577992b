"""Low-balance warnings set by admins: one email per downward crossing, re-armed by a rise back to it."""

from decimal import Decimal

import pytest
from django.core import mail

from billing import services as billing
from billing.selectors import credit_account
from notifications import kinds, services
from notifications.models import Event, LowBalanceThreshold
from tests.factories import CardFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def account(org, billing_admin):
    card = CardFactory(organization=org)
    billing.fund_credits(
        organization=org, actor=billing_admin, amount=Decimal("100.00"), payment_method=card, idempotency_key="fund:1"
    )
    mail.outbox.clear()
    return credit_account(org)


def spend(account, amount, key):
    billing.charge_usage(account_id=account.pk, amount=Decimal(amount), idempotency_key=key)


def credit(account, amount, actor):
    billing.adjust_balance(account=account, actor=actor, amount=Decimal(amount), reason="support top-up for the test")


def warnings():
    return list(Event.objects.filter(kind=kinds.LOW_BALANCE).order_by("pk"))


def threshold(org, actor, amount):
    return services.add_low_balance_threshold(organization=org, actor=actor, amount=Decimal(amount))


def test_falling_below_a_threshold_warns_once(org, billing_admin, account):
    threshold(org, billing_admin, "50.00")

    spend(account, "30.00", "c1")  # 70: above
    spend(account, "25.00", "c2")  # 45: crossed
    spend(account, "10.00", "c3")  # 35: still below, no repeat
    spend(account, "10.00", "c4")  # 25

    (warning,) = warnings()
    assert warning.context["threshold_display"] == "$50.00"
    assert warning.context["balance_display"] == "$45.00"
    (message,) = [m for m in mail.outbox if "below" in m.subject]
    assert message.subject == "Contoso Test: Communications Credits balance below $50.00"
    assert message.to == [billing_admin.email]
    assert LowBalanceThreshold.objects.get().last_warned_at is not None


def test_no_second_warning_until_the_balance_has_risen_back_to_the_threshold(org, billing_admin, account):
    threshold(org, billing_admin, "50.00")

    spend(account, "60.00", "c1")  # 40: warned
    credit(account, "5.00", billing_admin)  # 45: still below, not re-armed
    spend(account, "1.00", "c2")  # 44: no warning
    credit(account, "6.00", billing_admin)  # 50: back at the threshold, re-armed
    spend(account, "0.01", "c3")  # 49.99: warned again

    assert [w.context["balance_display"] for w in warnings()] == ["$40.00", "$49.99"]


def test_landing_exactly_on_the_threshold_is_not_below_it(org, billing_admin, account):
    threshold(org, billing_admin, "50.00")

    spend(account, "50.00", "c1")

    assert warnings() == []


def test_crossing_several_thresholds_at_once_sends_one_email_naming_them(org, billing_admin, account):
    for amount in ("80.00", "50.00", "20.00"):
        threshold(org, billing_admin, amount)

    spend(account, "60.00", "c1")  # 40: crossed 80 and 50, not 20

    (warning,) = warnings()
    assert warning.context["threshold_display"] == "$50.00"
    assert warning.context["thresholds_display"] == "$80.00, $50.00"
    assert len([m for m in mail.outbox if "below" in m.subject]) == 1


def test_a_threshold_set_while_already_below_it_waits_for_the_next_crossing(org, billing_admin, account):
    spend(account, "70.00", "c1")  # 30
    threshold(org, billing_admin, "50.00")

    spend(account, "5.00", "c2")  # 25: it never crossed downward since it was set
    assert warnings() == []

    credit(account, "40.00", billing_admin)  # 65
    spend(account, "20.00", "c3")  # 45: crossed
    assert len(warnings()) == 1


def test_a_rising_balance_never_warns(org, billing_admin, account):
    threshold(org, billing_admin, "150.00")

    credit(account, "10.00", billing_admin)

    assert warnings() == []


def test_thresholds_of_another_organization_are_not_used(org, other_org, billing_admin, outsider, account):
    threshold(other_org, outsider, "50.00")

    spend(account, "60.00", "c1")

    assert warnings() == []


def test_an_organization_keeps_at_most_five_distinct_thresholds_within_range(org, billing_admin):
    for amount in ("10", "20", "30", "40", "50"):
        threshold(org, billing_admin, amount)

    with pytest.raises(services.NotificationSettingsError, match="up to 5"):
        threshold(org, billing_admin, "60")
    services.remove_low_balance_threshold(organization=org, actor=billing_admin, threshold_id=LowBalanceThreshold.objects.first().pk)
    with pytest.raises(services.NotificationSettingsError, match="already a threshold"):
        threshold(org, billing_admin, "20.00")
    with pytest.raises(services.NotificationSettingsError, match="from 1.00"):
        threshold(org, billing_admin, "0.50")
    assert LowBalanceThreshold.objects.filter(organization=org).count() == 4
