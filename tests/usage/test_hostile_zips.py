"""Hostile zips: checked against their own directory before anything is inflated, then held to the
same limits while they are read, since a directory can lie. Each is refused quickly, says what and
where, and leaves nothing written."""

import io
import struct
import time
import tracemalloc
import zipfile
from itertools import chain, repeat

import pytest
from django.urls import reverse

from tests.usage.factories import csv_bytes, export_row
from usage.models import CallRecord, ImportBatch
from usage.services.ingest import ImportRejected, import_file
from usage.services.sources import SourceError
from usage.services.sources.zipped import InflateBudget, LimitedMember, ZipLimits

pytestmark = pytest.mark.django_db

MB = 1024 * 1024
HEADER = b"UsageId,Call Type,Start Time,Duration Seconds\r\n"


def zip_of(path, members, level=9):
    """A zip of {name: bytes, or the blocks of bytes it is written from}."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=level) as archive:
        for name, content in members.items():
            with archive.open(name, "w", force_zip64=True) as handle:
                for block in [content] if isinstance(content, bytes) else content:
                    handle.write(block)
    return path


def refused(org, path):
    """The import's refusal of the zip at `path`, with the seconds and the peak of traced memory it took."""
    tracemalloc.start()
    started = time.monotonic()
    try:
        with open(path, "rb") as handle, pytest.raises(ImportRejected) as refusal:
            import_file(org, handle, path.name, "pstn")
    finally:
        seconds = time.monotonic() - started
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert not ImportBatch.objects.exists() and not CallRecord.objects.exists()
    return refusal.value.errors[0], seconds, peak


def test_a_zip_bomb_is_refused_from_its_directory_in_an_instant(org, rates, tmp_path):
    # 306 KB holding a 300 MB day of calls, a header then zeros: it kept a request busy for 115 s.
    bomb = zip_of(tmp_path / "Calls.Export.bomb.zip", {"PSTN.calls.2024-05-06.csv": chain([HEADER], repeat(b"\0" * MB, 300))})
    assert bomb.stat().st_size < 400 * 1024
    error, seconds, peak = refused(org, bomb)
    assert error.row == "PSTN.calls.2024-05-06.csv"
    assert "inflates from" in error.problem and "300.0 MB" in error.problem and "more than 100 times" in error.problem
    assert seconds < 2 and peak < 2 * MB, (seconds, peak)


def test_small_files_that_inflate_too_much_together_are_refused(org, rates, tmp_path):
    # Each under the megabyte a file may inflate to unchecked; together 2.7 MB from a few KB.
    days = {f"PSTN.calls.2024-05-0{day}.csv": HEADER + b"\0" * 900 * 1024 for day in range(1, 4)}
    error, _, _ = refused(org, zip_of(tmp_path / "small-bombs.zip", days))
    assert "inflates to 2.6 MB in all" in error.problem and "no more than 100 times the zip's size" in error.problem


def test_a_huge_parameters_json_is_refused_before_it_is_inflated(org, rates, tmp_path):
    # 400 MB of JSON whitespace around {} in about 400 KB: it took the web process from 98 MB to 914 MB.
    path = zip_of(tmp_path / "Calls.Export.params.zip",
                  {"PSTN.calls.2024-05-06.csv": csv_bytes([export_row()]), "parameters.json": chain([b"{}"], repeat(b" " * MB, 400))})
    error, seconds, peak = refused(org, path)
    assert error.row == "parameters.json" and "may hold up to 1.0 MB" in error.problem
    assert seconds < 2 and peak < 2 * MB, (seconds, peak)


def test_a_zip_of_more_files_than_the_limit_is_refused_by_count(org, rates, tmp_path, settings):
    settings.USAGE_IMPORT_ZIP_MAX_MEMBERS = 5
    path = zip_of(tmp_path / "many.zip", {f"PSTN.calls.2024-05-0{day}.csv": csv_bytes([export_row()]) for day in range(1, 7)})
    error, _, _ = refused(org, path)
    assert "holds 6 files" in error.problem and "up to 5 are read" in error.problem


def test_a_file_over_the_member_limit_is_refused_by_name(org, rates, tmp_path, settings):
    settings.USAGE_IMPORT_ZIP_MAX_MEMBER_BYTES = 4 * 1024
    path = zip_of(tmp_path / "big.zip", {"PSTN.calls.2024-05-06.csv": csv_bytes([export_row() for _ in range(20)])})
    error, _, _ = refused(org, path)
    assert error.row == "PSTN.calls.2024-05-06.csv" and "may hold up to 4.0 KB" in error.problem


def test_files_over_the_total_limit_together_are_refused(org, rates, tmp_path, settings):
    settings.USAGE_IMPORT_ZIP_MAX_TOTAL_BYTES = 10 * 1024
    days = {f"PSTN.calls.2024-05-0{day}.csv": csv_bytes([export_row() for _ in range(12)]) for day in range(1, 4)}
    assert all(len(data) < 10 * 1024 for data in days.values()) and sum(map(len, days.values())) > 10 * 1024
    error, _, _ = refused(org, zip_of(tmp_path / "total.zip", days))
    assert "inflates to" in error.problem and "in all" in error.problem


def lie_about_size(path, file_size):
    """Patch a zip of one file: its local header and its directory entry say it inflates to `file_size` bytes."""
    data = bytearray(path.read_bytes())
    struct.pack_into("<I", data, data.index(b"PK\x03\x04") + 22, file_size)
    struct.pack_into("<I", data, data.rindex(b"PK\x01\x02") + 24, file_size)
    path.write_bytes(bytes(data))
    with zipfile.ZipFile(path) as archive:
        (info,) = archive.infolist()
        assert info.file_size == file_size
    return path


def test_a_directory_that_lies_about_a_file_s_size_is_caught_while_reading(org, rates, tmp_path):
    # The directory says 2,000 bytes; the file holds 20 MB of zeros after a real header and row.
    path = tmp_path / "liar.zip"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("PSTN.calls.2024-05-06.csv", csv_bytes([export_row()]) + b"\0" * 20 * MB)
    lie_about_size(path, 2000)
    error, seconds, peak = refused(org, path)
    assert error.row.startswith("PSTN.calls.2024-05-06.csv")
    assert "damaged" in error.problem
    assert seconds < 2 and peak < 2 * MB, (seconds, peak)


def member(data, *, declared, member_bytes=MB, total_bytes=10 * MB, archive_bytes=MB):
    limits = ZipLimits(members=10, member_bytes=member_bytes, total_bytes=total_bytes, ratio=100, parameters_bytes=MB)
    info = zipfile.ZipInfo("PSTN.calls.2024-05-06.csv")
    info.file_size = declared
    return LimitedMember(io.BytesIO(data), info, limits, InflateBudget(limits, archive_bytes))


def read_all(reader):
    read = 0
    while chunk := reader.read1(64 * 1024):
        read += len(chunk)
    return read


def test_the_reader_counts_what_a_file_really_inflates_to_whatever_the_directory_says():
    assert read_all(member(b"x" * 100_000, declared=100_000)) == 100_000
    liar = member(b"x" * 5 * MB, declared=100_000)
    with pytest.raises(SourceError, match="more than the 97.7 KB the zip's directory gives"):
        read_all(liar)
    assert liar.left > -64 * 1024, "refused within one read of the limit"


def test_the_reader_holds_the_member_limit_and_the_zip_s_budget_while_reading():
    with pytest.raises(SourceError, match="more than the 1.0 MB"):
        read_all(member(b"x" * 3 * MB, declared=3 * MB))
    # A 10 KB zip may inflate to max(1 MB, 100 x 10 KB) in all, whatever each file says.
    budget_limited = member(b"x" * 2 * MB, declared=2 * MB, member_bytes=5 * MB, archive_bytes=10 * 1024)
    with pytest.raises(SourceError, match="The zip inflates to more than 1.0 MB"):
        read_all(budget_limited)


def test_a_zip_within_the_limits_is_still_imported(org, people, rates, tmp_path):
    path = zip_of(tmp_path / "Calls.Export.ok.zip", {"PSTN.calls.2024-05-06.csv": csv_bytes([export_row(), export_row()]),
                                                     "parameters.json": b'{"start": "2024-05-06"}'}, level=1)
    with open(path, "rb") as handle:
        assert import_file(org, handle, path.name, "pstn").created == 2


def test_the_upload_page_shows_the_refusal_of_a_zip_bomb_by_the_file_s_name(client, global_admin, org, rates, tmp_path):
    bomb = zip_of(tmp_path / "Calls.Export.bomb.zip", {"PSTN.calls.2024-05-06.csv": chain([HEADER], repeat(b"\0" * MB, 50))})
    client.force_login(global_admin)
    with open(bomb, "rb") as upload:
        response = client.post(reverse("usage:import"), {"kind": "pstn", "file": upload})
    html = response.content.decode()
    assert response.status_code == 400 and "Nothing was imported" in html
    assert "PSTN.calls.2024-05-06.csv" in html and "more than 100 times" in html
    assert not ImportBatch.objects.exists()
