"""The demo the browser tests walk: `manage.py load_demo` (every app's demo, written through the
services), plus what the demo alone does not reach: a background export, an API key, notification
settings (a low-balance warning, chosen recipients), a delivery the mail server refused and a ledger
that does not reconcile. Built once per test (the live server's database is flushed after each one),
in well under a second on SQLite."""

import smtplib
from dataclasses import dataclass
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.core.mail.backends.base import BaseEmailBackend
from django.core.management import call_command
from django.db.models import F
from django.http import QueryDict
from django.test import override_settings

from billing import services
from billing.choices import AdminRole
from billing.management.commands.load_billing_demo import LOGINS, SUPPORT_LOGIN
from billing.models import CreditAccount, Organization, Payment, PaymentMethod, Receipt
from billing.services.reconciliation import reconcile
from notifications import services as notification_services
from notifications.kinds import OPTIONAL
from notifications.models import Event
from usage.choices import ExportFormat, Rating, RecordKind
from usage.models import CallRecord, DestinationRule, Person, SmsRecord
from usage.selectors import ReportState
from usage.services import guard
from usage.services.api_keys import create_api_key
from usage.services.exports.requesting import request_export
from usage.services.fraud_simulation import simulate_fraud_burst

PASSWORDS = {email: password for email, password, *_ in LOGINS} | {SUPPORT_LOGIN[0]: SUPPORT_LOGIN[1]}
GLOBAL_ADMIN = "global@contoso.example"  # Contoso's Global Administrator, also an admin of Fabrikam
READER = "reports@contoso.example"  # a read-only role: buying and auto-recharge answer 403
SUPPORT = SUPPORT_LOGIN[0]  # support staff, Django admin only


class RefusingMailer(BaseEmailBackend):
    """A mail server that answers 550 for every recipient, as for a mailbox that does not exist."""

    def send_messages(self, email_messages):
        recipients = {address: (550, b"5.1.1 No such user") for message in email_messages for address in message.recipients()}
        raise smtplib.SMTPRecipientsRefused(recipients)


@dataclass(frozen=True)
class SiteDemo:
    """The ids the pages' URLs need, and who signs in."""

    organization: Organization
    payment_key: str
    receipt_number: str
    event_id: int
    export_id: str
    api_key_id: int
    charged_call_id: int  # a call charged to credits: its "Why this charge" page shows the rate, entry and lots
    pool_call_id: int  # a call from a calling plan's pool
    sms_id: int
    guard_override_id: int = 0  # a spend guard override (a person's caps)
    guard_rule_id: int = 0  # the default premium-rate rule
    guard_block_id: int = 0  # a credit block in force
    incident_id: int = 0  # the incident spike detection opened on a simulated fraud burst

    @staticmethod
    def user(email):
        return get_user_model().objects.get(username=email)

    @staticmethod
    def password(email):
        return PASSWORDS[email]


def build_site_demo() -> SiteDemo:
    """Call with MEDIA_ROOT pointing at a temporary folder: the export's file is written there."""
    call_command("load_demo", verbosity=0)
    contoso = Organization.objects.get(slug="contoso")
    admin = SiteDemo.user(GLOBAL_ADMIN)

    funding = Payment.objects.filter(account__organization=contoso, purpose="funding").earliest("created_at")
    state = ReportState(contoso, RecordKind.PSTN, QueryDict())
    export = request_export(
        organization=contoso, user=admin, export_format=ExportFormat.CSV_ZIP,
        parameters=state.export_parameters(), rows_total=state.summary.records,
    )
    token, _ = create_api_key(organization=contoso, name="Graph forwarder", actor=admin)
    notification_services.add_low_balance_threshold(organization=contoso, actor=admin, amount=Decimal("25.00"))
    notification_services.set_role_preferences(
        organization=contoso, actor=admin, kind=OPTIONAL[0].code, roles={AdminRole.GLOBAL_ADMINISTRATOR, AdminRole.BILLING_ADMINISTRATOR},
    )
    refuse_one_funding_notice()
    make_one_ledger_disagree()
    # The tests' demo holds 3 days of calls (USAGE_DEMO_DAYS): detection is let judge after one.
    with override_settings(SPEND_DETECTION_MIN_HISTORY_DAYS=1):
        burst = simulate_fraud_burst(contoso, seed=14)
    incident = contoso.usage_incidents.filter(last_batch_id=burst.batch.pk).first()
    assert incident is not None, "detection raised no incident on the demo's simulated fraud burst"
    override, block = spend_guard_examples(contoso, admin)
    return SiteDemo(
        organization=contoso,
        payment_key=funding.idempotency_key,
        receipt_number=Receipt.objects.get(entry=funding.entry).number,
        event_id=Event.objects.filter(organization=contoso).earliest("occurred_at").pk,
        export_id=str(export.public_id),
        api_key_id=token.pk,
        charged_call_id=newest(CallRecord, contoso, Rating.CHARGED),
        pool_call_id=newest(CallRecord, contoso, Rating.INCLUDED_PLAN),
        sms_id=newest(SmsRecord, contoso, None),
        guard_override_id=override.pk,
        guard_rule_id=DestinationRule.objects.get(organization=contoso, default_key="premium-rate").pk,
        guard_block_id=block.pk,
        incident_id=incident.pk,
    )


def spend_guard_examples(organization, admin):
    """An override (a person with a higher daily cap) and a credit block in force, for the Spend guard pages."""
    people = Person.objects.filter(organization=organization).order_by("upn")
    override = guard.save_policy(organization, actor=admin, scope="person", person=people[0], person_day_cap="60.00")
    block = guard.block_person(organization, people[1], actor=admin, reason="Calls to premium numbers at night")
    return override, block


def newest(model, organization, rating):
    """The id of the organization's newest record (of that rating): a "Why this charge" page to visit."""
    records = model.objects.filter(organization=organization)
    if rating:
        records = records.filter(rating=rating)
    found = records.order_by("-pk").values_list("pk", flat=True).first()
    assert found is not None, f"the demo has no {model._meta.verbose_name} rated {rating}"
    return found


def refuse_one_funding_notice():
    """Woodgrove pays by its enterprise agreement while the mail server refuses the notice: support's
    delivery and failure pages then have a failed delivery to show."""
    woodgrove = Organization.objects.get(slug="woodgrove")
    agreement = PaymentMethod.objects.get(organization=woodgrove, kind="enterprise_agreement")
    with override_settings(MAILERS={"default": {"BACKEND": f"{__name__}.RefusingMailer"}}):
        services.fund_credits(
            organization=woodgrove, actor=SiteDemo.user("billing@woodgrove.example"), amount=Decimal("500.00"),
            payment_method=agreement, idempotency_key="e2e-demo:woodgrove", purchase_order="PO-4471",
        )


def make_one_ledger_disagree():
    """No service can make a balance disagree with its ledger (that is their point), so the mismatch
    support's reconciliation pages exist for is made by hand, then found by the real reconciliation."""
    CreditAccount.objects.filter(organization__slug="tailspin").update(balance=F("balance") + Decimal("1.00"))
    assert reconcile(), "the reconciliation did not find the mismatch made for it"


@pytest.fixture(name="site_demo")
def site_demo_fixture(live_url, settings, tmp_path):
    """The site demo, for a browser test; built exports are written under the test's own folder.
    Test modules import it (by this name, so that their `site_demo` arguments do not shadow an import)."""
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return build_site_demo()
