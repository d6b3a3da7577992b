"""Auto-recharge outcomes, one test each: success, transient retry, hard decline, the failure event once
per streak, the pause after 3, re-arming, the monthly cap, the burst guard, the card-expiry warning,
NCE/MCA, depletion. Runs on SQLite with Celery eager (the on-commit task runs at commit); the races and
the real worker are in test_recharge_concurrency.py and test_recharge_worker.py."""

from datetime import timedelta
from decimal import Decimal
from unittest import mock

import pytest
from dateutil.relativedelta import relativedelta
from django.urls import reverse
from django.utils import timezone
from kombu.exceptions import OperationalError

from billing import selectors, services, tasks
from billing.choices import CommerceModel, EntryKind, PaymentStatus
from billing.models import (
    AutoRechargePolicy,
    AutoRechargeState,
    CreditAccount,
    CreditLot,
    LedgerEntry,
    Payment,
    Receipt,
    SandboxCharge,
)
from billing.services.auto_recharge import card_expiry, guards, rounds
from billing.services.auto_recharge.support import resume_auto_recharge
from billing.services.reconciliation import find_mismatches
from tests.billing.gateways import GATEWAYS
from tests.factories import CardFactory, OrganizationFactory, arm, spend

pytestmark = pytest.mark.django_db(transaction=True)


def recharges(account):
    return Payment.objects.filter(account=account, purpose="recharge").order_by("pk")


def later(minutes=0, hours=0, days=0):
    return timezone.now() + timedelta(minutes=minutes, hours=hours, days=days)


# --- success -------------------------------------------------------------------------------------------


def test_a_debit_below_the_trigger_is_recharged_once_with_a_new_lot_a_receipt_and_an_event(org, card, billing_admin, recorder):
    account = arm(org, card, billing_admin)
    spend(account, "85.00")  # 100 -> 15, below 20: the on-commit task recharges 50
    account.refresh_from_db()
    assert account.balance == Decimal("65.00")
    assert account.auto_recharge_state.due_since is None and account.auto_recharge_state.crossing == 1
    payment = recharges(account).get()
    assert payment.status == PaymentStatus.SUCCEEDED and payment.gateway_calls == 1
    assert payment.idempotency_key == f"recharge:{account.pk}:1"
    entry = payment.entry
    assert entry.kind == EntryKind.RECHARGE and entry.amount == Decimal("50.00")
    lot = CreditLot.objects.get(entry=entry)
    assert lot.remaining == Decimal("50.00") and lot.expires_at == entry.created_at + relativedelta(months=12)
    assert Receipt.objects.filter(entry=entry).exists()
    assert [pk for pk, _number in recorder.succeeded][-1] == payment.pk
    assert find_mismatches([account.pk]) == []


def test_a_debit_that_stays_above_the_trigger_recharges_nothing(org, card, billing_admin):
    account = arm(org, card, billing_admin)
    spend(account, "79.99")
    account.refresh_from_db()
    assert account.balance == Decimal("20.01") and not recharges(account).exists()


def test_running_the_recharge_again_for_the_same_crossing_charges_nothing_more(org, card, billing_admin):
    account = arm(org, card, billing_admin)
    spend(account, "85.00")
    for _ in range(3):
        rounds.run_auto_recharge(account.pk)
    assert recharges(account).count() == 1
    assert SandboxCharge.objects.filter(idempotency_key__startswith="recharge:").count() == 1


def test_each_new_crossing_gets_its_own_recharge(org, card, billing_admin):
    account = arm(org, card, billing_admin)
    spend(account, "85.00")  # 15 -> 65
    spend(account, "50.00")  # 15 -> 65
    account.refresh_from_db()
    assert account.balance == Decimal("65.00") and account.auto_recharge_state.crossing == 2
    assert [p.crossing for p in recharges(account)] == [1, 2]


def test_a_recharge_that_leaves_the_balance_below_the_trigger_is_followed_by_another(org, card, billing_admin):
    account = arm(org, card, billing_admin)
    spend(account, "160.00")  # 100 -> -60: +50 -> -10, still below: +50 -> 40
    account.refresh_from_db()
    assert account.balance == Decimal("40.00")
    assert recharges(account).filter(status="succeeded").count() == 2
    assert find_mismatches([account.pk]) == []


# --- transient errors ------------------------------------------------------------------------------------


def test_a_transient_error_is_retried_with_the_same_key_and_a_growing_back_off(org, billing_admin):
    flaky = CardFactory(organization=org, behaviour="processing_error")
    account = arm(org, CardFactory(organization=org), billing_admin, balance="100.00")
    services.update_auto_recharge(
        organization=org, actor=billing_admin, enabled=True, amount=50, trigger=20, payment_method=flaky
    )
    spend(account, "85.00")  # the on-commit task meets the first transient error
    payment = recharges(account).get()
    assert payment.status == PaymentStatus.PENDING and payment.gateway_calls == 1
    first_wait = (payment.next_retry_at - timezone.now()).total_seconds()
    assert 25 < first_wait <= 30
    # Not before its time: a sweep or a duplicate message now does not call the gateway.
    rounds.run_auto_recharge(account.pk)
    assert recharges(account).get().gateway_calls == 1
    with pytest.raises(rounds.TransientRecharge) as second:
        rounds.run_auto_recharge(account.pk, now=later(minutes=1))
    assert second.value.countdown == 60
    payment = recharges(account).get()
    assert payment.gateway_calls == 2 and payment.idempotency_key == f"recharge:{account.pk}:1"
    account.refresh_from_db()
    assert account.auto_recharge_state.consecutive_failures == 0, "a transient error is not a failure yet"


def test_transient_errors_stop_after_the_bound_and_count_as_one_failure(org, billing_admin, recorder):
    flaky = CardFactory(organization=org, behaviour="processing_error")
    account = arm(org, flaky, billing_admin, balance="0")
    services.adjust_balance(account=account, actor=billing_admin, amount=Decimal("10.00"), reason="Below the trigger")
    assert recharges(account).get().gateway_calls == 1, "the first call happened when it was turned on"
    waits = []
    for step in range(1, 10):
        try:
            payment = rounds.run_auto_recharge(account.pk, now=later(hours=step))
        except rounds.TransientRecharge as transient:
            waits.append(transient.countdown)
            continue
        break
    assert waits == [60, 120, 240]
    assert payment.status == PaymentStatus.FAILED and payment.gateway_calls == rounds.MAX_GATEWAY_CALLS
    assert payment.failure_code == "processing_error"
    account.refresh_from_db()
    assert account.auto_recharge_state.consecutive_failures == 1
    assert recorder.failed == [payment.pk]


def test_a_gateway_timeout_after_charging_is_settled_by_the_retry_with_the_same_key(org, card, billing_admin, settings):
    settings.PAYMENT_GATEWAY = f"{GATEWAYS}.TimeoutAfterChargeGateway"
    account = arm(org, card, billing_admin, balance="0")  # below the trigger at once: the first call times out
    payment = recharges(account).get()
    assert payment.status == PaymentStatus.PENDING and payment.failure_code == "timeout"
    assert SandboxCharge.objects.filter(idempotency_key=payment.idempotency_key).count() == 1
    rounds.run_auto_recharge(account.pk, now=later(minutes=1))
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.SUCCEEDED and payment.gateway_calls == 2
    assert SandboxCharge.objects.filter(idempotency_key=payment.idempotency_key).count() == 1
    assert LedgerEntry.objects.filter(account=account, kind=EntryKind.RECHARGE).count() == 1


# --- hard declines, the failure streak, the pause -----------------------------------------------------------


def declining(org, billing_admin, behaviour="card_declined"):
    card = CardFactory(organization=org, behaviour=behaviour, last4="0341")
    account = arm(org, card, billing_admin, balance="0")
    services.adjust_balance(account=account, actor=billing_admin, amount=Decimal("10.00"), reason="Below the trigger")
    return account


@pytest.mark.parametrize("behaviour", ["expired_card", "insufficient_funds", "card_declined", "lost_card"])
def test_a_hard_decline_is_final_at_once_and_is_not_retried_blindly(org, billing_admin, behaviour):
    account = declining(org, billing_admin, behaviour)
    payment = recharges(account).get()
    assert payment.status == PaymentStatus.FAILED and payment.gateway_calls == 1 and payment.failure_code == behaviour
    for _ in range(3):  # the sweep, a duplicate message, a retried task
        rounds.run_auto_recharge(account.pk)
    rounds.run_auto_recharge(account.pk, now=later(minutes=59))
    assert recharges(account).count() == 1 and recharges(account).get().gateway_calls == 1
    account.refresh_from_db()
    assert account.auto_recharge_state.retry_at > later(minutes=59)
    assert account.pk not in rounds.due_accounts(later(minutes=59))


def test_after_the_cool_down_a_new_attempt_is_made_with_a_new_key(org, billing_admin):
    account = declining(org, billing_admin)
    assert account.pk in rounds.due_accounts(later(hours=1, minutes=1))
    rounds.run_auto_recharge(account.pk, now=later(hours=1, minutes=1))
    first, second = recharges(account)
    assert (first.crossing, second.crossing) == (1, 2)
    assert second.idempotency_key != first.idempotency_key and second.status == PaymentStatus.FAILED


def test_the_recharge_failed_event_goes_out_once_per_failure_streak(org, billing_admin, recorder):
    account = declining(org, billing_admin)
    rounds.run_auto_recharge(account.pk, now=later(hours=2))
    assert recharges(account).filter(status="failed").count() == 2
    assert len(recorder.failed) == 1, "the second failure of the streak is not announced again"
    # A new card (re-arm) ends the streak; its failure starts a new one and is announced.
    services.add_card(organization=org, actor=billing_admin, number="4000000000000341", exp_month=12, exp_year=2031, cvc="123")
    assert recharges(account).filter(status="failed").count() == 3
    assert len(recorder.failed) == 2


def test_three_failures_in_a_row_pause_auto_recharge_visibly_until_an_admin_acts(org, billing_admin, recorder, client):
    account = declining(org, billing_admin)
    rounds.run_auto_recharge(account.pk, now=later(hours=2))
    rounds.run_auto_recharge(account.pk, now=later(hours=4))
    account.refresh_from_db()
    assert account.auto_recharge_state.consecutive_failures == 3 and account.auto_recharge_state.paused_at is not None
    assert "3 failed recharges in a row" in account.auto_recharge_state.paused_reason
    paused = recorder.of("auto_recharge_paused")
    assert len(paused) == 1 and paused[0]["failure_code"] == "card_declined"
    # Paused: nothing is charged any more, however long we wait.
    rounds.run_auto_recharge(account.pk, now=later(days=3))
    assert recharges(account).count() == 3
    assert account.pk not in rounds.due_accounts(later(days=3))
    client.force_login(billing_admin)
    page = client.get(reverse("billing:credits")).content.decode()
    assert "Auto-recharge is paused" in page and "The card was declined by its issuer." in page
    assert "On, paused" in page


def test_a_new_card_re_arms_a_paused_auto_recharge_and_charges_it_at_once(org, billing_admin, recorder):
    account = declining(org, billing_admin)
    rounds.run_auto_recharge(account.pk, now=later(hours=2))
    rounds.run_auto_recharge(account.pk, now=later(hours=4))
    services.add_card(organization=org, actor=billing_admin, number="4242424242424242", exp_month=12, exp_year=2031, cvc="123")
    account.refresh_from_db()
    assert account.auto_recharge_state.paused_at is None and account.auto_recharge_state.consecutive_failures == 0
    assert account.auto_recharge_policy.payment_method.last4 == "4242"
    assert account.balance == Decimal("60.00")
    assert recharges(account).last().status == PaymentStatus.SUCCEEDED
    assert "auto_recharge_rearmed" in recorder.codes()


def test_saving_the_settings_with_another_card_re_arms_at_once(org, billing_admin):
    account = declining(org, billing_admin)
    good = CardFactory(organization=org)
    services.update_auto_recharge(organization=org, actor=billing_admin, enabled=True, amount=50, trigger=20, payment_method=good)
    account.refresh_from_db()
    assert account.balance == Decimal("60.00") and account.auto_recharge_state.retry_at is None


# --- guards ---------------------------------------------------------------------------------------------------


def test_the_monthly_cap_stops_recharges_with_a_visible_state_and_one_event(org, card, billing_admin, recorder, client):
    account = arm(org, card, billing_admin, cap="100.00")
    spend(account, "85.00")  # recharge 1: 50
    spend(account, "50.00")  # recharge 2: 100 this month
    spend(account, "50.00")  # a third would make 150: stopped
    account.refresh_from_db()
    assert recharges(account).count() == 2 and account.balance == Decimal("15.00")
    assert account.auto_recharge_state.monthly_cap_reached_at is not None
    assert account.auto_recharge_state.retry_at == guards.next_month_start(timezone.now())
    rounds.run_auto_recharge(account.pk)  # the sweep again: still stopped, no second event
    capped = recorder.of("monthly_cap_reached")
    assert len(capped) == 1 and capped[0]["cap"] == "100.00" and capped[0]["spent"] == "100.00"
    assert selectors.credits_overview(org).monthly_cap_reached
    client.force_login(billing_admin)
    assert "Monthly auto-recharge limit reached" in client.get(reverse("billing:credits")).content.decode()
    # Next month the cap starts afresh.
    rounds.run_auto_recharge(account.pk, now=guards.next_month_start(timezone.now()) + timedelta(minutes=1))
    assert recharges(account).count() == 3


def test_raising_the_monthly_cap_lets_the_waiting_recharge_through(org, card, billing_admin):
    account = arm(org, card, billing_admin, cap="50.00")
    spend(account, "85.00")
    spend(account, "50.00")
    assert recharges(account).count() == 1
    services.update_auto_recharge(
        organization=org, actor=billing_admin, enabled=True, amount=50, trigger=20, payment_method=card, monthly_cap=200
    )
    account.refresh_from_db()
    assert recharges(account).count() == 2 and account.balance == Decimal("65.00")
    assert account.auto_recharge_state.monthly_cap_reached_at is None


def test_more_than_three_recharges_in_ten_minutes_pause_and_alert(org, card, billing_admin, recorder):
    account = arm(org, card, billing_admin)
    for amount in ("85.00", "50.00", "50.00"):
        spend(account, amount)  # 3 recharges, 100 -> 15 -> 65 -> 15 -> 65 ...
    assert recharges(account).count() == 3
    spend(account, "50.00")  # a fourth within 10 minutes: runaway usage or fraud
    account.refresh_from_db()
    assert recharges(account).count() == 3
    assert account.auto_recharge_state.paused_at is not None and "3 recharges in 10 minutes" in account.auto_recharge_state.paused_reason
    assert recorder.of("burst_guard_paused") == [
        {"paused_at": account.auto_recharge_state.paused_at.isoformat(), "reason": account.auto_recharge_state.paused_reason,
         "recharges": 3, "minutes": 10}
    ]


def test_support_resuming_after_the_burst_guard_recharges_at_once(org, card, billing_admin, admin_user):
    account = arm(org, card, billing_admin)
    for amount in ("85.00", "50.00", "50.00", "50.00"):
        spend(account, amount)
    assert resume_auto_recharge(account_id=account.pk, actor=admin_user) is True
    assert resume_auto_recharge(account_id=account.pk, actor=admin_user) is False, "resuming twice is a no-op"
    account.refresh_from_db()
    assert recharges(account).count() == 4 and account.auto_recharge_state.paused_at is None
    assert account.auto_recharge_changes.filter(changed_by=admin_user).count() == 1


def test_recharges_spread_over_more_than_ten_minutes_do_not_trip_the_burst_guard(org, card, billing_admin):
    account = arm(org, card, billing_admin)
    for amount in ("85.00", "50.00", "50.00"):
        spend(account, amount)
    Payment.objects.filter(account=account).update(finished_at=timezone.now() - timedelta(minutes=11))
    spend(account, "50.00")
    account.refresh_from_db()
    assert recharges(account).count() == 4 and account.auto_recharge_state.paused_at is None


# --- card expiry -------------------------------------------------------------------------------------------


def test_a_card_expiring_before_the_next_likely_recharge_is_announced_once(org, billing_admin, recorder, client):
    today = timezone.now().date()
    card = CardFactory(organization=org, exp_month=today.month, exp_year=today.year)  # valid to the end of this month
    account = arm(org, card, billing_admin, balance="500.00", trigger="20.00", amount="100.00")
    for day in range(10):  # 100 in 30 days: the trigger is some 114 days away, beyond the card's expiry
        services.charge_usage(
            account_id=account.pk, amount=Decimal("10.00"), idempotency_key=f"d{day}", at=timezone.now() - timedelta(days=day)
        )
    assert card_expiry.warn_expiring_cards() == 1
    assert card_expiry.warn_expiring_cards() == 0, "once per card"
    (warning,) = recorder.of("card_expires_before_next_recharge")
    assert warning["expires"] == f"{today.month:02d}/{today.year}" and warning["next_recharge_at"]
    client.force_login(billing_admin)
    assert "before the next likely recharge" in client.get(reverse("billing:credits")).content.decode()


def test_a_card_valid_beyond_the_next_likely_recharge_is_not_announced(org, billing_admin, recorder):
    in_eight_months = (timezone.now() + relativedelta(months=8)).date()
    card = CardFactory(organization=org, exp_month=in_eight_months.month, exp_year=in_eight_months.year)
    account = arm(org, card, billing_admin, balance="500.00")
    spend(account, "100.00")  # at this pace the trigger is some 114 days away, before the card expires
    assert card_expiry.warn_expiring_cards() == 0
    assert selectors.credits_overview(org).card_expiry_warning is None
    assert recorder.of("card_expires_before_next_recharge") == []


# --- who never recharges ------------------------------------------------------------------------------------


@pytest.mark.parametrize("model", [CommerceModel.NCE, CommerceModel.MCA])
def test_post_usage_billed_organizations_never_auto_recharge_whatever_the_setting_says(model, billing_admin):
    org = OrganizationFactory(commerce_model=model)
    card = CardFactory(organization=org)
    account = CreditAccount.objects.get(organization=org)
    services.adjust_balance(account=account, actor=None, amount=Decimal("35.00"), reason="Carried over before NCE")
    # Stored before the move to post-usage billing (the service would refuse it now).
    AutoRechargePolicy.objects.filter(account=account).update(enabled=True, amount=50, trigger=10, payment_method=card)
    spend(account, "30.00")
    account.refresh_from_db()
    assert account.auto_recharge_state.due_since is not None, "below the trigger, as the stored setting says"
    assert rounds.run_auto_recharge(account.pk) is None
    assert tasks.sweep_auto_recharge_task() == 0
    assert not recharges(account).exists() and account.balance == Decimal("5.00")


def test_a_paused_or_switched_off_auto_recharge_charges_nothing(org, card, billing_admin):
    account = arm(org, card, billing_admin)
    services.turn_off_auto_recharge(organization=org, actor=billing_admin)
    spend(account, "85.00")
    assert rounds.run_auto_recharge(account.pk) is None and not recharges(account).exists()


# --- depletion ------------------------------------------------------------------------------------------------


def test_the_balance_reached_zero_event_goes_out_once_per_crossing(org, card, billing_admin, recorder):
    account = arm(org, card, billing_admin)
    services.turn_off_auto_recharge(organization=org, actor=billing_admin)
    spend(account, "100.00")
    spend(account, "3.00")  # still depleted: no second event
    assert len(recorder.depleted) == 1
    assert not services.can_charge_credits(org).allowed
    services.fund_credits(organization=org, actor=billing_admin, amount=Decimal("20.00"), payment_method=card, idempotency_key="refill")
    assert services.can_charge_credits(org).allowed, "funding restores service"
    spend(account, "17.00")
    assert len(recorder.depleted) == 2, "a new crossing, a new event"


# --- the sweep ------------------------------------------------------------------------------------------------


def test_a_lost_message_loses_nothing_the_sweep_catches_up(org, card, billing_admin):
    account = arm(org, card, billing_admin)
    with mock.patch.object(
        tasks.run_auto_recharge_task,
        "apply_async",
        side_effect=OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused."),
    ):
        spend(account, "85.00")  # the debit commits although the broker is down
    account.refresh_from_db()
    assert account.balance == Decimal("15.00") and not recharges(account).exists()
    assert list(rounds.due_accounts()) == [account.pk]
    assert tasks.sweep_auto_recharge_task() == 1
    account.refresh_from_db()
    assert account.balance == Decimal("65.00") and recharges(account).count() == 1


def test_the_sweep_skips_accounts_that_are_paused_cooling_down_or_above_the_trigger(org, card, billing_admin):
    armed = arm(org, card, billing_admin)
    cooling = declining(OrganizationFactory(), billing_admin)
    paused = declining(OrganizationFactory(), billing_admin)
    AutoRechargeState.objects.filter(account=paused).update(paused_at=timezone.now(), retry_at=None)
    due = list(rounds.due_accounts())
    assert armed.pk not in due and cooling.pk not in due and paused.pk not in due
    assert list(rounds.due_accounts(later(hours=2))) == [cooling.pk]


def test_the_sweeps_batch_recharges_each_account_on_its_own(billing_admin):
    accounts = []
    for behaviour in ("ok", "processing_error", "ok", "ok"):
        org = OrganizationFactory()
        account = arm(org, CardFactory(organization=org), billing_admin)
        charged = CardFactory(organization=org, behaviour=behaviour)
        services.update_auto_recharge(organization=org, actor=billing_admin, enabled=True, amount=50, trigger=20, payment_method=charged)
        with mock.patch.object(tasks.run_auto_recharge_task, "apply_async"):  # the message is lost
            spend(account, "85.00")
        accounts.append(account)
    real = rounds.run_auto_recharge

    def with_a_bug_for_the_last(account_id, **kwargs):
        if account_id == accounts[3].pk:
            raise RuntimeError("a bug that hits one account only")
        return real(account_id, **kwargs)

    with mock.patch.object(rounds, "run_auto_recharge", side_effect=with_a_bug_for_the_last):
        outcome = tasks.run_auto_recharge_batch_task([a.pk for a in accounts])
    assert outcome == {"recharged": 2, "waiting": 1, "errors": 1}
    assert [recharges(a).filter(status="succeeded").count() for a in accounts] == [1, 0, 1, 0]
    assert recharges(accounts[1]).get().status == PaymentStatus.PENDING, "waits for its back-off"
    assert sorted(rounds.due_accounts()) == [accounts[3].pk], "the next sweep's"


def test_an_attempt_still_retrying_on_the_replaced_card_does_not_hold_up_the_new_one(org, card, billing_admin, recorder):
    account = arm(org, card, billing_admin)
    flaky = CardFactory(organization=org, behaviour="processing_error", last4="0119")
    services.update_auto_recharge(organization=org, actor=billing_admin, enabled=True, amount=50, trigger=20, payment_method=flaky)
    spend(account, "85.00")  # the first call meets a transient error: waiting for its back-off
    services.update_auto_recharge(organization=org, actor=billing_admin, enabled=True, amount=50, trigger=20, payment_method=card)
    for step in range(1, 6):  # the old card's payment keeps its key and card until its calls run out
        try:
            rounds.run_auto_recharge(account.pk, now=later(minutes=10 * step))
        except rounds.TransientRecharge:
            continue
    old, new = recharges(account)
    assert old.status == PaymentStatus.FAILED and old.payment_method == flaky
    assert new.status == PaymentStatus.SUCCEEDED and new.payment_method == card
    account.refresh_from_db()
    assert account.balance == Decimal("65.00") and account.auto_recharge_state.consecutive_failures == 0
    assert recorder.failed == [], "the replaced card's failure is not announced"


# --- arming on each posting --------------------------------------------------------------------------


def test_arming_follows_the_balance_across_the_trigger_one_crossing_at_a_time(org, card, billing_admin):
    account = arm(org, card, billing_admin)  # 100, trigger 20
    # Paused, so that no round moves the balance while the arming alone is watched.
    AutoRechargeState.objects.filter(account=account).update(paused_at=timezone.now(), paused_reason="test")

    def state():
        return AutoRechargeState.objects.get(account=account)

    def top_up(amount, key):
        services.fund_credits(
            organization=org, actor=billing_admin, amount=Decimal(amount), payment_method=card, idempotency_key=key
        )

    spend(account, "50.00")  # 50: above
    assert (state().due_since, state().crossing) == (None, 0)
    spend(account, "40.00")  # 10: crossed
    first = state()
    assert first.due_since is not None and first.crossing == 1
    spend(account, "5.00")  # 5: still below, the same crossing
    top_up("10.00", "t1")  # 15: still below
    assert (state().due_since, state().crossing) == (first.due_since, 1)
    top_up("10.00", "t2")  # 25: back above
    assert (state().due_since, state().crossing) == (None, 1)
    spend(account, "5.00")  # 20: at the trigger is not below it
    assert (state().due_since, state().crossing) == (None, 1)
    spend(account, "0.01")  # 19.99: a second crossing
    assert state().due_since is not None and state().crossing == 2

    top_up("30.00", "t3")
    services.update_auto_recharge(
        organization=org, actor=billing_admin, enabled=False, amount=Decimal("50.00"), trigger=Decimal("20.00"),
        payment_method=card, monthly_cap=None,
    )
    spend(account, "45.00")  # 4.99, but auto-recharge is off: nothing is armed
    assert (state().due_since, state().crossing) == (None, 2)
