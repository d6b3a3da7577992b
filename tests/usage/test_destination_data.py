"""The destination files of usage/data/ are whole: each country once with a valid ISO 3166 code and its
E.164 calling code, prefixes that do not overlap within one number type, and country lists that name
known countries once each, with their source and date. phonenumbers' example numbers check the prefixes."""

import importlib

import phonenumbers
import pycountry
import pytest
from django.apps import apps
from django.core.exceptions import ValidationError
from phonenumbers import PhoneNumberType

from usage.choices import CountryListKey, NumberType
from usage.data import read_countries, read_country_lists, read_prefixes
from usage.models import CountryList, Destination, DestinationPrefix
from usage.services.destinations import load_destinations
from usage.services.rating import DestinationBook

ISO = {country.alpha_2 for country in pycountry.countries}
COUNTRIES = {row.country: row for row in read_countries()}
PREFIXES = read_prefixes()
LISTS = read_country_lists()
PHONENUMBERS_TYPES = {
    NumberType.LANDLINE: [PhoneNumberType.FIXED_LINE, PhoneNumberType.FIXED_LINE_OR_MOBILE],
    NumberType.MOBILE: [PhoneNumberType.MOBILE],
    NumberType.TOLL_FREE: [PhoneNumberType.TOLL_FREE],
    NumberType.PREMIUM: [PhoneNumberType.PREMIUM_RATE, PhoneNumberType.SHARED_COST],
}


def book():
    return DestinationBook([(p.prefix, p.country, p.number_type) for p in PREFIXES], {k: frozenset(v.countries) for k, v in LISTS.items()})


def test_each_country_once_with_a_valid_iso_code_and_its_e164_calling_code():
    rows = read_countries()
    assert len(rows) == len(COUNTRIES) > 200, "a country is listed twice"
    assert not [r.country for r in rows if r.country not in ISO]
    wrong = [(r.country, r.calling_code) for r in rows if str(phonenumbers.country_code_for_region(r.country)) != r.calling_code]
    assert not wrong
    assert all(r.name.strip() for r in rows)


def test_prefixes_belong_to_known_countries_start_with_their_calling_code_and_have_a_number_type():
    for p in PREFIXES:
        assert p.country in COUNTRIES, f"prefixes.csv line {p.line}: {p.country} is not in countries.csv"
        assert p.number_type in NumberType.values, f"line {p.line}: {p.number_type}"
        assert p.prefix.isdigit() and p.prefix.startswith(COUNTRIES[p.country].calling_code), f"line {p.line}: +{p.prefix}"


def test_no_overlapping_prefixes_within_one_number_type():
    """A prefix is listed once per number type; a prefix inside another of the same country and type
    would be redundant. A longer prefix of another country splits a shared code (+1 / +1416, +7 / +77)."""
    seen = {}
    for p in PREFIXES:
        key = (p.number_type, p.prefix)
        assert key not in seen, f"+{p.prefix} ({p.number_type}) on lines {seen[key]} and {p.line}"
        seen[key] = p.line
    by_type = {}
    for p in PREFIXES:
        by_type.setdefault(p.number_type, []).append(p)
    for number_type, lines in by_type.items():
        for p in lines:
            for q in lines:
                if p is not q and q.prefix.startswith(p.prefix):
                    assert q.country != p.country, f"{number_type} +{q.prefix} (line {q.line}) lies inside +{p.prefix} (line {p.line})"


def test_every_country_that_numbers_its_own_landlines_is_found_by_its_example_number():
    """phonenumbers' example landline of each country resolves to that country through the prefixes."""
    destinations = book()
    own = {p.country for p in PREFIXES if p.number_type == NumberType.LANDLINE}
    assert len(own) > 200
    wrong = []
    for country in sorted(own):
        example = phonenumbers.example_number_for_type(country, PhoneNumberType.FIXED_LINE)
        if example is None:
            continue
        digits = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)[1:]
        found = destinations.lookup(digits)
        if found is None or found[0] != country:
            wrong.append((country, digits, found))
    assert not wrong


@pytest.mark.parametrize("number_type", [NumberType.MOBILE, NumberType.TOLL_FREE, NumberType.PREMIUM])
def test_mobile_toll_free_and_premium_prefixes_match_the_example_numbers_of_their_type(number_type):
    destinations = book()
    countries = sorted({p.country for p in PREFIXES if p.number_type == number_type})
    assert countries
    wrong = []
    for country in countries:
        for kind in PHONENUMBERS_TYPES[number_type]:
            example = phonenumbers.example_number_for_type(country, kind)
            if example is None:
                continue
            digits = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)[1:]
            if destinations.lookup(digits) != (country, number_type):
                wrong.append((country, kind, digits, destinations.lookup(digits)))
    assert not wrong


def test_the_country_lists_name_known_countries_once_with_their_source_and_date():
    assert set(LISTS) == set(CountryListKey.values)
    for key, item in LISTS.items():
        assert len(item.countries) == len(set(item.countries)), key
        assert not [c for c in item.countries if c not in COUNTRIES], key
        assert item.source and item.source_date, key
    assert len(LISTS[CountryListKey.ZONE_A].countries) == 44
    assert {"US", "GB", "IN", "MX", "BR", "ZA"} <= set(LISTS[CountryListKey.ZONE_A].countries)
    assert not {"AE", "EG", "AR"} & set(LISTS[CountryListKey.ZONE_A].countries)


@pytest.mark.django_db
def test_loading_the_files_twice_adds_nothing_the_second_time(destinations):
    assert Destination.objects.count() == len(COUNTRIES)
    assert DestinationPrefix.objects.count() == len(PREFIXES)
    assert CountryList.objects.get(key=CountryListKey.ZONE_A).country_set == frozenset(LISTS[CountryListKey.ZONE_A].countries)
    result = load_destinations()
    assert (result.destinations, result.prefixes, result.lists) == (0, 0, 0)


@pytest.mark.django_db
def test_a_change_made_in_admin_stays_until_the_files_are_loaded_with_overwrite(destinations):
    zone_a = CountryList.objects.get(key=CountryListKey.ZONE_A)
    zone_a.countries += " AE"
    zone_a.save()
    load_destinations()
    assert "AE" in CountryList.objects.get(key=CountryListKey.ZONE_A).country_set
    load_destinations(overwrite=True)
    assert "AE" not in CountryList.objects.get(key=CountryListKey.ZONE_A).country_set


@pytest.mark.django_db
def test_a_country_list_refuses_unknown_codes_and_codes_given_twice():
    item = CountryList(key=CountryListKey.ZONE_A, countries="us gb XX GB", source="a test", source_date="2026-01-01")
    with pytest.raises(ValidationError) as error:
        item.full_clean(validate_unique=False)
    text = str(error.value)
    assert "Not ISO 3166 country codes: XX" in text and "Listed more than once: GB" in text
    item.countries = "us, gb\nde"
    item.full_clean(validate_unique=False)
    assert item.countries == "DE GB US"


@pytest.mark.django_db
def test_a_prefix_added_in_admin_starts_with_the_calling_code_and_overlaps_none_of_its_country_and_type(destinations):
    gb = Destination.objects.get(country="GB")
    with pytest.raises(ValidationError, match="does not start with GB's calling code"):
        DestinationPrefix(destination=gb, number_type=NumberType.MOBILE, prefix="337").full_clean()
    with pytest.raises(ValidationError, match=r"\+4475 overlaps \+447, another mobile prefix of GB"):
        DestinationPrefix(destination=gb, number_type=NumberType.MOBILE, prefix="4475").full_clean()
    DestinationPrefix(destination=gb, number_type=NumberType.TOLL_FREE, prefix="44500").full_clean()


@pytest.mark.django_db
def test_the_data_migration_loads_the_files_into_an_empty_table():
    migration = importlib.import_module("usage.migrations.0004_load_destinations")
    CountryList.objects.all().delete()
    Destination.objects.all().delete()
    migration.load(apps, None)
    assert Destination.objects.count() == len(COUNTRIES) and DestinationPrefix.objects.count() == len(PREFIXES)
    assert set(CountryList.objects.values_list("key", flat=True)) == set(CountryListKey.values)
