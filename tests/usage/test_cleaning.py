"""The compiled cleaner takes shortcuts for common values; they must agree with the checks themselves."""

from decimal import Decimal

import pytest

from usage.services.cleaning import CALL_SPECS, SMS_SPECS, Bad, check_value, compile_cleaner
from usage.services.ingest.kinds import CALLS, MESSAGES

SAMPLES = {
    "usage_id": ["0B5C7D2E-1111-4aaa-8bbb-123456789ABC", " 0b5c7d2e-1111-4aaa-8bbb-123456789abc ", "{0b5c7d2e-1111-4aaa-8bbb-123456789abc}", "nope", ""],
    "call_type": ["user_out", "USER_IN", " conf_out ", "ucap_in", "x-y", ""],
    "direction": ["Outbound", "inbound", "IN", " out ", "sideways", ""],
    "destination_context": ["Domestic", "INTERNATIONAL", " domestic ", "abroad", ""],
    "reported_capability": ["MCOPSTN1", "mcopstnpp", " MCOEV ", "FREECALL", "X" * 17, ""],
    "duration_seconds": ["0", "300", "0300", "12.0", "12.5", "-3", "٣", " 42 ", "9" * 10, ""],
    "sms_type": ["outbound", "Inbound", "OUT", "sideways"],
    "display_name": ["Alice", "Line\nbreak\r\nand more", "tab\there", "x" * 256, "x" * 257, "odd\u2028separator", ""],
    "upn": [" Alice@Contoso.test ", "bob@contoso.test", "a\nb@contoso.test", "x" * 255, "nul\x00", "half\ud800"],
    "user_location": ["US", "us", " gb ", "ßa", "U1", "USA", ""],
    "reported_charge": ["0.00", "1.5", "-0", "007.50", "0.125", "1e2", "abc", " 2.00 ", ""],
    "start_time": ["2024-05-06T10:00:00Z", "2024-05-06T10:00:00.250000+00:00", "2024-05-06 10:00:00",
                   "2024-W19-1T10:00:00Z", "2024-05-06T12:00:00+02:00", "yesterday", ""],
}


def expected(spec, raw):
    try:
        return check_value(spec, raw)
    except Bad as problem:
        return ("bad", str(problem))


def cleaned(specs, field, raw):
    defaults = (MESSAGES if specs is SMS_SPECS else CALLS).defaults
    clean = compile_cleaner(specs, [(0, field)], defaults)
    errors = []
    record = clean([raw], "line 2", {}, errors)
    if record is None:
        assert len(errors) == 1 and errors[0].column == field
        return ("bad", errors[0].problem)
    value = record[field]
    # An amount already to the cent is kept as its text, which the database reads as that number.
    return Decimal(value) if field == "reported_charge" and isinstance(value, str) else value


@pytest.mark.parametrize(("field", "raw"), [(f, raw) for f, values in SAMPLES.items() for raw in values])
def test_the_compiled_cleaner_gives_what_the_check_gives(field, raw):
    specs = SMS_SPECS if field == "sms_type" else CALL_SPECS
    assert cleaned(specs, field, raw) == expected(specs[field], raw)
