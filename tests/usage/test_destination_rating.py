"""Rating follows the destinations and country lists kept as data: Zone A, the countries a Domestic and
International Calling Plan includes, premium-rate numbers; the destination decides, not the caller's
country; and a rate line's minimum and increment, at the edges."""

from decimal import Decimal

import pytest

from tests.usage.factories import PersonFactory, RateFactory, at, graph_call
from tests.usage.test_rating import rate
from usage.choices import CountryListKey
from usage.models import CountryList, DestinationRule, Rate
from usage.services.rating import RatingContext, authorize_call, billed_seconds

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("destinations")]
D = Decimal


@pytest.fixture
def ctx(org, people, rates):
    return RatingContext(org, balance=D("100.00"), allowed=True)


def fresh(org):
    return RatingContext(org, balance=D("100.00"), allowed=True)


def test_an_international_call_to_a_country_the_plan_includes_draws_its_pool(ctx):
    outcome, record = rate(ctx, graph_call(upn="carol@contoso.test", callee="+919876543210", seconds=120))
    assert outcome.rating == "included_plan" and "MCOPSTN2 US pool" in outcome.reason
    assert record["external_country"] == "IN"


def test_an_international_call_to_a_country_the_plan_does_not_include_is_charged_at_the_destinations_rate(ctx):
    # Papua New Guinea is not in the list of the Domestic and International Calling Plan.
    outcome, record = rate(ctx, graph_call(upn="carol@contoso.test", callee="+67571234567", seconds=120))
    assert outcome.rating == "charged" and outcome.charge == D("1.00")  # 2 min x 0.50
    assert outcome.reason == (
        "International call to PG, a country Domestic and International Calling Plan (MCOPSTN2) does not include: "
        "2 min x 0.5 USD (+675)."
    )
    assert record["rating_reason"] == outcome.reason and record["external_country"] == "PG"


def test_support_staff_change_the_plans_countries_and_rating_follows(org, people, rates):
    plan = CountryList.objects.get(key=CountryListKey.INTERNATIONAL_PLAN)
    plan.countries = plan.countries.replace("IN", "")
    plan.save()
    outcome, _ = rate(fresh(org), graph_call(upn="carol@contoso.test", callee="+919876543210", seconds=60))
    assert outcome.rating == "charged" and "International call to IN" in outcome.reason
    assert outcome.charge == D("0.14")  # 1 min x 0.09 + 0.05 connection fee


def test_without_a_stored_list_rating_reads_the_file(org, people, rates):
    CountryList.objects.all().delete()
    outcome, _ = rate(fresh(org), graph_call(upn="carol@contoso.test", callee="+67571234567"))
    assert outcome.rating == "charged"
    included, _ = rate(fresh(org), graph_call(call_type="conf_out", callee="+919876543210"))
    assert included.rating == "included_conference"


def test_conference_dial_out_to_zone_a_is_included_and_beyond_it_charged_by_the_destination(ctx):
    # India is one of the 44 countries of Zone A; Egypt is not, and is priced at Egypt's rate.
    inside, _ = rate(ctx, graph_call(call_type="conf_out", callee="+919876543210", seconds=60))
    outside, record = rate(ctx, graph_call(call_type="conf_out", callee="+20223456789", seconds=60))
    assert inside.rating == "included_conference" and "(Zone A)" in inside.reason
    assert outside.rating == "charged" and outside.charge == D("0.14")
    assert outside.reason == "Conference dial-out to EG, outside Zone A: 1 min x 0.09 USD (+20) + 0.05 USD connection fee."
    assert record["external_country"] == "EG"


def test_conference_dial_out_is_rated_by_the_destination_not_the_organizers_country(org, catalog, rates):
    # An organizer located outside Zone A dialling out to a Zone A country draws the pool; one located
    # in Zone A dialling out beyond it pays.
    PersonFactory(organization=org, upn="omar@contoso.test", usage_location="EG", licenses="MCOPSTN1 MCOMEETADD MCOPSTNPP")
    PersonFactory(organization=org, upn="uma@contoso.test", usage_location="US", licenses="MCOPSTN1 MCOMEETADD MCOPSTNPP")
    ctx = fresh(org)
    to_us, _ = rate(ctx, graph_call(upn="omar@contoso.test", call_type="conf_out", callee="+12065550100"))
    to_egypt, _ = rate(ctx, graph_call(upn="uma@contoso.test", call_type="conf_out", callee="+20223456789"))
    assert to_us.rating == "included_conference"
    assert to_egypt.rating == "charged" and "outside Zone A" in to_egypt.reason


def test_support_staff_change_zone_a_and_rating_follows(org, people, rates):
    zone_a = CountryList.objects.get(key=CountryListKey.ZONE_A)
    zone_a.countries += " EG"
    zone_a.save()
    outcome, _ = rate(fresh(org), graph_call(call_type="conf_out", callee="+20223456789"))
    assert outcome.rating == "included_conference"


def without_the_premium_block(org):
    """Premium-rate numbers are blocked by a default spend guard rule; these tests price them, as an
    organization that lifted it does."""
    DestinationRule.objects.filter(organization=org, default_key="premium-rate").update(lifted_at=at("2026-01-01"))
    return fresh(org)


def test_a_premium_number_is_refused_by_the_default_spend_guard_rule(ctx):
    outcome, _ = rate(ctx, graph_call(upn="carol@contoso.test", callee="+449098790000", seconds=60))
    assert outcome.rating == "refused" and outcome.charge == 0
    assert "Spend guard: destination rule #" in outcome.reason and "a default rule" in outcome.reason


def test_a_premium_number_is_never_drawn_from_a_calling_plan_pool(org, people, rates):
    outcome, _ = rate(without_the_premium_block(org), graph_call(upn="carol@contoso.test", callee="+449098790000", seconds=60))
    assert outcome.rating == "charged" and outcome.charge == D("1.50")
    assert "Premium-rate or shared-cost number in GB: never included in Domestic and International Calling Plan" in outcome.reason


def test_a_premium_number_by_the_destinations_table_is_never_drawn_from_the_conferencing_pool(org, people, rates):
    # +1 900 is premium-rate in the destinations table; its rate line (+1) does not say so.
    outcome, _ = rate(without_the_premium_block(org), graph_call(call_type="conf_out", callee="+19005550100", seconds=60))
    assert outcome.rating == "charged" and outcome.charge == D("0.01")
    assert "premium-rate or shared-cost number in US, never part of a pool" in outcome.reason


def test_a_toll_free_destination_is_a_domestic_call_of_its_country(ctx):
    outcome, record = rate(ctx, graph_call(callee="+18005550100"))
    assert outcome.rating == "included_plan" and record["external_country"] == "US"


EDGES = [
    # seconds, (minimum, increment), billed seconds
    (0, (60, 60), 0), (1, (60, 60), 60), (60, (60, 60), 60), (61, (60, 60), 120), (120, (60, 60), 120), (121, (60, 60), 180),
    (0, (1, 1), 0), (1, (1, 1), 1), (2, (1, 1), 2), (61, (1, 1), 61),
    (0, (30, 6), 0), (1, (30, 6), 30), (30, (30, 6), 30), (31, (30, 6), 36), (36, (30, 6), 36), (37, (30, 6), 42),
    (1, (0, 60), 60), (59, (60, 1), 60), (61, (60, 1), 61),
]


@pytest.mark.parametrize("seconds,card,billed", EDGES, ids=[f"{s}s-{m}/{i}" for s, (m, i), _ in EDGES])
def test_billed_seconds_at_the_edges_of_minimum_and_increment(seconds, card, billed):
    assert billed_seconds(seconds, *card) == billed


CHARGES = [
    # seconds, (minimum, increment), charge at 0.60 per minute (1 cent a second), minutes charged, words
    (0, (1, 1), "0", 0, "Not connected"),
    (1, (1, 1), "0.01", 1, "1 s x 0.6 USD per min (+33), billed 1 s minimum then per 1 s"),
    (61, (1, 1), "0.61", 2, "61 s x 0.6 USD per min"),
    (1, (30, 6), "0.30", 1, "30 s x 0.6 USD per min"),
    (30, (30, 6), "0.30", 1, "30 s x"),
    (31, (30, 6), "0.36", 1, "36 s x"),
    (43, (30, 6), "0.48", 1, "48 s x"),
    (1, (60, 60), "0.60", 1, "1 min x 0.6 USD (+33)."),
    (61, (60, 60), "1.20", 2, "2 min x 0.6 USD (+33)."),
]


@pytest.mark.parametrize("seconds,card,charge,minutes,words", CHARGES, ids=[f"{c[0]}s-{c[1][0]}/{c[1][1]}" for c in CHARGES])
def test_a_charge_honours_the_lines_minimum_and_increment(org, people, rates, seconds, card, charge, minutes, words):
    RateFactory(prefix="33", country="FR", per_unit=D("0.60"), minimum_seconds=card[0], increment_seconds=card[1])
    outcome, _ = rate(fresh(org), graph_call(upn="dave@contoso.test", callee="+33140200000", seconds=seconds))
    assert outcome.charge == D(charge) and outcome.charged_units == minutes, outcome.reason
    assert words in outcome.reason


def test_beyond_the_pool_a_per_second_line_charges_the_seconds_the_pool_did_not_cover(org, catalog, rates):
    PersonFactory(organization=org, upn="solo@contoso.test", usage_location="US", licenses="MCOPSTN8 MCOPSTNPP")
    Rate.objects.filter(prefix="1").update(minimum_seconds=1, increment_seconds=1, per_unit=D("0.60"))
    ctx = fresh(org)
    rate(ctx, graph_call(upn="solo@contoso.test", seconds=119 * 60))  # 119 of the user's 120 minutes
    outcome, _ = rate(ctx, graph_call(upn="solo@contoso.test", seconds=150))  # 1 min from the pool, 90 s charged
    assert outcome.rating == "charged" and outcome.charge == D("0.90")
    assert "1 of 3 min from the pool: 90 s x 0.6 USD per min" in outcome.reason


def test_authorization_follows_the_plans_countries_and_premium_numbers(org, people, rates, funded):
    included = authorize_call(org, upn="carol@contoso.test", number="+919876543210", at=at())
    assert included.included_minutes == 3000
    beyond = authorize_call(org, upn="carol@contoso.test", number="+67571234567", at=at())
    assert beyond.included_minutes == 0 and beyond.rate_per_minute == D("0.5")
    premium = authorize_call(org, upn="carol@contoso.test", number="+449098790000", at=at())
    assert premium.included_minutes == 0 and premium.rate_per_minute == D("1.5")
