"""Phone numbers as an admin types them, read with Google's libphonenumber (the `phonenumbers` package):
normalised to E.164, with their country or region and their number type; and the countries and number
types the rate lookup offers to pick from."""

from dataclasses import dataclass
from functools import cache

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberType

# The number types that price differently, as the lookup names them: (code, label, phonenumbers' types).
NUMBER_TYPES = (
    ("fixed_line", "Fixed line", (PhoneNumberType.FIXED_LINE,)),
    ("mobile", "Mobile", (PhoneNumberType.MOBILE,)),
    ("toll_free", "Toll free", (PhoneNumberType.TOLL_FREE,)),
    ("premium_rate", "Premium rate / shared cost", (PhoneNumberType.PREMIUM_RATE, PhoneNumberType.SHARED_COST)),
)
NUMBER_TYPE_CHOICES = [(code, label) for code, label, _types in NUMBER_TYPES]
_LABELS = {
    PhoneNumberType.FIXED_LINE_OR_MOBILE: ("fixed_line_or_mobile", "Fixed line or mobile"),
    PhoneNumberType.VOIP: ("voip", "VoIP"),
    PhoneNumberType.PERSONAL_NUMBER: ("personal", "Personal number"),
    PhoneNumberType.PAGER: ("pager", "Pager"),
    PhoneNumberType.UAN: ("uan", "Universal access number"),
    PhoneNumberType.VOICEMAIL: ("voicemail", "Voicemail access"),
    PhoneNumberType.UNKNOWN: ("unknown", "Unknown"),
}
for _code, _label, _types in NUMBER_TYPES:
    for _type in _types:
        _LABELS[_type] = (_code, _label)


class NumberProblem(ValueError):
    """Input that names no number: which field, and a sentence for the form or the JSON answer."""

    def __init__(self, field, message):
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Destination:
    e164: str
    region: str  # ISO 3166 code, "" when the number belongs to no single country (+800, ...)
    country_name: str
    number_type: str  # a code of NUMBER_TYPES or of _LABELS
    number_type_label: str
    valid: bool  # libphonenumber knows the number as one that can be assigned
    example: bool = False  # picked by country and number type: an example number of that kind

    @property
    def digits(self):
        return self.e164[1:]


@cache
def country_name(region: str) -> str:
    """The English name of a country or region (libphonenumber's own), or its code when it has none."""
    # Imported here: its module loads all of libphonenumber's geodata (about 100 MB) into the process,
    # which every worker and web process paid at start-up when it was imported with this module.
    from phonenumbers import geocoder

    example = phonenumbers.example_number(region)
    name = geocoder.country_name_for_number(example, "en") if example is not None else ""
    return name or region


@cache
def country_choices():
    """(code, "Name (code)") of every region libphonenumber knows, by name."""
    return sorted(((r, f"{country_name(r)} ({r})") for r in phonenumbers.SUPPORTED_REGIONS), key=lambda c: c[1])


def _destination(number, *, example=False) -> Destination:
    region = phonenumbers.region_code_for_number(number) or ""
    if not region or region == "001":
        main = phonenumbers.region_code_for_country_code(number.country_code)
        region = "" if main in (None, "ZZ", "001") else main
    code, label = _LABELS.get(phonenumbers.number_type(number), _LABELS[PhoneNumberType.UNKNOWN])
    return Destination(
        e164=phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164),
        region=region,
        country_name=country_name(region) if region else "International (no country)",
        number_type=code,
        number_type_label=label,
        valid=phonenumbers.is_valid_number(number),
        example=example,
    )


def parse_number(text: str, default_region: str = "") -> Destination:
    """A number in any common format (+44 20 7946 0958, (425) 555-0100 in the organization's
    country, 00 49 30 1234567, tel:+1...) as a Destination; NumberProblem when it names no number."""
    text = (text or "").strip()
    if text[:4].lower() == "tel:":
        text = text[4:]
    if not text:
        raise NumberProblem("number", "Type a phone number, or pick a country and a number type.")
    if len(text) > 64:
        raise NumberProblem("number", "That is too long for a phone number (64 characters at most).")
    if text.startswith("00"):
        text = "+" + text[2:]
    try:
        number = phonenumbers.parse(text, (default_region or "").upper() or None)
    except NumberParseException as exc:
        hint = "" if text.startswith("+") else " Start an international number with + and its country code."
        raise NumberProblem("number", f"“{text}” is not a phone number: {_parse_problem(exc)}.{hint}") from None
    if not phonenumbers.is_possible_number(number):
        raise NumberProblem(
            "number", f"“{text}” cannot be a phone number: it has the wrong number of digits for its country code (+{number.country_code})."
        )
    return _destination(number)


def _parse_problem(exc):
    return {
        NumberParseException.INVALID_COUNTRY_CODE: "its country code is unknown",
        NumberParseException.NOT_A_NUMBER: "it holds no phone number",
        NumberParseException.TOO_SHORT_AFTER_IDD: "too few digits after the international prefix",
        NumberParseException.TOO_SHORT_NSN: "too few digits",
        NumberParseException.TOO_LONG: "too many digits",
    }.get(exc.error_type, "it cannot be read")


def example_destination(region: str, number_type: str) -> Destination:
    """An example number of this country and number type (libphonenumber's), to rate as that kind of call."""
    region = (region or "").strip().upper()
    if region not in phonenumbers.SUPPORTED_REGIONS:
        raise NumberProblem("country", f"“{region or '(none)'}” is not a country or region code (ISO 3166, such as US or GB).")
    types = next((t for code, _label, t in NUMBER_TYPES if code == number_type), None)
    if types is None:
        known = ", ".join(code for code, _label in NUMBER_TYPE_CHOICES)
        raise NumberProblem("number_type", f"“{number_type or '(none)'}” is not a number type; use one of {known}.")
    for kind in types:
        number = phonenumbers.example_number_for_type(region, kind)
        if number is not None:
            return _destination(number, example=True)
    label = dict(NUMBER_TYPE_CHOICES)[number_type].lower()
    raise NumberProblem("number_type", f"{country_name(region)} has no {label} numbers that can be looked up.")
