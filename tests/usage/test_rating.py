"""Every rating rule, as a table of cases: who pays for the call, how much, and why."""

from decimal import Decimal

import pytest

from tests.usage.factories import at, graph_call, graph_sms
from usage.services.ingest.kinds import CALLS, MESSAGES
from usage.services.ingest.pipeline import rate_record
from usage.services.rating import RatingContext, authorize_call, billable_minutes, dialable_digits
from usage.services.sources import graph_layout, graph_rows

pytestmark = pytest.mark.django_db


def cleaned(kind, row):
    code = "sms" if kind is MESSAGES else "pstn"
    [(label, values)] = list(graph_rows([row], code))
    errors = []
    record = kind.cleaner(graph_layout(code))(values, label, {}, errors)
    assert not errors, errors
    assert kind.finish(record, label, {}, errors)
    return record


def rate(ctx, row, kind=CALLS, **fields):
    """Rate one Graph row; `fields` set record fields Graph has no key for (e.g. external_country)."""
    record = cleaned(kind, row)
    record.update(fields)
    return rate_record(ctx, kind.rater, record, kind is CALLS), record


@pytest.fixture
def ctx(org, people, rates):
    return RatingContext(org, balance=Decimal("100.00"), allowed=True)


D = Decimal
CALL_CASES = [
    # id, row, rating, charge, capability, words the reason must hold
    ("inbound call is free on every plan", dict(call_type="user_in", callee="+14255550100", caller="+12065550199"),
     "free_inbound", "0", "MCOPSTN1", "unlimited"),
    ("inbound to an unassigned number is free", dict(call_type="unassigned_in", upn=""), "free_inbound", "0", "", "unlimited"),
    ("emergency call is free", dict(call_type="emergency_out", callee="+1911"), "free_emergency", "0", "MCOPSTN1", "Emergency"),
    ("domestic call draws the plan pool", dict(), "included_plan", "0", "MCOPSTN1", "from the MCOPSTN1 US pool"),
    ("international call on a domestic plan is charged", dict(callee="+442079460000", seconds=300),
     "charged", "0.10", "MCOPSTNPP", "International call on Domestic Calling Plan"),
    ("international call on a domestic and international plan draws its pool",
     dict(upn="carol@contoso.test", callee="+442079460000"), "included_plan", "0", "MCOPSTN2", "MCOPSTN2 US pool"),
    ("every minute on pay-as-you-go is charged, rounded up to whole minutes and then half up to the cent",
     dict(upn="dave@contoso.test", seconds=190), "charged", "0.05", "MCOPSTNPP", "includes no outbound minutes"),
    ("a user without the credits license is refused", dict(upn="bob@contoso.test", callee="+442079460000"),
     "refused", "0", "MCOPSTNPP", "no Communications Credits license"),
    ("a connection fee is added once to the rounded minutes", dict(upn="dave@contoso.test", callee="+919876543210", seconds=61),
     "charged", "0.23", "MCOPSTNPP", "connection fee"),
    ("toll-free inbound is charged at the country's toll-free rate",
     dict(call_type="ucap_in", upn="", callee="+18005550100", inventory="Toll-free", seconds=600, usageCountryCode="US"),
     "charged", "0.20", "MCOPSTNPP", "Toll-free inbound to a US number"),
    ("toll-free inbound to a user without the credits license is still charged to the organization",
     dict(call_type="user_in", upn="bob@contoso.test", inventory="toll_free", seconds=60), "charged", "0.02", "MCOPSTNPP", "Toll-free"),
    ("conference dial-out to Zone A draws the conferencing pool", dict(call_type="conf_out", callee="+4930901820"),
     "included_conference", "0", "MCOMEETADD", "Zone A"),
    ("conference dial-out outside Zone A is charged", dict(call_type="conf_out", callee="+20223456789", seconds=120),
     "charged", "0.23", "MCOPSTNPP", "outside Zone A"),
    ("conference dial-out on pay-per-minute is charged", dict(call_type="conf_out", upn="gina@contoso.test", callee="+4930901820"),
     "charged", "0.15", "MCOMEETACPEA", "pay-per-minute"),
    ("conference dial-in on pay-per-minute is charged by the caller's number",
     dict(call_type="conf_in", upn="gina@contoso.test", caller="+4930901820", callee="+14255550000", seconds=60),
     "charged", "0.03", "MCOMEETACPEA", "dial-in"),
    ("conference dial-in to a toll number is included with audio conferencing", dict(call_type="conf_in", caller="+4930901820"),
     "included_conference", "0", "MCOMEETADD", "included"),
    ("a caller shown by name is priced at the country's base rate",
     dict(upn="hank@contoso.test", callee="Reception", context="International", _fields={"external_country": "GB"}),
     "charged", "0.12", "MCOPSTNPP", "(+44)"),
    ("an obscured number is priced by its visible digits", dict(upn="dave@contoso.test", callee="+44 20 7946 0***", seconds=60),
     "charged", "0.02", "MCOPSTNPP", "(+4420)"),
    ("a destination without a rate is not priced", dict(upn="dave@contoso.test", callee="+999123456"),
     "not_priced", "0", "FREECALL", "no rate"),
    ("a call that never connected costs nothing", dict(upn="dave@contoso.test", seconds=0), "no_charge", "0", "MCOPSTN9", "0 seconds"),
    ("a rate change applies from its effective date", dict(upn="hank@contoso.test", callee="+447700900123", seconds=60,
     start=at("2024-08-01")), "charged", "0.03", "MCOPSTNPP", "0.026"),
    ("the old rate applies before the change", dict(upn="hank@contoso.test", callee="+447700900123", seconds=60,
     start=at("2024-06-30")), "charged", "0.02", "MCOPSTNPP", "0.024"),
    ("a per-user plan draws the user's own minutes", dict(upn="frank@contoso.test"), "included_plan", "0", "MCOPSTN8",
     "minutes of this user"),
    ("a user with no calling plan pays every minute", dict(upn="hank@contoso.test", callee="+442079460000", seconds=60),
     "charged", "0.02", "MCOPSTNPP", "No calling plan"),
    ("an unknown call type is rated by its direction", dict(call_type="user_out_somethingnew"), "included_plan", "0", "MCOPSTN1", "pool"),
]


@pytest.mark.parametrize("row,rating,charge,capability,words", [c[1:] for c in CALL_CASES], ids=[c[0] for c in CALL_CASES])
def test_each_call_rating_rule(ctx, row, rating, charge, capability, words):
    row = dict(row)
    fields = row.pop("_fields", {})
    outcome, record = rate(ctx, graph_call(**row), **fields)
    assert outcome.rating == rating, outcome.reason
    assert outcome.charge == D(charge)
    assert outcome.capability == capability
    assert words in outcome.reason
    assert record["rating_reason"] == outcome.reason


SMS_CASES = [
    ("outbound SMS in the US draws the plan's SMS pool", dict(), "included_sms", "0", "MCOPSTN1", "SMS pool"),
    ("inbound SMS is free", dict(sms_type="inbound"), "free_inbound", "0", "MCOPSTN1", "Inbound"),
    ("international SMS is charged per segment", dict(to="+447700900123", other_country="GB", units=3),
     "charged", "0.12", "MCOPSTNPP", "International SMS"),
    ("SMS on pay-as-you-go is charged per segment, rounded half up", dict(upn="dave@contoso.test", units=2),
     "charged", "0.02", "MCOPSTNPP", "includes no SMS"),
    ("SMS of a user outside the US, PR and CA is charged", dict(upn="erin@contoso.test", to="+4930901820", other_country="DE"),
     "not_priced", "0", "FREECALL", "no SMS rate for DE"),
]


@pytest.mark.parametrize("row,rating,charge,capability,words", [c[1:] for c in SMS_CASES], ids=[c[0] for c in SMS_CASES])
def test_each_sms_rating_rule(ctx, row, rating, charge, capability, words):
    outcome, _ = rate(ctx, graph_sms(**row), MESSAGES)
    assert (outcome.rating, outcome.charge, outcome.capability) == (rating, D(charge), capability), outcome.reason
    assert words in outcome.reason


def test_a_depleted_account_refuses_every_charge_but_not_included_minutes(org, people, rates):
    ctx = RatingContext(org)  # the account exists and holds nothing: billing's check says no
    refused, _ = rate(ctx, graph_call(callee="+442079460000"))
    included, _ = rate(ctx, graph_call())
    assert refused.rating == "refused" and refused.charge == 0
    assert "balance is zero" in refused.reason
    assert included.rating == "included_plan"


def test_the_call_that_empties_the_balance_is_charged_and_the_next_one_refused(org, people, rates):
    ctx = RatingContext(org, balance=Decimal("0.15"), allowed=True)
    first, _ = rate(ctx, graph_call(upn="dave@contoso.test", seconds=600))  # 10 min x 0.013 = 0.13
    second, _ = rate(ctx, graph_call(upn="dave@contoso.test", seconds=600))  # takes it below zero: already made
    third, _ = rate(ctx, graph_call(upn="dave@contoso.test", seconds=60))
    assert [first.rating, second.rating, third.rating] == ["charged", "charged", "refused"]
    assert ctx.balance == Decimal("-0.11")
    assert "reached zero" in third.reason


def test_pooled_minutes_are_shared_by_users_with_the_same_plan_in_the_same_country(org, people, rates):
    # alice and bob hold MCOPSTN1 in the US: a pool of 2 x 3,000 minutes a month.
    ctx = RatingContext(org, balance=Decimal("100.00"), allowed=True)
    big, _ = rate(ctx, graph_call(upn="alice@contoso.test", seconds=5000 * 60))
    more, _ = rate(ctx, graph_call(upn="bob@contoso.test", seconds=900 * 60))
    across, _ = rate(ctx, graph_call(upn="alice@contoso.test", seconds=200 * 60))
    assert big.rating == more.rating == "included_plan"
    assert across.rating == "charged"
    assert across.charged_units == 100  # 100 of its 200 minutes were left in the pool
    assert across.charge == Decimal("1.30")
    assert "100 of 200 min from the pool" in across.reason


def test_the_pool_of_another_country_is_separate_and_smaller(org, people, rates):
    ctx = RatingContext(org, balance=Decimal("100.00"), allowed=True)
    # erin is the only MCOPSTN1 user in Germany: 1,200 minutes outside the US, Canada and the UK.
    inside, _ = rate(ctx, graph_call(upn="erin@contoso.test", callee="+4930901820", seconds=1200 * 60))
    beyond, _ = rate(ctx, graph_call(upn="erin@contoso.test", callee="+4930901820", seconds=60))
    us_call, _ = rate(ctx, graph_call(upn="alice@contoso.test", seconds=60))
    assert inside.rating == "included_plan" and "DE pool" in inside.reason
    assert beyond.rating == "charged"
    assert us_call.rating == "included_plan"


def test_a_new_calendar_month_starts_a_full_pool(org, people, rates):
    ctx = RatingContext(org, balance=Decimal("100.00"), allowed=True)
    rate(ctx, graph_call(upn="frank@contoso.test", seconds=120 * 60, start=at("2024-05-31", "23:00:00")))
    may, _ = rate(ctx, graph_call(upn="frank@contoso.test", seconds=60, start=at("2024-05-31", "23:30:00")))
    june, _ = rate(ctx, graph_call(upn="frank@contoso.test", seconds=60, start=at("2024-06-01", "00:00:01")))
    assert may.rating == "charged"
    assert june.rating == "included_plan"


def test_the_conferencing_pool_is_sixty_minutes_per_conferencing_user(org, people, rates):
    ctx = RatingContext(org, balance=Decimal("100.00"), allowed=True)
    assert ctx.conference_pool_size() == 60  # only alice holds MCOMEETADD
    inside, _ = rate(ctx, graph_call(call_type="conf_out", callee="+4930901820", seconds=60 * 60))
    beyond, _ = rate(ctx, graph_call(call_type="conf_out", callee="+4930901820", seconds=60))
    assert inside.rating == "included_conference"
    assert beyond.rating == "charged" and "beyond the audio conferencing dial-out pool" in beyond.reason


def test_numbers_are_read_up_to_their_obscured_part_and_names_have_no_digits():
    assert dialable_digits("+1 (425) 555-0100") == "14255550100"
    assert dialable_digits("+123 456789***") == "123456789"
    assert dialable_digits("tel:+442079460000") == "442079460000"
    assert dialable_digits("Reception desk 2") == ""
    assert dialable_digits("+12065550100") == "12065550100"
    assert dialable_digits("+١٢٣٤") == ""  # digits of another script are not E.164 digits
    assert [billable_minutes(s) for s in (0, 1, 60, 61, 3600)] == [0, 1, 1, 2, 60]


def test_authorization_says_how_many_minutes_the_pool_and_balance_allow(org, people, rates, funded):
    free = authorize_call(org, upn="alice@contoso.test", number="+12065550100", at=at())
    assert free.allowed and free.included_minutes == 6000
    abroad = authorize_call(org, upn="alice@contoso.test", number="+442079460000", at=at())
    assert abroad.allowed and abroad.included_minutes == 0
    assert abroad.minutes == 5000  # 100.00 / 0.020 per minute
    unlicensed = authorize_call(org, upn="bob@contoso.test", number="+442079460000", at=at())
    assert not unlicensed.allowed and "license" in unlicensed.reason
    stranger = authorize_call(org, upn="nobody@contoso.test", number="+12065550100", at=at())
    assert not stranger.allowed
