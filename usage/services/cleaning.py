"""Checking and converting the values of one row, fast enough for files of millions of rows.

Every field has a spec: plain text of a maximum length (kept on one line), lower-cased text, or a
check function that converts the text or raises `Bad` with the problem in words. A source (CSV file,
Graph page) says which field each position of its rows holds; `compile_cleaner` turns that mapping
into one function with the text checks written inline, because calling a function per value is
what a million-row import spends its time on otherwise. The generated code does exactly what the
specs say, nothing else; `check_value` is the same logic one value at a time (but for an amount
already to the cent, which the compiled code keeps as its text and the check as a Decimal).
"""

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

from billing.money import to_money

from ..choices import KNOWN_LICENSES, CallType, Capability, DestinationContext, Direction


class Bad(ValueError):
    pass


@dataclass
class RowError:
    row: str
    column: str
    problem: str

    def __str__(self):
        where = self.row + (f", column \"{self.column}\"" if self.column else "")
        return f"{where}: {self.problem}" if where else self.problem

    def as_dict(self):
        return {"row": self.row, "column": self.column, "problem": self.problem}


def one_line(value: str) -> str:
    """Line breaks inside a value become spaces: the original format is one record per line, and the
    exports rely on it (a value never holds a line break once imported)."""
    return value.replace("\r\n", " ").replace("\n", " ").replace("\r", " ")


def text_check(limit, lower=False):
    def check(value):
        if lower:
            value = value.strip().lower()
        if "\x00" in value:
            raise Bad("holds a NUL character, which text cannot hold.")
        if not value.isprintable() and any("\ud800" <= c <= "\udfff" for c in value):
            raise Bad("holds half of a UTF-16 surrogate pair, which is not text.")
        if "\n" in value or "\r" in value:
            value = one_line(value)
        if len(value) > limit:
            raise Bad(f"is longer than {limit} characters.")
        return value

    return check


_GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def guid(value):
    """A GUID as lower-case text with hyphens (the form PostgreSQL and the exports use)."""
    value = value.strip()
    if _GUID.fullmatch(value):
        return value.lower()
    if not value:
        raise Bad("is empty; every row needs its UsageId (a GUID).")
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise Bad(f"\"{value}\" is not a GUID.") from None


def _moment(value, required):
    value = value.strip()
    if not value:
        if required:
            raise Bad("is empty; a UTC ISO 8601 time is needed, e.g. 2024-05-01T09:30:00Z.")
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise Bad(f"\"{value}\" is not a UTC ISO 8601 time, e.g. 2024-05-01T09:30:00Z.") from None
    if moment.tzinfo is UTC:
        return moment
    if moment.tzinfo is None:
        # The export's times are UTC by definition; some older files leave the Z out.
        return moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        # 0001-01-01T00:05:00+02:24 is a time Python reads, but its UTC is before the year 1.
        raise Bad(f"\"{value}\" is outside the calendar (years 1 to 9999) once converted to UTC.") from None


def required_time(value):
    return _moment(value, True)


def optional_time(value):
    return _moment(value, False)


def seconds(value):
    value = value.strip()
    try:
        number = int(value)
    except ValueError:
        if not value:
            raise Bad("is empty; the duration in whole seconds is needed.") from None
        try:
            parsed = Decimal(value)
        except InvalidOperation:
            raise Bad(f"\"{value}\" is not a whole number of seconds.") from None
        if not parsed.is_finite() or parsed != parsed.to_integral_value():
            raise Bad(f"\"{value}\" is not a whole number of seconds.") from None
        number = int(parsed)
    if number < 0:
        raise Bad(f"{number} is negative.")
    if number > 2_000_000_000:
        raise Bad(f"{number} seconds is not a plausible duration.")
    return number


def segments(value):
    if not value.strip():
        return 1
    number = seconds(value)
    if number == 0:
        raise Bad("is 0; an SMS has at least one segment.")
    return number


_PLAIN_AMOUNT = re.compile(r"-?[0-9]{1,13}(?:\.[0-9]{1,2})?")


def amount(value):
    """A reported amount, rounded to the cent by the one rounding rule (billing.money.to_money)."""
    value = value.strip()
    if not value:
        return None
    if _PLAIN_AMOUNT.fullmatch(value):
        return Decimal(value)
    try:
        parsed = Decimal(value)
    except InvalidOperation:
        raise Bad(f"\"{value}\" is not an amount.") from None
    if not parsed.is_finite() or abs(parsed) >= Decimal("1e13"):
        raise Bad(f"\"{value}\" is not an amount.")
    return to_money(parsed)


def country(value):
    value = value.strip()
    if len(value) == 2 and value.isascii() and value.isalpha():
        return value.upper()
    if not value:
        return ""
    raise Bad(f"\"{value}\" is not a two-letter country code (ISO 3166), e.g. US.")


_CONTEXTS = {"": "", "domestic": DestinationContext.DOMESTIC.value, "international": DestinationContext.INTERNATIONAL.value}


def destination_context(value):
    found = _CONTEXTS.get(value.strip().lower())
    if found is None:
        raise Bad(f"\"{value}\" is neither Domestic nor International.")
    return found


_CALL_TYPES = frozenset(CallType.values)


def call_type(value):
    value = value.strip().lower()
    if value in _CALL_TYPES:
        return value
    if not value:
        raise Bad("is empty; the call type is needed, e.g. user_out.")
    if len(value) > 32 or not value.replace("_", "").isalnum() or not value[0].isalpha():
        raise Bad(f"\"{value}\" is not a call type (such as user_in, user_out, conf_out).")
    return value


_DIRECTIONS = {"": "", "inbound": Direction.INBOUND.value, "in": Direction.INBOUND.value,
               "outbound": Direction.OUTBOUND.value, "out": Direction.OUTBOUND.value}


def direction(value):
    found = _DIRECTIONS.get(value.strip().lower())
    if found is None:
        raise Bad(f"\"{value}\" is neither Inbound nor Outbound.")
    return found


def sms_type(value):
    text = value.strip().lower()
    if text not in ("outbound", "inbound", "out", "in"):
        raise Bad(f"\"{value}\" is neither outbound nor inbound.")
    return "outbound" if text.startswith("out") else "inbound"


def capability(value):
    value = value.strip().upper()
    if len(value) > 16:
        raise Bad("is longer than 16 characters.")
    return value


IGNORE = "ignore"


def TEXT(limit):
    return ("text", limit, False)


def LOWER(limit):
    return ("text", limit, True)


def CHECK(function):
    return ("check", function)


# Checks the compiled cleaner writes inline for the common case, calling the function otherwise.
def FAST(function, common):
    """A check with its answers for the common raw values worked out once, by the check itself, so
    that a row holding one of them costs a dictionary lookup instead of a call."""
    return ("choice", function, {value: function(value) for value in common})


GUID = ("guid", guid)
WHOLE_SECONDS = ("int", seconds)
COUNTRY = ("country", country)
REQUIRED_TIME = ("time", required_time)
OPTIONAL_TIME = ("time", optional_time)
AMOUNT = ("amount", amount)


COMMON_SPECS = {
    "usage_id": GUID,
    "user_object_id": LOWER(64),
    "upn": LOWER(254),
    "display_name": TEXT(256),
    "user_location": COUNTRY,
    "destination_context": FAST(destination_context, ["", "Domestic", "International", "domestic", "international"]),
    "reported_charge": AMOUNT,
    "reported_capability": FAST(capability, ["", *KNOWN_LICENSES, Capability.FREE_CALL]),
    "reported_currency": IGNORE,
    "tenant_country": COUNTRY,
    # Written by exports; an import keeps the source's values as reported and rates again.
    "charge": IGNORE,
    "capability": IGNORE,
    "currency": IGNORE,
}

CALL_SPECS = {
    **COMMON_SPECS,
    "call_id": TEXT(128),
    "conference_id": TEXT(128),
    "caller_number": TEXT(128),
    "callee_number": TEXT(128),
    "call_type": FAST(call_type, CallType.values),
    "direction": FAST(direction, ["", "Inbound", "Outbound", "inbound", "outbound"]),
    "number_type": TEXT(32),
    "destination_dialed": TEXT(128),
    "external_country": COUNTRY,
    "start_time": REQUIRED_TIME,
    "end_time": OPTIONAL_TIME,
    "duration_seconds": WHOLE_SECONDS,
    "reported_connection_fee": AMOUNT,
    "operator": TEXT(128),
    "duration_source": TEXT(32),
    "administrative_units": TEXT(500),
    "connection_fee": IGNORE,
}

SMS_SPECS = {
    **COMMON_SPECS,
    "sms_id": TEXT(128),
    "sent_time": REQUIRED_TIME,
    "sms_type": FAST(sms_type, ["outbound", "inbound", "Outbound", "Inbound"]),
    "segments": CHECK(segments),
    "destination_name": TEXT(128),
    "destination_number": TEXT(128),
    "source_number": TEXT(128),
    "other_party_country": COUNTRY,
}


def check_value(spec, value):
    """One value through its spec, the slow way (the reference the compiled cleaner follows)."""
    if spec == IGNORE:
        return None
    return spec_function(spec)(value)


def compile_cleaner(specs, mapping, defaults):
    """A function `(values, label, names, errors) -> dict | None` for rows laid out as `mapping`.

    `mapping` is a list of (position, field). The dict starts from `defaults` (every column of the
    record, in the table's order); a row with a bad value returns None after adding one RowError
    per bad value. Plain text is kept as it comes but for line breaks (see one_line) and its length
    is checked; user names and ids are trimmed and lower-cased; the common form of countries, times
    and amounts is checked inline.
    """
    lines = [
        "def clean(v, label, names, errors):",
        "    r = defaults.copy()",
        "    bad = False",
    ]
    env = {"defaults": defaults, "Bad": Bad, "RowError": RowError, "UTC": UTC, "fromisoformat": datetime.fromisoformat,
           "plain_amount": _PLAIN_AMOUNT.fullmatch, "guid_form": _GUID.fullmatch}

    def call(field, position, indent="    "):
        name = f"check_{field}"
        env[name] = spec_function(specs[field])
        return [
            f"{indent}try:",
            f"{indent}    r[{field!r}] = {name}(v[{position}])",
            f"{indent}except Bad as problem:",
            f"{indent}    errors.append(RowError(label, names.get({field!r}, {field!r}), str(problem)))",
            f"{indent}    bad = True",
        ]

    def shortcut(field, position, test, value, read=None, blank_keeps_default=False):
        """`value` when the raw text (or what `read` makes of it), x, passes `test`; else the check
        (or, with `blank_keeps_default`, nothing for an empty text)."""
        return [
            f"    x = {read or f'v[{position}]'}",
            f"    if {test}:",
            f"        r[{field!r}] = {value}",
            "    elif x:" if blank_keeps_default else "    else:",
            *call(field, position, "        "),
        ]

    for position, field in mapping:
        spec = specs.get(field, IGNORE)
        if spec == IGNORE:
            continue
        kind = spec[0]
        if kind == "text":
            limit, lower = spec[1], spec[2]
            slow = f"slow_{field}"
            env[slow] = text_check(limit, lower)
            lines.append(f"    x = v[{position}]{'.strip().lower()' if lower else ''}")
            # isprintable() is False for line breaks (and tabs, and other control characters): one call
            # for the common case; the check itself then decides.
            lines.append(f"    if len(x) > {limit} or not x.isprintable():")
            lines.append("        try:")
            lines.append(f"            x = {slow}(x)")
            lines.append("        except Bad as problem:")
            lines.append(f"            errors.append(RowError(label, names.get({field!r}, {field!r}), str(problem)))")
            lines.append("            bad = True")
            lines.append(f"    r[{field!r}] = x")
        elif kind == "country":
            lines += shortcut(field, position, "len(x) == 2 and x.isascii() and x.isalpha()", "x.upper()", blank_keeps_default=True)
        elif kind == "time":
            lines.append("    try:")
            lines.append(f"        x = fromisoformat(v[{position}])")
            lines.append("    except ValueError:")
            lines.append("        x = None")
            lines.append("    if x is not None and x.tzinfo is UTC:")
            lines.append(f"        r[{field!r}] = x")
            if copy_text_key(field) in defaults:
                # The common form, as PostgreSQL reads it: the writer sends it as it came (see copy_text_key).
                lines.append(f"        x = v[{position}]")
                # Exactly YYYY-MM-DDTHH:MM:SSZ (fromisoformat has checked the digits): a week date such as
                # 2024-W19-1T10:00:00Z has the same length and is read by Python but not by PostgreSQL.
                lines.append("        if len(x) == 20 and x[19] == 'Z' and x[10] == 'T' and x[4] == '-' and x[7] == '-' "
                             "and x[13] == ':' and x[16] == ':':")
                lines.append(f"            r[{copy_text_key(field)!r}] = x")
            lines.append("    else:")
            lines += call(field, position, "        ")
        elif kind == "guid":
            lines += shortcut(field, position, "len(x) == 36 and guid_form(x)", "x.lower()")
        elif kind == "choice":
            env[f"fast_{field}"] = spec[2]
            lines += shortcut(field, position, "x is not None", "x", read=f"fast_{field}.get(v[{position}])")
        elif kind == "int":
            lines += shortcut(field, position, "x.isascii() and x.isdigit() and len(x) < 10", "int(x)")
        elif kind == "amount":
            # Already the amount to the cent: kept as its text, which the database reads as that number.
            lines += shortcut(field, position, "x and plain_amount(x)", "x", blank_keeps_default=True)
        else:
            lines += call(field, position)
    lines.append("    return None if bad else r")
    exec("\n".join(lines), env)  # noqa: S102 - the source is built above from fixed specs, never from input
    return env["clean"]


def copy_text_key(field):
    """Where a cleaned record keeps a time's text when it is already in the form "2024-05-01T09:30:00Z":
    formatting a datetime costs about a microsecond, twice a row, so the import writes that text instead
    (usage.services.ingest.copy_writer.compile_copy_line). Records carry the key only if their kind asks."""
    return f"{field}:text"


def spec_function(spec):
    if spec[0] == "text":
        return text_check(spec[1], spec[2])
    return spec[1]
