"""Events recorded with the change that caused them, sent after it commits, never on rollback."""

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.core import mail
from django.db import transaction
from kombu.exceptions import OperationalError

from billing import services as billing
from billing.choices import AdminRole
from billing.events import (
    AutoRechargePaused,
    AutoRechargeRearmed,
    BillingEvent,
    BurstGuardPaused,
    CardExpiresBeforeNextRecharge,
    CreditsExpired,
    CreditsExpiring,
    MonthlyCapReached,
    PaymentSucceeded,
    ReconciliationMismatchFound,
    announce,
)
from billing.models import CreditAccount, Payment
from billing.selectors import credit_account
from notifications import kinds, services, tasks
from notifications.models import Delivery, DeliveryStatus, Event
from tests.factories import CardFactory, admin_in

# Billing calls the gateway only outside a transaction, and on_commit must really run: real commits.
pytestmark = pytest.mark.django_db(transaction=True)


PAUSED_AT = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)


def monthly_cap(account):
    return MonthlyCapReached(
        account=account,
        cap=Decimal("300.00"),
        spent=Decimal("300.00"),
        amount=Decimal("100.00"),
        resumes_at=datetime(2026, 12, 1, tzinfo=UTC),
    )


# What the auto-recharge engine announces (billing/services/auto_recharge, expiry, reconciliation), and
# a phrase each email must carry.
ENGINE_EVENTS = [
    ("auto_recharge_paused", lambda a: AutoRechargePaused(
        account=a, paused_at=PAUSED_AT, reason="Paused after 3 failed recharges in a row (last: The card has expired.).",
        failures=3, failure_code="expired_card", failure_message="The card has expired.", payment="recharge:1:3",
    ), "Why: Paused after 3 failed recharges in a row"),
    ("burst_guard_paused", lambda a: BurstGuardPaused(
        account=a, paused_at=PAUSED_AT, reason="Paused: 4 recharges in 10 minutes, which can mean runaway usage or misuse.",
        recharges=4, minutes=10,
    ), "4 recharges happened within 10 minutes"),
    ("monthly_cap_reached", monthly_cap, "reached its cap of $300.00"),
    ("card_expires_before_next_recharge", lambda a: CardExpiresBeforeNextRecharge(
        account=a, card="Visa ending in 4242 (expires 12/2026)", expires="12/2026",
        next_recharge_at=datetime(2027, 1, 4, 10, 0, tzinfo=UTC), message="...",
    ), "around 2027-01-04 10:00 UTC"),
    ("credits_expiring", lambda a: CreditsExpiring(
        account=a, days=7, amount=Decimal("42.50"), expires_at=datetime(2026, 12, 2, 9, 0, tzinfo=UTC), notice=7,
    ), "$42.50 of the Communications Credits of Contoso Test expire on 2026-12-02 09:00 UTC, in 7 days"),
    ("credits_expired", lambda a: CreditsExpired(account=a, amount=Decimal("12.00"), lots=2), "what was left of 2 purchases"),
    ("auto_recharge_rearmed", lambda a: AutoRechargeRearmed(
        account=a, payment_method=CardFactory(organization=a.organization),
    ), "auto-recharge uses it from now on"),
]


def fund(org, actor, card, amount="100.00", key="test:fund"):
    return billing.fund_credits(organization=org, actor=actor, amount=Decimal(amount), payment_method=card, idempotency_key=key)


def test_a_successful_funding_emails_every_admin_with_amount_balance_and_link(
    org, billing_admin, reports_reader, plain_member, card, settings
):
    settings.SITE_URL = "https://credits.example.test"

    payment = fund(org, billing_admin, card, "125.50")

    event = Event.objects.get(organization=org, kind=kinds.TRANSACTION_SUCCEEDED)
    assert sorted(m.to[0] for m in mail.outbox) == sorted([billing_admin.email, reports_reader.email])
    message = next(m for m in mail.outbox if m.to == [billing_admin.email])
    receipt = payment.entry.receipt
    assert message.subject == "Contoso Test: $125.50 added to Communications Credits"
    assert "Balance now: $125.50" in message.body
    assert f"Receipt: {receipt.number}" in message.body
    assert f"https://credits.example.test/billing/receipts/{receipt.number}/" in message.body
    assert "Visa ending in 4242" in message.body
    html = message.alternatives[0].content
    assert "<strong>$125.50</strong>" in html and "Contoso Test" in html
    assert message.extra_headers["Auto-Submitted"] == "auto-generated"
    assert set(Delivery.objects.filter(event=event).values_list("status", flat=True)) == {DeliveryStatus.SENT}


def test_no_email_carries_a_card_number_or_a_gateway_token(org, billing_admin, card):
    fund(org, billing_admin, card)

    (message,) = mail.outbox
    everything = message.subject + message.body + message.alternatives[0].content
    assert card.gateway_token not in everything
    assert "4242424242424242" not in everything.replace(" ", "")


def test_a_rolled_back_change_records_nothing_and_sends_nothing(org, billing_admin):
    account = credit_account(org)

    with pytest.raises(RuntimeError):
        with transaction.atomic():
            billing.adjust_balance(account=account, actor=billing_admin, amount="10.00", reason="support goodwill")
            raise RuntimeError("the request failed after the change")

    assert not Event.objects.exists()
    assert not Delivery.objects.exists()
    assert mail.outbox == []


def test_a_committed_change_is_sent_after_the_commit_only(org, billing_admin, card, monkeypatch):
    seen_in_transaction = []
    original = tasks.send_event_deliveries_task.apply_async

    def spy(*args, **kwargs):
        seen_in_transaction.append(transaction.get_connection().in_atomic_block)
        return original(*args, **kwargs)

    monkeypatch.setattr(tasks.send_event_deliveries_task, "apply_async", spy)

    fund(org, billing_admin, card)

    assert seen_in_transaction == [False]
    assert [m.to for m in mail.outbox] == [[billing_admin.email]]


def test_the_same_payment_announced_twice_is_one_event(org, billing_admin, card):
    payment = fund(org, billing_admin, card)
    receipt = payment.entry.receipt
    with transaction.atomic():
        announce(PaymentSucceeded(account=payment.account, payment=payment, receipt=receipt))

    assert Event.objects.filter(kind=kinds.TRANSACTION_SUCCEEDED).count() == 1
    assert len(mail.outbox) == 1


def test_a_broken_notification_never_undoes_the_payment(
    org, billing_admin, card, monkeypatch, caplog
):
    def explode(**kwargs):
        raise RuntimeError("template missing")

    monkeypatch.setattr("notifications.services.events_api.record_event", explode)

    with caplog.at_level(logging.ERROR):
        payment = fund(org, billing_admin, card)

    assert payment.status == "succeeded"
    assert credit_account(org).balance == Decimal("100.00")
    assert "Could not record the payment succeeded notification" in caplog.text


def test_a_broker_outage_delays_mail_but_loses_none(
    org, billing_admin, card, monkeypatch, caplog
):
    def broker_down(*args, **kwargs):
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(tasks.send_event_deliveries_task, "apply_async", broker_down)

    with caplog.at_level(logging.WARNING):
        payment = fund(org, billing_admin, card)

    assert payment.status == "succeeded"
    assert mail.outbox == []
    assert Delivery.objects.get().status == DeliveryStatus.PENDING
    assert "the periodic sweep will pick it up" in caplog.text

    tasks.send_pending_deliveries_task.delay()

    assert [m.to for m in mail.outbox] == [[billing_admin.email]]
    assert Delivery.objects.get().status == DeliveryStatus.SENT


def test_a_failed_recharge_tells_every_admin_the_reason_and_what_to_do(
    org, billing_admin, reports_reader
):
    good = CardFactory(organization=org)
    bad = CardFactory(organization=org, behaviour="card_declined", last4="0341")
    fund(org, billing_admin, good, "30.00")
    billing.update_auto_recharge(
        organization=org, actor=billing_admin, enabled=True, amount="50.00", trigger="20.00", payment_method=bad
    )
    mail.outbox.clear()

    billing.charge_usage(account_id=org.credit_account.pk, amount=Decimal("15.00"), idempotency_key="call:1")

    event = Event.objects.get(kind=kinds.RECHARGE_FAILED)
    assert event.context["reason"] == "The card was declined by its issuer."
    assert sorted(m.to[0] for m in mail.outbox) == sorted([billing_admin.email, reports_reader.email])
    message = mail.outbox[0]
    assert message.subject == "Contoso Test: auto-recharge of $50.00 failed"
    assert "Why: The card was declined by its issuer." in message.body
    assert "What to do: Use another card, or contact the card issuer." in message.body
    assert "Balance now: $15.00" in message.body
    payment = Payment.objects.get(purpose="recharge")
    assert f"/billing/payments/{payment.idempotency_key}/" in message.body


def test_a_failed_funding_is_not_emailed_because_the_buyer_sees_it_on_screen(
    org, billing_admin
):
    bad = CardFactory(organization=org, behaviour="insufficient_funds")

    payment = fund(org, billing_admin, bad)

    assert payment.status == "failed"
    assert not Event.objects.exists()
    assert mail.outbox == []


def test_reaching_zero_is_announced_once_per_crossing(org, billing_admin, card):
    fund(org, billing_admin, card, "20.00")
    account_id = org.credit_account.pk

    billing.charge_usage(account_id=account_id, amount=Decimal("20.00"), idempotency_key="call:1")
    billing.charge_usage(account_id=account_id, amount=Decimal("5.00"), idempotency_key="call:2")

    assert Event.objects.filter(kind=kinds.BALANCE_DEPLETED).count() == 1
    depleted = [m for m in mail.outbox if "reached zero" in m.subject]
    assert len(depleted) == 1
    assert "calls charged to credits are refused" in depleted[0].body


def test_the_same_announcement_twice_is_one_email(org, billing_admin):
    account = CreditAccount.objects.get(organization=org)

    with transaction.atomic():
        announce(monthly_cap(account))
        # The engine announcing the same month twice is one event.
        announce(monthly_cap(account))

    (message,) = mail.outbox
    assert message.subject == "Contoso Test: monthly auto-recharge cap of $300.00 reached"
    assert "No more automatic top-ups will be charged until 2026-12-01 00:00 UTC." in message.body


@pytest.mark.parametrize("code, make, phrase", ENGINE_EVENTS, ids=[e[0] for e in ENGINE_EVENTS])
def test_each_auto_recharge_engine_event_is_emailed_as_the_engine_sends_it(org, billing_admin, code, make, phrase):
    account = CreditAccount.objects.get(organization=org)
    event = make(account)

    with transaction.atomic():
        announce(event)
        announce(event)

    assert Event.objects.filter(kind=code).count() == 1, "announced twice, recorded once"
    (message,) = mail.outbox
    assert message.to == [billing_admin.email]
    assert phrase in " ".join(message.body.split())


def test_a_reconciliation_mismatch_lists_each_problem_for_support(org, billing_admin, settings):
    settings.SUPPORT_EMAILS = ["desk@credits.example"]
    account = CreditAccount.objects.get(organization=org)

    announce(
        ReconciliationMismatchFound(
            account=account,
            problems=("balance 5.00 but the ledger sums to 4.00", "payment p1 succeeded without a ledger credit"),
        )
    )

    (message,) = mail.outbox
    assert message.to == ["desk@credits.example"]
    assert message.subject == "[Support] Ledger mismatch for Contoso Test"
    assert "- balance 5.00 but the ledger sums to 4.00\n- payment p1 succeeded without a ledger credit" in message.body
    assert f"/admin/billing/creditaccount/{account.pk}/change/" in message.body


def test_an_event_nobody_mapped_is_logged_and_changes_nothing(org, caplog):
    @dataclass(frozen=True, kw_only=True)
    class BrandNewThing(BillingEvent):
        code = "brand_new_thing"

    with caplog.at_level(logging.ERROR):
        announce(BrandNewThing(account=CreditAccount.objects.get(organization=org)))

    assert "No notification is mapped for BrandNewThing" in caplog.text
    assert not Event.objects.exists()


def test_a_paused_auto_recharge_email_gives_the_reason(org, billing_admin):
    account = CreditAccount.objects.get(organization=org)

    announce(
        AutoRechargePaused(
            account=account, paused_at=PAUSED_AT, reason="Paused after 3 failed recharges in a row.", failures=3,
            failure_code="card_declined", failure_message="", payment="recharge:1:3",
        )
    )

    (message,) = mail.outbox
    assert "Why: Paused after 3 failed recharges in a row." in message.body


def test_an_export_ready_email_goes_to_the_admin_who_asked_only(
    org, billing_admin, reports_reader, settings
):
    settings.SITE_URL = "https://credits.example.test"

    with transaction.atomic():
        services.notify_export_ready(
            organization=org,
            requested_by=reports_reader,
            export_id=42,
            download_path="/reports/usage/exports/42/download/",
            description="PSTN and SMS usage, 1 to 28 November 2026",
            row_count=1234567,
            file_name="Calls.Export.42.zip",
        )
        # Announced again (a retried task): still one email.
        services.notify_export_ready(
            organization=org, requested_by=reports_reader, export_id=42, download_path="/reports/usage/exports/42/download/"
        )

    (message,) = mail.outbox
    assert message.to == [reports_reader.email]
    assert "https://credits.example.test/reports/usage/exports/42/download/" in message.body
    assert "1,234,567 rows" in message.alternatives[0].content


def test_an_export_link_to_another_site_is_refused(org, reports_reader):
    with pytest.raises(ValueError):
        services.notify_export_ready(
            organization=org, requested_by=reports_reader, export_id=1, download_path="https://evil.example/steal"
        )


def test_an_export_for_someone_who_lost_their_admin_role_is_recorded_but_not_sent(org, plain_member):
    event = services.notify_export_ready(
        organization=org, requested_by=plain_member, export_id=9, download_path="/reports/9/"
    )

    assert event is not None
    assert not Delivery.objects.filter(event=event).exists()


@pytest.mark.parametrize("event_type", kinds.KINDS, ids=lambda t: t.code)
def test_every_registered_event_renders_its_subject_text_and_html(org, event_type):
    admin_in(org, *AdminRole.values)
    sample = {
        "amount": Decimal("12.34"), "cap": Decimal("100"), "spent": Decimal("100"), "threshold": Decimal("25"),
        "thresholds_display": "$25.00", "days": 7, "lot": 1, "payment_method": 2, "expires": "12/2026",
        "card": "Visa ending in 4242", "problems": ["balance 1 but the ledger sums to 2"], "resumes_at": "2026-12-01",
        "reason": "The card has expired.", "fix": "Update the card.", "paid_with": "Visa ending in 4242",
        "receipt_number": "CC-1", "purpose": "funding", "description": "An export", "row_count": 3,
    }
    requester = admin_in(org, AdminRole.GLOBAL_ADMINISTRATOR)

    with transaction.atomic():
        event = services.record_event(
            kind=event_type.code,
            organization=org,
            account=org.credit_account,
            requested_by=requester,
            context=sample,
            dedupe_key="sample",
        )

    assert event.summary and "{" not in event.summary
    assert Delivery.objects.filter(event=event).exists()
    for message in mail.outbox:
        assert message.subject == event.summary
        assert "Contoso Test" in message.body + message.subject
        assert message.alternatives[0].mimetype == "text/html"
        assert "&amp;" not in message.body, "plain text must not be HTML-escaped"
