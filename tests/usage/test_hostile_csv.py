"""Hostile CSV: a row longer than USAGE_IMPORT_MAX_ROW_CHARS is refused as soon as the limit is
reached, by its row number, without reading the rest of it; a row with more values than the header
is refused by number too. Nothing is written."""

import io
import tracemalloc

import pytest

from tests.usage.factories import CURRENT_HEADER, csv_bytes, export_row
from usage.models import CallRecord, ImportBatch
from usage.services.ingest import ImportRejected, import_file

pytestmark = pytest.mark.django_db

MB = 1024 * 1024


def refusal_of(org, data):
    """(the refusal, how far into the file it read, the peak of traced memory)."""
    upload = io.BytesIO(data)
    tracemalloc.start()
    try:
        with pytest.raises(ImportRejected) as refused:
            import_file(org, upload, "calls.csv", "pstn")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert not ImportBatch.objects.exists() and not CallRecord.objects.exists()
    return refused.value, upload.tell(), peak


def test_a_20_mb_line_of_commas_is_refused_by_its_row_number_without_being_read_whole(org, people, rates, settings):
    good = csv_bytes([export_row()])
    data = good + b"," * 20 * MB + b"\r\n" + csv_bytes([export_row()]).split(b"\r\n", 1)[1]
    refused, position, peak = refusal_of(org, data)
    (error,) = refused.errors
    assert error.row == "line 3"
    assert f"longer than {settings.USAGE_IMPORT_MAX_ROW_CHARS:,} characters" in error.problem
    # Read up to the limit and a buffer beyond it, not 20 MB; it cost 170 MB before.
    assert position < 4 * settings.USAGE_IMPORT_MAX_ROW_CHARS, position
    assert peak < 2 * MB, peak


def test_the_row_limit_is_a_setting_and_counts_a_row_that_spans_lines(org, rates, settings):
    settings.USAGE_IMPORT_MAX_ROW_CHARS = 4096
    # One quoted value holding line breaks: each line is short, the row is not.
    spanning = export_row(**{"User Display Name": "line\n" * 2000})
    refused, _, _ = refusal_of(org, csv_bytes([export_row(), export_row(), spanning]))
    assert [(e.row, "longer than 4,096 characters" in e.problem) for e in refused.errors] == [("line 4", True)]


def test_a_header_longer_than_the_limit_is_refused_as_line_1(org, rates, settings):
    settings.USAGE_IMPORT_MAX_ROW_CHARS = 4096
    refused, _, _ = refusal_of(org, b"UsageId," + b"x" * 10_000 + b"\r\n")
    assert refused.errors[0].row == "line 1" and "longer than 4,096" in refused.errors[0].problem


def test_a_row_with_more_values_than_the_header_is_refused_by_number(org, rates):
    too_wide = b"," * 30_000 + b"\r\n"  # within the row limit: read, counted, refused
    refused, _, _ = refusal_of(org, csv_bytes([export_row()]) + too_wide)
    (error,) = refused.errors
    assert error.row == "line 3"
    assert error.problem == f"has 30001 values but the header has {len(CURRENT_HEADER)} columns."


def test_rows_up_to_the_limit_are_imported(org, people, rates, settings):
    settings.USAGE_IMPORT_MAX_ROW_CHARS = 1024
    row = export_row(**{"Administrative Units": "x" * 300})
    assert 600 < len(csv_bytes([row]).split(b"\r\n")[1]) < 1024
    assert import_file(org, io.BytesIO(csv_bytes([row])), "calls.csv", "pstn").created == 1
