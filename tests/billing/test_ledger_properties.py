"""The ledger under random sequences of everything that moves money (hypothesis' stateful testing):
fundings with working and declined cards, usage charges, auto-recharge turned on and spent below its
trigger (the recharge runs eagerly, after commit), support adjustments and refunds, expiries at a later
`now`, and replays: the same idempotency key again, the recharge task again, the expiry run again.

The model is a Decimal balance. Every step adds what it should to it; money the model cannot foresee
(whether and when auto-recharge charges, which depends on its guards) is taken from the payments that
succeeded, each counted once. After every step:

- the balance equals the model, its ledger's sum and its open lots (reconciliation finds nothing);
- nothing is created or lost: every gateway charge of the account is one succeeded payment of the
  same amount, and every succeeded payment is one ledger credit of that amount;
- a replay changes nothing at all (an expiry run again at the same moment takes only lots that were
  not yet expired: what a recharge of the first run bought, at the real time, before the moved one).

On a real database with real commits (the gateway is never called inside a transaction, and the
recharge is enqueued on commit), bounded in examples and steps.
"""

from datetime import timedelta
from decimal import Decimal
from itertools import count

import pytest
from django.db.models import Sum
from django.utils import timezone
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from billing import services
from billing.choices import AdminRole, PaymentPurpose, PaymentStatus
from billing.exceptions import BillingError, InsufficientCredits
from billing.models import CreditAccount, CreditLot, LedgerEntry, Payment, SandboxCharge
from billing.services.expiry import expire_lots
from billing.services.reconciliation import find_mismatches
from billing.tasks import run_auto_recharge_task
from tests.factories import CardFactory, OrganizationFactory, admin_in

pytestmark = pytest.mark.django_db(transaction=True)

money = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("300.00"), places=2)
funding = st.decimals(min_value=Decimal("10.00"), max_value=Decimal("500.00"), places=2)
keys = count()


class Ledger(RuleBasedStateMachine):
    fundings = Bundle("fundings")
    charges = Bundle("charges")

    def __init__(self):
        super().__init__()
        # A new organization per example: the database keeps the earlier ones (it is flushed per test).
        self.organization = OrganizationFactory()
        self.admin = admin_in(self.organization, AdminRole.BILLING_ADMINISTRATOR)
        self.cards = {
            "ok": CardFactory(organization=self.organization),
            "declined": CardFactory(organization=self.organization, behaviour="card_declined", last4="0002"),
        }
        self.account = CreditAccount.objects.get(organization=self.organization)
        self.balance = Decimal("0.00")
        self.counted_payments = set()
        self.now = timezone.now()

    # --- what the model cannot foresee, counted once --------------------------------------------------

    def count_new_payments(self):
        """Money of payments that succeeded since the last step and that no step expected (recharges)."""
        new = Payment.objects.filter(account=self.account, status=PaymentStatus.SUCCEEDED).exclude(pk__in=self.counted_payments)
        for payment in new:
            self.counted_payments.add(payment.pk)
            if payment.purpose == PaymentPurpose.RECHARGE:
                self.balance += payment.amount

    def snapshot(self):
        """Everything a replay must leave as it was."""
        return (
            CreditAccount.objects.get(pk=self.account.pk).balance,
            LedgerEntry.objects.filter(account=self.account).count(),
            Payment.objects.filter(account=self.account).count(),
            SandboxCharge.objects.filter(idempotency_key__in=Payment.objects.filter(account=self.account).values("idempotency_key")).count(),
            list(CreditLot.objects.filter(account=self.account).order_by("pk").values_list("remaining", flat=True)),
        )

    # --- the rules --------------------------------------------------------------------------------------

    @rule(target=fundings, amount=funding, card=st.sampled_from(["ok", "ok", "declined"]))
    def fund(self, amount, card):
        key = f"prop:fund:{next(keys)}"
        payment = services.fund_credits(
            organization=self.organization, actor=self.admin, amount=amount, payment_method=self.cards[card], idempotency_key=key
        )
        assert payment.status == (PaymentStatus.SUCCEEDED if card == "ok" else PaymentStatus.FAILED)
        if card == "ok":
            self.balance += amount
        self.counted_payments.add(payment.pk)
        return (key, amount, card)

    @rule(funded=fundings)
    def fund_again_with_the_same_key(self, funded):
        key, amount, card = funded
        before = self.snapshot()
        services.fund_credits(
            organization=self.organization, actor=self.admin, amount=amount, payment_method=self.cards[card], idempotency_key=key
        )
        assert self.snapshot() == before

    @rule(target=charges, amount=money)
    def charge_a_call(self, amount):
        key = f"prop:call:{next(keys)}"
        services.charge_usage(account_id=self.account.pk, amount=amount, idempotency_key=key, memo="Property call")
        self.balance -= amount
        return (key, amount)

    @rule(charged=charges)
    def charge_again_with_the_same_key(self, charged):
        key, amount = charged
        before = self.snapshot()
        services.charge_usage(account_id=self.account.pk, amount=amount, idempotency_key=key, memo="Property call")
        assert self.snapshot() == before

    @rule(amount=st.decimals(min_value=Decimal("10.00"), max_value=Decimal("200.00"), places=2),
          trigger=st.decimals(min_value=Decimal("5.00"), max_value=Decimal("150.00"), places=2),
          card=st.sampled_from(["ok", "ok", "declined"]))
    def turn_auto_recharge_on(self, amount, trigger, card):
        try:
            services.update_auto_recharge(
                organization=self.organization, actor=self.admin, enabled=True, amount=amount, trigger=trigger,
                payment_method=self.cards[card],
            )
        except BillingError as error:
            assert trigger >= amount, error.message  # the only settings refused here
        # A balance already below the trigger is recharged on saving: counted by count_new_payments.

    @rule()
    def turn_auto_recharge_off(self):
        services.turn_off_auto_recharge(organization=self.organization, actor=self.admin)

    @rule(extra=money)
    def spend_below_the_trigger(self, extra):
        """A call that takes the balance below the auto-recharge trigger (if one is set)."""
        trigger = CreditAccount.objects.get(pk=self.account.pk).auto_recharge_policy.trigger or Decimal("0")
        amount = max(self.balance - trigger, Decimal("0")) + extra
        services.charge_usage(account_id=self.account.pk, amount=amount, idempotency_key=f"prop:call:{next(keys)}")
        self.balance -= amount

    @rule()
    def run_the_recharge_task_again(self):
        """A redelivered or retried task: nothing moves unless the account is due, and then only one
        recharge per round (counted by count_new_payments, checked by the invariants)."""
        due = CreditAccount.objects.get(pk=self.account.pk).auto_recharge_state.due_since is not None
        before = self.snapshot()
        run_auto_recharge_task.delay(self.account.pk)
        if not due:
            assert self.snapshot() == before

    @rule(amount=st.decimals(min_value=Decimal("-100.00"), max_value=Decimal("100.00"), places=2).filter(bool))
    def adjust_for_a_support_case(self, amount):
        try:
            services.adjust_balance(account=self.account, actor=self.admin, amount=amount, reason="Property support case")
        except InsufficientCredits:
            assert self.balance + amount < 0
        else:
            self.balance += amount

    @rule(amount=money)
    def refund(self, amount):
        try:
            services.refund_credits(account=self.account, actor=self.admin, amount=amount, reason="Property refund")
        except InsufficientCredits:
            assert self.balance - amount < 0
        else:
            self.balance -= amount

    @rule(days=st.integers(min_value=1, max_value=400))
    def expire_what_is_due_later(self, days):
        self.now += timedelta(days=days)
        self.expire()

    @rule()
    def run_the_expiry_again_at_the_same_moment(self):
        # Only lots not yet expired are taken: those a recharge of the last run bought (at the real
        # time, long before the moved one) and nothing already expired.
        self.expire()

    def expire(self):
        """What the lots due at `now` still hold is forfeited, once: the model takes exactly that."""
        due = CreditLot.objects.filter(account=self.account, expires_at__lte=self.now, remaining__gt=0)
        forfeited = due.aggregate(total=Sum("remaining"))["total"] or Decimal("0")
        expire_lots(now=self.now)
        self.balance -= forfeited

    # --- after every step ------------------------------------------------------------------------------

    @invariant()
    def the_balance_is_the_model_the_ledger_and_the_lots(self):
        self.count_new_payments()
        balance = CreditAccount.objects.get(pk=self.account.pk).balance
        assert balance == self.balance
        assert services.ledger_total(self.account.pk) == balance
        assert find_mismatches(account_ids=[self.account.pk]) == []

    @invariant()
    def every_gateway_charge_is_one_succeeded_payment_and_one_credit(self):
        paid = Payment.objects.filter(account=self.account, status=PaymentStatus.SUCCEEDED)
        charged = SandboxCharge.objects.filter(idempotency_key__in=Payment.objects.filter(account=self.account).values("idempotency_key"))
        assert sorted(charged.values_list("idempotency_key", "amount")) == sorted(paid.values_list("idempotency_key", "amount"))
        assert sorted(paid.values_list("entry__amount", flat=True)) == sorted(paid.values_list("amount", flat=True))


def test_the_ledger_holds_under_any_sequence_of_money_movements_and_replays(transactional_db):
    run_state_machine_as_test(
        Ledger,
        settings=settings(
            max_examples=12, stateful_step_count=20, deadline=None, database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
