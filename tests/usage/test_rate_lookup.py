"""The rate lookup (Billing > Communications Credits > Rate lookup, and GET /api/usage/rate-lookup/):
numbers in any format, the answer from the import's own rating rules, nothing written, tenancy, roles,
bad input, and bounded queries."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.urls import reverse

from billing.choices import AdminRole
from billing.models import CreditAccount, LedgerEntry
from tests.factories import admin_in
from tests.usage.factories import PersonFactory, RateFactory, graph_call, page
from usage.choices import Rating
from usage.models import CallRecord, Person, PoolUsage
from usage.selectors.phone_numbers import NumberProblem, example_destination, parse_number
from usage.selectors.rate_lookup import look_up_rate
from usage.services.api_keys import create_api_key
from usage.services.ingest import import_graph_payload

pytestmark = pytest.mark.django_db

LONDON = "+44 20 7946 0958"


def this_month():
    today = datetime.now(UTC).date()
    return date(today.year, today.month, 1)


def coverage_of(answer, subscription_code):
    return next(c for c in answer.coverages if f"({subscription_code})" in c.subscription)


@pytest.mark.parametrize(
    "typed, e164, region, number_type",
    [
        ("+44 20 7946 0958", "+442079460958", "GB", "fixed_line"),
        ("0044 (20) 7946-0958", "+442079460958", "GB", "fixed_line"),
        ("(425) 555-0100", "+14255550100", "US", "fixed_line_or_mobile"),
        ("tel:+91 98765 43210", "+919876543210", "IN", "mobile"),
        ("+1 800 555 0100", "+18005550100", "US", "toll_free"),
        ("+44 909 879 0000", "+449098790000", "GB", "premium_rate"),
    ],
)
def test_numbers_in_any_common_format_are_normalised_to_e164_with_their_type(typed, e164, region, number_type):
    destination = parse_number(typed, "US")
    assert (destination.e164, destination.region, destination.number_type) == (e164, region, number_type)


@pytest.mark.parametrize(
    "typed, words",
    [("call me", "not a phone number"), ("+1 23", "wrong number of digits"), ("+999 1234567", "country code is unknown"), ("", "Type a phone number")],
)
def test_a_number_that_is_not_one_says_why(typed, words):
    with pytest.raises(NumberProblem) as problem:
        parse_number(typed, "US")
    assert problem.value.field == "number" and words in problem.value.message


def test_a_country_and_a_number_type_give_an_example_number_of_that_kind():
    assert example_destination("GB", "mobile").number_type == "mobile"
    assert example_destination("gb", "premium_rate").e164.startswith("+449")
    with pytest.raises(NumberProblem) as unknown:
        example_destination("XX", "mobile")
    assert unknown.value.field == "country"
    with pytest.raises(NumberProblem) as bad_type:
        example_destination("GB", "satellite")
    assert bad_type.value.field == "number_type"


def test_the_answer_names_price_fee_pools_and_balance_minutes(org, people, rates, funded):
    PoolUsage.objects.create(organization=org, key="conf", month=this_month(), used=50, size=60)
    answer = look_up_rate(org, parse_number(LONDON, "US"))
    assert (answer.per_minute, answer.connection_fee, answer.rate_prefix, answer.currency) == (Decimal("0.02"), 0, "4420", "USD")
    assert answer.balance_minutes == 5000  # 100.00 / 0.02
    international = coverage_of(answer, "MCOPSTN2")
    assert international.included and international.rating == Rating.INCLUDED_PLAN
    assert (international.pool_left, international.pool_size) == (3000, 3000)
    domestic = coverage_of(answer, "MCOPSTN1")
    assert not domestic.included and domestic.rating == Rating.CHARGED and domestic.charge == Decimal("0.02")
    conference = coverage_of(answer, "MCOMEETADD")
    assert conference.included and (conference.pool_left, conference.pool_size) == (10, 60)
    assert "Conference dial-out" in conference.who and "Zone A" in conference.reason
    assert not answer.problems


def test_a_destination_outside_zone_a_is_not_included_in_conference_dial_out(org, people, rates, funded):
    answer = look_up_rate(org, parse_number("+20 2 2792 1234", "US"))  # Egypt: not in Zone A
    conference = coverage_of(answer, "MCOMEETADD")
    assert not conference.included and conference.rating == Rating.CHARGED and "outside Zone A" in conference.reason
    assert (answer.per_minute, answer.connection_fee) == (Decimal("0.09"), Decimal("0.05"))
    assert answer.balance_minutes == int((Decimal("100") - Decimal("0.05")) // Decimal("0.09"))


def test_the_lookup_follows_the_country_lists_and_premium_numbers_of_rating(org, people, rates, funded):
    """Whatever rating decides, the lookup says: a country the international plan leaves out, and a
    premium-rate number that no pool ever includes."""
    papua = look_up_rate(org, parse_number("+675 321 1234", "US"))
    international = coverage_of(papua, "MCOPSTN2")
    assert not international.included and "does not include" in international.reason
    premium = look_up_rate(org, parse_number("+44 909 879 0000", "US"))
    assert premium.destination.number_type == "premium_rate" and premium.per_minute == Decimal("1.5")
    assert premium.rated_as == "premium" and premium.as_dict()["rated_number_type"] == "premium"
    assert not any(c.included for c in premium.coverages)
    assert "never" in coverage_of(premium, "MCOPSTN2").reason


def test_the_lookup_agrees_with_what_the_import_decides_for_the_same_call(org, people, rates, funded):
    """The same rules: each person's lookup says what importing that call then records."""
    now = datetime.now(UTC).replace(microsecond=0)
    for name in ("alice", "bob", "carol", "dave", "erin", "hank"):
        upn = f"{name}@contoso.test"
        answer = look_up_rate(org, parse_number(LONDON, "US"), upn=upn, now=now)
        import_graph_payload(org, page([graph_call(upn=upn, callee="+442079460958", start=now, seconds=60)]), "pstn")
        record = CallRecord.objects.get(organization=org, upn=upn)
        assert answer.person.coverage.rating == record.rating, name
        assert answer.person.coverage.reason == record.rating_reason, name


def test_looking_up_changes_no_row(org, people, rates, funded):
    PoolUsage.objects.create(organization=org, key="plan:MCOPSTN2:US", month=this_month(), used=2999, size=3000)
    PoolUsage.objects.create(organization=org, key="conf", month=this_month(), used=10, size=60)

    def state():
        return (
            list(PoolUsage.objects.order_by("pk").values_list("key", "month", "used", "size")),
            list(Person.objects.order_by("pk").values_list("upn", "licenses", "created_by_import")),
            list(CreditAccount.objects.values_list("balance", flat=True)),
            LedgerEntry.objects.count(),
            CallRecord.objects.count(),
        )

    before = state()
    for typed in (LONDON, "+1 206 555 0100", "+91 98765 43210", "+49 30 1234567"):
        for upn in ("", "carol@contoso.test", "dave@contoso.test"):
            look_up_rate(org, parse_number(typed, "US"), upn=upn)
    assert state() == before
    answer = look_up_rate(org, parse_number(LONDON, "US"), upn="carol@contoso.test")
    assert answer.person.coverage.pool_left == 1  # the same answer again: the trials drew nothing


def test_a_number_that_cannot_be_priced_or_is_refused_says_so(org, people, rates):
    # No rate for +81; the balance is zero: both said, with the reasons.
    answer = look_up_rate(org, parse_number("+81 3-1234-5678", "US"), upn="hank@contoso.test")
    assert not answer.priced and "cannot be priced" in answer.problems[0]
    assert answer.person.coverage.rating == Rating.NOT_PRICED
    refused = look_up_rate(org, parse_number(LONDON, "US"), upn="hank@contoso.test")
    assert refused.person.coverage.rating == Rating.REFUSED
    assert any("refused" in problem.lower() for problem in refused.problems)


def test_a_person_without_the_credits_license_is_told(org, people, rates, funded):
    answer = look_up_rate(org, parse_number(LONDON, "US"), upn="BOB@contoso.test")
    assert answer.person.has_credits_license is False and answer.person.coverage.rating == Rating.REFUSED
    with pytest.raises(NumberProblem) as unknown:
        look_up_rate(org, parse_number(LONDON, "US"), upn="nobody@contoso.test")
    assert unknown.value.field == "user"


# --- The page ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("more_people", [0, 60])
def test_a_read_only_admin_looks_a_number_up_on_the_page(
    client, org, people, rates, funded, reports_reader, django_assert_max_num_queries, more_people
):
    # The same number of queries however many people, plans and countries the organization has.
    for n in range(more_people):
        PersonFactory(organization=org, usage_location=("US", "GB", "DE", "CA")[n % 4], licenses=("MCOPSTN1 MCOPSTNPP", "MCOPSTN2", "MCOMEETADD")[n % 3])
    client.force_login(reports_reader)
    url = reverse("rates:lookup")
    assert client.get(url).status_code == 200
    with django_assert_max_num_queries(13):
        response = client.get(url, {"number": LONDON, "user": "carol@contoso.test"})
    body = response.content.decode()
    assert response.status_code == 200
    assert "+442079460958" in body and "United Kingdom" in body and "0.02 USD" in body
    assert "Included in calling plan minutes" in body
    assert "3,000 of 3,000" in body or more_people  # more MCOPSTN2 users in the US: a bigger pool


def test_bad_input_gets_an_error_on_the_form_never_a_500(client, org, people, rates, global_admin):
    client.force_login(global_admin)
    url = reverse("rates:lookup")
    for query, words in [
        ({"number": "call me"}, "is not a phone number"),
        ({"country": "XX", "number_type": "mobile"}, "Select a valid choice"),
        ({"number_type": "mobile"}, "Pick a country or region"),
        ({"number": LONDON, "user": "stranger@elsewhere.test"}, "Select a valid choice"),
        ({"number": "+" + "9" * 80}, "at most 64 characters"),
    ]:
        response = client.get(url, query)
        assert response.status_code == 200 and words in response.content.decode(), query


def test_the_page_is_scoped_to_the_signed_in_organization(client, org, other_org, people, rates, funded):
    outsider = admin_in(other_org, AdminRole.GLOBAL_ADMINISTRATOR)
    client.force_login(outsider)
    response = client.get(reverse("rates:lookup"), {"number": LONDON, "user": "carol@contoso.test"})
    body = response.content.decode()
    # Only the person's own typing comes back: no person, option or answer of the other organization.
    assert response.status_code == 200 and "Select a valid choice" in body
    assert "Carol (carol@contoso.test)" not in body and "lookup-answer" not in body
    # The other organization has no people, plans or balance: no pool, and nothing to spend.
    response = client.get(reverse("rates:lookup"), {"number": LONDON})
    assert "MCOPSTN2" not in response.content.decode() and "pays for 0 min" in response.content.decode()


def test_members_without_an_admin_role_and_visitors_cannot_open_it(client, org, plain_member):
    url = reverse("rates:lookup")
    assert client.get(url).status_code == 302
    client.force_login(plain_member)
    assert client.get(url).status_code == 403


# --- The JSON endpoint ---------------------------------------------------------------------------------


@pytest.fixture
def key(org):
    return create_api_key(organization=org, name="Rate lookups")[1]


def api(client, key, **query):
    return client.get(reverse("usage_api:rate_lookup"), query, headers={"Authorization": f"Bearer {key}"} if key else {})


def test_the_json_endpoint_answers_the_same_lookup(client, org, people, rates, funded, key, django_assert_max_num_queries):
    with django_assert_max_num_queries(9):
        response = api(client, key, number=LONDON, user="carol@contoso.test")
    assert response.status_code == 200
    body = response.json()
    assert (body["number"], body["country"], body["number_type"], body["price_per_minute"]) == ("+442079460958", "GB", "fixed_line", "0.02")
    assert body["person"]["has_credits_license"] is True and body["person"]["included_now"] is True
    assert {c["subscription"] for c in body["coverage"] if c["included"]} >= {
        "Microsoft Teams Domestic and International Calling Plan (MCOPSTN2)"
    } or any(c["included"] for c in body["coverage"])
    by_type = api(client, key, country="DE", number_type="mobile").json()
    assert by_type["country"] == "DE" and by_type["example_number"] is True


def test_the_json_endpoint_refuses_bad_input_with_400_and_no_key_with_401(client, org, rates, key):
    for query in ({}, {"number": "call me"}, {"country": "XX"}, {"country": "GB", "number_type": "x"}, {"number": LONDON, "user": "x@y"}):
        response = api(client, key, **query)
        assert response.status_code == 400 and response.json()["error"] == "bad_request", query
    assert api(client, None, number=LONDON).status_code == 401


def test_a_new_rate_line_is_followed_the_same_day(org, people, rates, funded):
    today = datetime.now(UTC).date()
    RateFactory(
        prefix="442079", country="GB", per_unit=Decimal("0.5"), connection_fee=Decimal("0.1"), effective_from=today,
        minimum_seconds=1, increment_seconds=1,
    )
    answer = look_up_rate(org, parse_number(LONDON, "US"))
    assert (answer.per_minute, answer.connection_fee, answer.rate_prefix) == (Decimal("0.5"), Decimal("0.1"), "442079")
    assert (answer.minimum_seconds, answer.increment_seconds) == (1, 1)
    assert coverage_of(answer, "MCOPSTN1").charge == Decimal("0.60")
