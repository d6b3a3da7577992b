"""A rate card as CSV: its columns, reading one (every bad line refused by its number, nothing kept)
and writing one (the export)."""

import csv
import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

from django.conf import settings

from ...choices import NumberType, RateKind
from ...data import read_countries
from ..sources.csv_files import BoundedLines, RowTooLong

COLUMNS = [
    "kind", "prefix", "country", "number_type", "description", "currency", "price", "connection_fee",
    "minimum_seconds", "increment_seconds", "effective_from",
]
REQUIRED = ["price", "currency", "effective_from"]
COLUMN_HELP = {
    "kind": "outbound (per minute by prefix; the default when a prefix is given), toll_free_inbound or sms (by country)",
    "prefix": "E.164 digits without '+', outbound lines only",
    "country": "ISO 3166 alpha-2 code; required for toll-free inbound and SMS lines",
    "number_type": "landline, mobile, toll_free or premium (premium-rate / shared-cost, never part of a pool); may be empty",
    "price": "per minute, or per segment for SMS; up to six decimals",
    "connection_fee": "per call; empty is 0",
    "minimum_seconds": "billed at least; empty is 60",
    "increment_seconds": "billed in steps of, beyond the minimum; empty is 60",
    "effective_from": "YYYY-MM-DD: the first day of the line's price",
}
MAX_ERRORS = 50
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_DIGITS = re.compile(r"^[0-9]{1,15}$")
_SIX_PLACES = Decimal("0.000001")


class CardRejected(Exception):
    """The card is refused whole: every problem names its line (up to 50)."""

    def __init__(self, errors, truncated=False):
        super().__init__("; ".join(errors))
        self.errors = errors
        self.truncated = truncated


@dataclass(frozen=True)
class CardLine:
    line: int
    kind: str
    prefix: str
    country: str
    number_type: str
    description: str
    currency: str
    price: Decimal
    connection_fee: Decimal
    minimum_seconds: int
    increment_seconds: int
    effective_from: date

    @property
    def key(self):
        """What identifies a line across cards: its prefix (outbound) or its country (toll-free, SMS)."""
        return (self.kind, self.prefix if self.kind == RateKind.OUTBOUND else self.country)

    @property
    def where(self):
        return f"+{self.prefix}" if self.kind == RateKind.OUTBOUND else self.country


@dataclass(frozen=True)
class Card:
    currency: str
    lines: tuple


def check_size(size: int):
    """Refuse a file by its size before anything of it is read."""
    limit = settings.RATE_CARD_MAX_BYTES
    if size > limit:
        raise CardRejected([f"The file is {size:,} bytes; a rate card may be up to {limit:,} bytes."])


def read_card(text_stream) -> Card:
    """Read a card from a text stream; raise CardRejected with every problem, by line number."""
    lines = BoundedLines(text_stream, settings.USAGE_IMPORT_MAX_ROW_CHARS)
    reader = csv.reader(lines)
    errors = []
    try:
        header = next(reader, None)
        if header is None:
            raise CardRejected(["line 1: the file is empty; the first row must hold the column names."])
        lines.next_row()
        names = [name.strip().lower().replace(" ", "_") for name in header]
        unknown = [h for h, n in zip(header, names) if n and n not in COLUMNS]
        missing = [c for c in REQUIRED if c not in names]
        if unknown or missing:
            problems = ([f"unknown column(s) {', '.join(unknown)}"] if unknown else []) + (
                [f"missing column(s) {', '.join(missing)}"] if missing else []
            )
            raise CardRejected([f"line 1: {'; '.join(problems)}. The columns are: {', '.join(COLUMNS)}."])
        twice = sorted({n for n in names if n and names.count(n) > 1})
        if twice:
            raise CardRejected([f"line 1: the column(s) {', '.join(twice)} appear twice."])
        codes = {row.country: row.calling_code for row in read_countries()}
        result, keys = [], {}
        for number, values in enumerate(reader, start=2):
            lines.next_row()
            if not any(v.strip() for v in values):
                continue
            if len(result) >= settings.RATE_CARD_MAX_LINES:
                raise CardRejected([f"line {number}: a rate card may have up to {settings.RATE_CARD_MAX_LINES:,} lines."])
            if len(values) != len(names):
                errors.append(f"line {number}: has {len(values)} values but the header has {len(names)} columns.")
                continue
            row = {n: v.strip() for n, v in zip(names, values) if n}
            line = _line(number, row, codes, errors)
            if line is None:
                continue
            if line.key in keys:
                errors.append(f"line {number}: {line.kind} {line.where} is already on line {keys[line.key]}.")
                continue
            keys[line.key] = number
            result.append(line)
            if len(errors) > MAX_ERRORS:
                break
    except RowTooLong as exc:
        errors.append(f"line {reader.line_num + 1}: longer than {exc.args[0]:,} characters.")
    except UnicodeDecodeError as exc:
        errors.append(f"The file is not UTF-8 text ({exc.reason}).")
    except csv.Error as exc:
        errors.append(f"line {reader.line_num}: the CSV cannot be read ({exc}).")
    if not errors and not result:
        errors.append("The card has no lines.")
    if not errors:
        currencies = sorted({line.currency for line in result})
        if len(currencies) > 1:
            first = {c: next(line.line for line in result if line.currency == c) for c in currencies}
            errors.append(
                "A card holds one currency; this one has " + ", ".join(f"{c} (line {first[c]})" for c in currencies) + "."
            )
    if errors:
        raise CardRejected(errors[:MAX_ERRORS], truncated=len(errors) > MAX_ERRORS)
    return Card(result[0].currency, tuple(result))


def _line(number, row, codes, errors):
    problems = []
    kind = row.get("kind", "").lower() or (RateKind.OUTBOUND if row.get("prefix") else "")
    if kind not in RateKind.values:
        problems.append(f"kind \"{row.get('kind', '')}\" is not one of {', '.join(RateKind.values)}")
    prefix = row.get("prefix", "").lstrip("+")
    country = row.get("country", "").upper()
    if country and country not in codes:
        problems.append(f"country \"{country}\" is not an ISO 3166 code of a destination")
    if kind == RateKind.OUTBOUND:
        if not _DIGITS.match(prefix):
            problems.append(f"prefix \"{prefix}\" is not 1 to 15 digits")
        elif country in codes and not prefix.startswith(codes[country]):
            problems.append(f"prefix +{prefix} does not start with {country}'s calling code +{codes[country]}")
    elif kind:
        if prefix:
            problems.append(f"a {kind} line is priced by country and has no prefix")
        if not country:
            problems.append(f"a {kind} line needs a country")
    number_type = row.get("number_type", "").lower().replace("-", "_")
    if number_type not in NumberType.values and number_type != "":
        problems.append(f"number type \"{number_type}\" is not one of {', '.join(NumberType.values)}")
    currency = row.get("currency", "").upper()
    if not _CURRENCY.match(currency):
        problems.append(f"currency \"{currency}\" is not a three-letter code")
    price = _amount(row.get("price", ""), "price", problems, required=True)
    fee = _amount(row.get("connection_fee", ""), "connection fee", problems)
    minimum = _seconds(row.get("minimum_seconds", ""), "minimum seconds", 0, problems)
    increment = _seconds(row.get("increment_seconds", ""), "increment seconds", 1, problems)
    try:
        effective_from = date.fromisoformat(row.get("effective_from", ""))
    except ValueError:
        problems.append(f"effective from \"{row.get('effective_from', '')}\" is not a date (YYYY-MM-DD)")
        effective_from = None
    description = row.get("description", "")
    if len(description) > 128:
        problems.append("the description is longer than 128 characters")
    if problems:
        errors.append(f"line {number}: " + "; ".join(problems) + ".")
        return None
    return CardLine(
        number, kind, prefix if kind == RateKind.OUTBOUND else "", country, number_type, description, currency,
        price, fee, minimum, increment, effective_from,
    )


def _amount(text, label, problems, required=False):
    if not text:
        if required:
            problems.append(f"the {label} is missing")
        return Decimal(0)
    try:
        value = Decimal(text)
    except InvalidOperation:
        problems.append(f"the {label} \"{text}\" is not a number")
        return Decimal(0)
    if not value.is_finite() or value < 0 or value >= 1_000_000:
        problems.append(f"the {label} {text} is not an amount from 0 to 999999")
    elif value != value.quantize(_SIX_PLACES):
        problems.append(f"the {label} {text} has more than six decimals")
    return value


def _seconds(text, label, least, problems):
    if not text:
        return 60
    if not text.isdigit() or not least <= int(text) <= 86_400:
        problems.append(f"the {label} \"{text}\" is not a whole number of seconds from {least} to 86400")
        return 60
    return int(text)


def write_card(rates, out):
    """Write rate lines (Rate rows) as a card to a text stream, with the header of COLUMNS."""
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for rate in rates:
        writer.writerow([
            rate.kind, rate.prefix, rate.country, rate.number_type, rate.description, rate.currency,
            _plain(rate.per_unit), _plain(rate.connection_fee), rate.minimum_seconds, rate.increment_seconds,
            rate.effective_from.isoformat(),
        ])


def _plain(value):
    text = f"{Decimal(value).normalize():f}"
    return text
