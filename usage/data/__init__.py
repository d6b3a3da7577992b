"""The destination data kept in the repository, and how it is read.

- `countries.csv`: country (ISO 3166 alpha-2), name, calling code.
- `prefixes.csv`: country, number type, prefix (E.164 digits), description.
- `country_lists.json`: the country lists rating follows, each with its source and date.

`manage.py load_destinations` loads them into the database, where support staff change them in
Django admin; rating reads the database, and these files only while a list has no row there.
`tests/usage/test_destination_data.py` holds them whole.

Where they come from: `countries.csv` and the landline lines of `prefixes.csv` were made from the
metadata of phonenumbers 9.0 (calling codes; the area codes of the North American countries other
than the US; the leading digits of regions that share a code) and pycountry (ISO 3166 codes and
names, a few names shortened); the mobile, toll-free and premium-rate / shared-cost prefixes of a
few countries (US, GB, DE, FR, IN, AU, ES, IT, JP, MX, IE, NL) were written by hand, and the test
checks them against phonenumbers' example numbers of each type. Edit the files by hand from now on.
"""

import csv
import json
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path

HERE = Path(__file__).resolve().parent
COUNTRIES_FILE = HERE / "countries.csv"
PREFIXES_FILE = HERE / "prefixes.csv"
COUNTRY_LISTS_FILE = HERE / "country_lists.json"


@dataclass(frozen=True)
class CountryRow:
    country: str
    name: str
    calling_code: str


@dataclass(frozen=True)
class PrefixRow:
    line: int
    country: str
    number_type: str
    prefix: str
    description: str


@dataclass(frozen=True)
class CountryListFile:
    key: str
    countries: tuple
    source: str
    source_date: date


@cache
def read_countries() -> tuple:
    with COUNTRIES_FILE.open(encoding="utf-8", newline="") as f:
        return tuple(CountryRow(r["country"], r["name"], r["calling_code"]) for r in csv.DictReader(f))


@cache
def read_prefixes() -> tuple:
    with PREFIXES_FILE.open(encoding="utf-8", newline="") as f:
        return tuple(
            PrefixRow(n, r["country"], r["number_type"], r["prefix"], r["description"])
            for n, r in enumerate(csv.DictReader(f), start=2)
        )


@cache
def read_country_lists() -> dict:
    data = json.loads(COUNTRY_LISTS_FILE.read_text(encoding="utf-8"))
    return {
        key: CountryListFile(key, tuple(item["countries"]), item["source"], date.fromisoformat(item["source_date"]))
        for key, item in data.items()
    }
