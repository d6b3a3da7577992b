"""Why this charge: a record's page (its fields, its rating, the rate line or the pool, who paid, the
ledger entry and the lots), linked from the report's "Who pays" and "Why" columns; and the export's
Charge agreeing with the ledger to the cent on a month of mixed calls."""

import csv
import io
import zipfile
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.urls import reverse

from billing import services
from billing.choices import EntryKind
from billing.models import CreditLot, LedgerEntry
from billing.selectors import credit_account
from tests.usage.factories import fund, graph_call, graph_sms, page
from usage.models import CallRecord, ImportBatch, SmsRecord
from usage.selectors import explain_charge, parameters_for
from usage.services.exports.requesting import build_immediate
from usage.services.ingest import import_graph_payload
from usage.tables import record_url as cell_url

pytestmark = pytest.mark.django_db


def days_ago(days, hour=10, minute=0):
    return (datetime.now(UTC) - timedelta(days=days)).replace(hour=hour, minute=minute, second=0, microsecond=0)


def load(org, rows, sms=False):
    return import_graph_payload(org, page(rows, sms=sms), "sms" if sms else "pstn")


def record_url(record):
    kind = "sms" if isinstance(record, SmsRecord) else "pstn"
    return reverse("usage:record", kwargs={"kind": kind, "pk": record.pk})


def test_who_pays_and_why_link_to_the_record(client, reports_reader, org, people, rates, funded):
    load(org, [graph_call(upn="dave@contoso.test", start=days_ago(1), seconds=190)])
    record = CallRecord.objects.get()
    client.force_login(reports_reader)
    client.post(reverse("usage:edit_columns", args=["pstn"]), {"shown": ["start_time", "rating", "rating_reason"]})
    html = client.get(reverse("usage:report")).content.decode()
    url = record_url(record)
    assert f'<a href="{url}">Charged to Communications Credits</a>' in html
    assert f'<a href="{url}">{record.rating_reason}</a>' in html
    assert html.count(f'href="{url}"') == 2


def test_a_charged_call_shows_the_rate_line_the_rounding_and_what_paid(client, reports_reader, org, people, rates, funded):
    result = load(org, [graph_call(upn="dave@contoso.test", start=days_ago(1), seconds=190)])
    record = CallRecord.objects.get()
    assert record.charge == Decimal("0.05")
    client.force_login(reports_reader)
    response = client.get(record_url(record))
    assert response.status_code == 200
    why = response.context["why"]
    assert why.rate.rate.prefix == "1" and why.rate.rate.per_unit == Decimal("0.013")
    assert (why.rate.units, why.rate.exact, why.rate.charge, why.rate.matches) == (4, Decimal("0.052"), Decimal("0.05"), True)
    html = response.content.decode()
    assert "4 min × 0.013 = 0.052, rounded once to the cent (half up): <strong>0.05 USD</strong>" in html
    assert "+1" in html and "from 2020-01-01" in html
    entry = result.batch.ledger_entry
    assert why.ledger.entry == entry and entry.idempotency_key == f"usage-import:{result.batch.pk}"
    assert entry.amount == Decimal("-0.05")
    funding_lot = CreditLot.objects.get()
    assert [(d.lot, d.amount, d.later) for d in why.ledger.lots.draws] == [(funding_lot, Decimal("0.05"), False)]
    assert "this entry was paid by one lot, so this record was too" in html
    # Its fields as the export names them.
    assert ("Duration Seconds", "190") in why.fields and ("UsageId", str(record.usage_id)) in why.fields


def test_a_call_from_the_pool_shows_the_pool_and_what_is_left_for_the_month(client, reports_reader, org, people, rates, funded):
    load(org, [graph_call(start=days_ago(1, 9), seconds=300), graph_call(start=days_ago(1, 10), seconds=61)])
    first, second = CallRecord.objects.order_by("start_time")
    client.force_login(reports_reader)
    # alice and bob hold MCOPSTN1 in the US: a pool of 2 x 3,000 minutes.
    pool = client.get(record_url(first)).context["why"].pool
    assert (pool.name, pool.drawn, pool.used_after, pool.size, pool.left_after) == ("MCOPSTN1 US pool", 5, 5, 6000, 5995)
    assert pool.now.used == 7 and pool.now.size == 6000
    response = client.get(record_url(second))
    assert response.context["why"].pool.left_after == 5993
    html = response.content.decode()
    assert "7 of 6,000 min used: 5,993 left in" in html
    assert "Included in calling plan minutes" in html and "Domestic Calling Plan (MCOPSTN1)" in html
    assert response.context["why"].ledger is None and response.context["why"].rate is None


def test_a_call_partly_from_the_pool_shows_both(client, reports_reader, org, people, rates, funded):
    # gina's conference pool: nobody holds MCOMEETADD but alice, so the pool is 60 minutes.
    load(org, [graph_call(call_type="conf_out", start=days_ago(1, 9), seconds=65 * 60, callee="+442079460000")])
    record = CallRecord.objects.get()
    assert record.rating == "charged" and record.charged_units == 5
    client.force_login(reports_reader)
    why = client.get(record_url(record)).context["why"]
    assert (why.pool.name, why.pool.drawn, why.pool.left_after) == ("audio conferencing dial-out pool", 60, 0)
    assert why.rate.rate.prefix == "4420" and why.rate.units == 5 and why.rate.matches


def test_an_sms_from_the_pool(client, reports_reader, org, people, rates, funded):
    load(org, [graph_sms(start=days_ago(1), units=2)], sms=True)
    record = SmsRecord.objects.get()
    client.force_login(reports_reader)
    response = client.get(record_url(record))
    assert response.status_code == 200
    pool = response.context["why"].pool
    assert (pool.name, pool.drawn, pool.left_after, pool.unit) == ("MCOPSTN1 US SMS pool", 2, 198, "segments")
    assert ("Units", "2") in response.context["why"].fields


def test_a_charged_sms_shows_its_rate(client, reports_reader, org, people, rates, funded):
    load(org, [graph_sms(upn="hank@contoso.test", start=days_ago(1), units=3, other_country="GB", to="+447700900000")], sms=True)
    record = SmsRecord.objects.get()
    client.force_login(reports_reader)
    why = client.get(record_url(record)).context["why"]
    assert record.rating == "charged" and why.rate.rate.country == "GB"
    assert (why.rate.units, why.rate.charge, why.rate.matches) == (3, Decimal("0.12"), True)
    assert why.ledger.lots.exact


def test_another_organizations_record_is_not_found_and_every_admin_may_read(
    client, reports_reader, global_admin, plain_member, outsider, org, people, rates, funded
):
    load(org, [graph_call(start=days_ago(1))])
    url = record_url(CallRecord.objects.get())
    client.force_login(outsider)
    assert client.get(url).status_code == 404
    client.force_login(plain_member)
    assert client.get(url).status_code == 403
    for reader in (reports_reader, global_admin):
        client.force_login(reader)
        assert client.get(url).status_code == 200
    assert client.get(url.replace("/pstn/", "/sms/")).status_code == 404
    assert client.get(url.replace("/pstn/", "/fax/")).status_code == 404


def test_a_debt_is_paid_by_the_next_lot(client, reports_reader, org, people, rates):
    fund(org, "0.10", key="small")
    # 10 min to +91 at 0.09 + 0.05 fee = 0.95: the balance goes to -0.85.
    load(org, [graph_call(upn="dave@contoso.test", start=days_ago(2), seconds=600, callee="+919876543210")])
    record = CallRecord.objects.get()
    assert record.charge == Decimal("0.95")
    client.force_login(reports_reader)
    owed = client.get(record_url(record)).context["why"].ledger.lots
    assert [d.amount for d in owed.draws] == [Decimal("0.10")] and owed.unpaid == Decimal("0.85")
    fund(org, "0.50", key="second")
    fund(org, "5.00", key="third")
    lots = client.get(record_url(record)).context["why"].ledger.lots
    assert [(d.amount, d.later) for d in lots.draws] == [(Decimal("0.10"), False), (Decimal("0.50"), True), (Decimal("0.35"), True)]
    assert lots.unpaid == 0


def test_lots_that_disagree_with_the_ledger_are_not_guessed(client, reports_reader, org, people, rates, funded):
    load(org, [graph_call(upn="dave@contoso.test", start=days_ago(1), seconds=190)])
    CreditLot.objects.update(remaining=Decimal("1.00"))
    client.force_login(reports_reader)
    response = client.get(record_url(CallRecord.objects.get()))
    lots = response.context["why"].ledger.lots
    assert not lots.exact and lots.draws == []
    assert "cannot be told exactly" in response.content.decode()


@pytest.mark.parametrize("imports", [2, 30])
def test_the_page_takes_the_same_few_queries_whatever_the_history(
    client, reports_reader, org, people, rates, funded, django_assert_max_num_queries, imports
):
    for n in range(imports):
        load(org, [graph_call(upn="dave@contoso.test", start=days_ago(1 + n % 20, 9, n % 60), seconds=120)])
    record = CallRecord.objects.order_by("pk").first()
    client.force_login(reports_reader)
    client.get(record_url(record))  # warm the session
    with django_assert_max_num_queries(11):
        assert client.get(record_url(record)).status_code == 200
    included = [graph_call(start=days_ago(1, 8))]
    load(org, included)
    with django_assert_max_num_queries(11):
        assert client.get(record_url(CallRecord.objects.order_by("-pk").first())).status_code == 200


# The export's Charge and the ledger, on a month of mixed calls -------------------------------------


def mixed_day(day):
    """One day of calls that go every way: pools, international, conferencing, toll-free, refusals."""
    return [
        graph_call(start=days_ago(day, 8), seconds=300),  # alice: the MCOPSTN1 US pool
        graph_call(upn="carol@contoso.test", start=days_ago(day, 9), seconds=200, callee="+919876543210"),  # international plan
        graph_call(upn="dave@contoso.test", start=days_ago(day, 10), seconds=190),  # Pay-As-You-Go
        graph_call(upn="dave@contoso.test", start=days_ago(day, 10, 30), seconds=61, callee="+442079460000"),
        graph_call(upn="erin@contoso.test", start=days_ago(day, 11), seconds=125, callee="+12065550100"),  # international on domestic
        graph_call(upn="frank@contoso.test", start=days_ago(day, 12), seconds=60 * 30),  # 120 min of his own, then charged
        graph_call(upn="gina@contoso.test", call_type="conf_out", start=days_ago(day, 13), seconds=95, callee="+4930901820"),
        graph_call(call_type="conf_out", start=days_ago(day, 14), seconds=400, callee="+919876543210"),  # outside Zone A
        graph_call(call_type="conf_out", start=days_ago(day, 14, 30), seconds=900, callee="+4930901821"),  # Zone A pool
        graph_call(upn="bob@contoso.test", start=days_ago(day, 15), seconds=100, callee="+4930901820"),  # no credits license
        graph_call(upn="hank@contoso.test", call_type="user_in", start=days_ago(day, 16), seconds=100, inventory="Toll Free",
                   usageCountryCode="GB"),
        graph_call(upn="alice@contoso.test", call_type="user_in", start=days_ago(day, 17), seconds=300),
        graph_call(upn="dave@contoso.test", start=days_ago(day, 18), seconds=0),
    ]


def export_charges(org, start, end):
    handle, _name, _size = build_immediate(org, "csv_zip", parameters_for("pstn", start, end, {}))
    charges = {}
    with zipfile.ZipFile(io.BytesIO(handle.read())) as archive:
        for name in archive.namelist():
            if name.endswith(".csv"):
                for row in csv.DictReader(io.StringIO(archive.read(name).decode("utf-8-sig"))):
                    charges[row["UsageId"]] = Decimal(row["Charge"])
    handle.close()
    return charges


def test_the_exports_charge_and_the_ledger_agree_to_the_cent_for_every_record_of_a_month(org, people, rates):
    # 20.00 runs out mid-month (a charge takes the balance below zero, the next ones are refused) and
    # the recharge pays what is owed first.
    account = fund(org, "20.00", key="month:fund")
    days = range(30, 0, -1)
    for day in days:
        load(org, mixed_day(day))
        if day == 15:  # a recharge in the middle of the month: later charges draw the next lot
            services.post_entry(account_id=account.pk, kind=EntryKind.RECHARGE, amount=Decimal("40.00"), idempotency_key="month:more")
    start, end = days_ago(30).date(), days_ago(1).date()
    charges = export_charges(org, start, end)
    records = list(CallRecord.objects.filter(organization=org))
    assert len(charges) == len(records) == 13 * 30
    ratings = {r.rating for r in records}
    assert {"charged", "included_plan", "included_conference", "refused", "free_inbound", "no_charge"} <= ratings

    parts, paid_later = {}, False
    for record in records:
        assert charges[str(record.usage_id)] == record.charge  # the export's Charge is the record's
        why = explain_charge(org, "pstn", record.pk)
        if record.rating != "charged":
            assert record.charge == 0 and why.ledger is None
            continue
        assert why.rate.matches, (record.rating_reason, why.rate)
        assert why.ledger.entry.idempotency_key == f"usage-import:{record.batch_id}"
        parts.setdefault(why.ledger.entry.pk, []).append(charges[str(record.usage_id)])
        lots = why.ledger.lots
        assert lots.exact and sum(d.amount for d in lots.draws) + lots.unpaid == -why.ledger.entry.amount
        paid_later |= any(d.later for d in lots.draws)
    assert paid_later, "one import's charge took the balance below zero and the recharge paid the rest"

    entries = LedgerEntry.objects.filter(account=account, kind=EntryKind.USAGE_CHARGE)
    assert {entry.pk: -entry.amount for entry in entries} == {pk: sum(amounts) for pk, amounts in parts.items()}
    assert -sum(e.amount for e in entries) == sum(charges.values())
    assert {b.ledger_entry_id for b in ImportBatch.objects.filter(organization=org, charged_total__gt=0)} == set(parts)
    account = credit_account(org)
    assert account.balance == Decimal("60.00") - sum(charges.values())
    # The month's charges drew the first lot, then the recharge's.
    paid_by = set()
    for pk in parts:
        charged = CallRecord.objects.filter(batch__ledger_entry=pk, rating="charged").first()
        paid_by |= {d.lot.entry.idempotency_key for d in explain_charge(org, "pstn", charged.pk).ledger.lots.draws}
    assert paid_by == {"month:fund", "month:more"}


def test_the_cells_address_is_the_one_reverse_gives():
    for kind, pk in (("pstn", 1), ("sms", 42), ("pstn", 987654321)):
        assert cell_url(kind, pk) == reverse("usage:record", kwargs={"kind": kind, "pk": pk})


def test_refused_and_unpriced_calls_say_what_would_have_priced_them(client, reports_reader, org, people, rates, funded):
    load(org, [
        graph_call(upn="bob@contoso.test", start=days_ago(1, 9), seconds=100, callee="+4930901820"),  # no credits license
        graph_call(upn="dave@contoso.test", start=days_ago(1, 10), seconds=100, callee="+81312345678"),  # no rate for +81
    ])
    refused, unpriced = CallRecord.objects.order_by("start_time")
    assert (refused.rating, unpriced.rating) == ("refused", "not_priced")
    client.force_login(reports_reader)
    response = client.get(record_url(refused))
    why = response.context["why"]
    assert why.rate.rate.prefix == "49" and why.rate.charge is None and why.ledger is None
    assert "Nobody: it could not be charged" in response.content.decode()
    response = client.get(record_url(unpriced))
    assert response.context["why"].rate.rate is None
    assert "No rate line in USD matches" in response.content.decode()


def test_a_call_on_a_per_second_card_is_explained_with_the_cards_minimum_and_increment(
    client, reports_reader, org, people, rates, funded
):
    from usage.models import Rate

    # The +1 line bills 30 s, then per 6 s: 190 s bills 192 s.
    Rate.objects.filter(prefix="1").update(minimum_seconds=30, increment_seconds=6, per_unit=Decimal("0.6"))
    load(org, [graph_call(upn="dave@contoso.test", start=days_ago(1), seconds=190)])
    record = CallRecord.objects.get()
    assert record.charge == Decimal("1.92")  # 192 s x 0.6 per minute
    client.force_login(reports_reader)
    response = client.get(record_url(record))
    why = response.context["why"]
    assert (why.rate.billed_seconds, why.rate.exact, why.rate.charge, why.rate.matches) == (192, Decimal("1.92"), Decimal("1.92"), True)
    html = response.content.decode()
    assert "192 s (30 s minimum, then per 6 s) × 0.6 per minute = 1.92" in html
    assert "changed since" not in html
