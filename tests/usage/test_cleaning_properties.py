"""The CSV cleaner against generated rows (hypothesis): the compiled cleaner, with its shortcuts,
gives what the checks give one value at a time (usage.services.cleaning.check_value, the slow path),
and a row it refuses gets one error per bad value naming the row and the column as the file spells
it, never an exception. Extends test_cleaning.py's examples to values hypothesis makes up: well-formed
ones (GUIDs, times, amounts in their many spellings) and arbitrary text."""

import csv
import io
import string
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing.formulas import restore_neutralized
from tests.usage.factories import CURRENT_HEADER
from tests.usage.test_cleaning import SAMPLES, cleaned, expected
from usage.choices import KNOWN_LICENSES, CallType, RecordKind
from usage.columns import SMS_EXPORT_COLUMNS
from usage.services.cleaning import CALL_SPECS, IGNORE, SMS_SPECS, Bad, check_value
from usage.services.ingest.kinds import KINDS
from usage.services.sources import Layout, SourceError, from_csv

BOUNDED = settings(max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])

# Text as files hold it, odd characters included: line breaks, tabs, NUL, other scripts.
any_text = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=12)
spaced = st.sampled_from(["", " ", "  "])


def padded(strategy):
    return st.tuples(spaced, strategy, spaced).map("".join)


def times():
    # The calendar's edges included: a time whose UTC is outside it is refused (pinned below).
    moments = st.datetimes(min_value=datetime.min, max_value=datetime.max)
    zones = st.sampled_from([UTC, timezone(timedelta(hours=2)), timezone(timedelta(hours=-5, minutes=-30)), None])
    spellings = st.sampled_from(["%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S.%fZ", "%Y-%m-%d %H:%M:%S", "iso", "%G-W%V-%uT%H:%M:%SZ"])
    return st.builds(lambda m, z, s: (m.replace(tzinfo=z).isoformat() if s == "iso" else m.strftime(s)), moments, zones, spellings)


def amounts():
    return st.one_of(
        st.decimals(min_value=Decimal("-1e14"), max_value=Decimal("1e14")).map(str),
        st.floats().map(str),
        st.integers(-10**14, 10**14).map(str),
        st.sampled_from(["-0", "1e2", "007.50", "0.125", "NaN", "-Infinity", "1,5"]),
    )


def whole_numbers():
    return st.one_of(st.integers(-10, 3 * 10**9).map(str), st.integers(0, 99).map(lambda n: f"{n}.0"),
                     st.sampled_from(["0300", "12.5", "\u0663", "1e3"]))


def choice_values(values):
    return st.sampled_from(sorted(values)).flatmap(lambda v: st.sampled_from([v, v.upper(), v.lower(), v.title()]))


def raw_values(field, spec):
    """Raw text for a field: shaped like its values (in the spellings sources use), or anything."""
    kind = spec[0]
    shaped = {
        "guid": st.uuids().map(str).flatmap(lambda g: st.sampled_from([g, g.upper(), "{" + g + "}", g.replace("-", "")])),
        "time": times(),
        "int": whole_numbers(),
        "amount": amounts(),
        "country": st.text(string.ascii_letters + "ßé1", min_size=0, max_size=3),
        "text": st.one_of(any_text, st.text(min_size=spec[1] - 1, max_size=spec[1] + 1) if kind == "text" else any_text),
        "choice": choice_values(set(spec[2]) - {""}) if kind == "choice" else any_text,
        "check": whole_numbers(),
    }[kind]
    if field == "reported_capability":
        shaped = choice_values(KNOWN_LICENSES)
    if field == "call_type":
        shaped = choice_values(CallType.values)
    return st.one_of(padded(shaped), any_text)


# --- one value: the shortcuts of each field give what its check gives -------------------------------------


@pytest.mark.parametrize("field", sorted(SAMPLES))
@BOUNDED
@given(data=st.data())
def test_the_compiled_cleaner_gives_what_the_check_gives_for_any_value(field, data):
    specs = SMS_SPECS if field == "sms_type" else CALL_SPECS
    raw = data.draw(raw_values(field, specs[field]), label=field)
    assert cleaned(specs, field, raw) == expected(specs[field], raw)


# --- whole rows, through the CSV reader --------------------------------------------------------------------

HEADERS = {RecordKind.PSTN: CURRENT_HEADER, RecordKind.SMS: [name for name, _ in SMS_EXPORT_COLUMNS]}
SPECS = {RecordKind.PSTN: CALL_SPECS, RecordKind.SMS: SMS_SPECS}


def csv_file(header, rows):
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return io.BytesIO(out.getvalue().encode("utf-8"))


def slow_path(specs, layout, values, label):
    """(field -> value, [(row, column, problem)]) by check_value, one value at a time."""
    record, errors = {}, []
    for position, field in layout.mapping:
        spec = specs.get(field, IGNORE)
        if spec == IGNORE:
            continue
        try:
            record[field] = check_value(spec, values[position])
        except Bad as problem:
            errors.append((label, layout.names[field], str(problem)))
    return record, errors


def as_checked(spec, value):
    # An amount already to the cent is kept as its text, which the database reads as that number.
    return Decimal(value) if spec[0] == "amount" and isinstance(value, str) else value


def rows_of(kind):
    """Rows of the kind's header, each value drawn for the field its column holds."""
    header, specs = HEADERS[kind], SPECS[kind]
    field_at = dict(from_csv(csv_file(header, []), kind).layout.mapping)
    columns = [
        raw_values(field_at[position], specs[field_at[position]])
        if specs.get(field_at.get(position), IGNORE) != IGNORE else any_text
        for position in range(len(header))
    ]
    return st.lists(st.tuples(*columns).map(list), min_size=1, max_size=4)


@pytest.mark.parametrize("kind", [RecordKind.PSTN, RecordKind.SMS])
@BOUNDED
@given(data=st.data())
def test_a_row_is_either_the_checks_values_or_one_error_per_bad_value_naming_row_and_column(kind, data):
    rows = data.draw(rows_of(kind), label="rows")
    specs, importer = SPECS[kind], KINDS[kind]
    source = from_csv(csv_file(HEADERS[kind], rows), kind)
    read = 0
    for label, payload in source.rows:
        if isinstance(payload, Layout):
            layout, clean = payload, importer.cleaner(payload)
            continue
        assert not isinstance(payload, SourceError), (label, payload.problem)  # every row has the header's width
        read += 1
        # A value such as "'=x" or "'\t" is read as a neutralized formula, its first quote taken off (billing.formulas).
        written = [restore_neutralized(value) for value in rows[read - 1]]
        assert payload == written, "the CSV reader gives back the values written"
        errors = []
        record = clean(payload, label, layout.names, errors)
        checked, refused = slow_path(specs, layout, payload, label)
        assert [(e.row, e.column, e.problem) for e in errors] == refused
        if refused:
            assert record is None
            continue
        assert {field: as_checked(specs[field], record[field]) for field in checked} == checked
        # The last check of a record (an end before its start) names its row and column too.
        finished = importer.finish(record, label, layout.names, errors)
        assert finished == (not errors)
        assert all(e.row == label and e.column in HEADERS[kind] and e.problem for e in errors)
    assert read == len(rows)


@pytest.mark.parametrize("raw", ["0001-01-01T00:05:00+02:24", "9999-12-31T23:59:59-01:00"])
def test_a_time_whose_utc_leaves_the_calendar_is_refused_with_a_clear_error(raw):
    assert cleaned(CALL_SPECS, "start_time", raw)[0] == "bad"
