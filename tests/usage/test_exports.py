"""Exports: a real .xlsx (typed cells, the export's columns, further sheets past the row limit), the
original zip format read back by the importer, background exports with progress and Downloads."""

import csv
import json
import os
import shutil
import subprocess
import threading
import zipfile
from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone
from kombu.exceptions import OperationalError

from tests.factories import OrganizationFactory
from tests.markers import requires_postgres
from tests.usage.factories import PersonFactory, fund, graph_call, page, today_at
from tests.usage.xlsx_reader import read_workbook
from usage import tasks
from usage.columns import PSTN_EXPORT_COLUMNS
from usage.events import ExportReady, usage_event
from usage.models import CallRecord, Export, Person
from usage.selectors import export_queryset, parameters_for
from usage.services.exports.csv_zip import csv_members, csv_members_by_copy
from usage.services.exports.files import build_file
from usage.services.exports.jobs import build_export, delete_expired_exports
from usage.services.exports.progress import PROGRESS_EVERY, Progress
from usage.services.exports.requesting import request_export
from usage.services.exports.xlsx import write_xlsx
from usage.services.ingest import import_file, import_graph_payload

pytestmark = pytest.mark.django_db

HEADER = [name for name, _ in PSTN_EXPORT_COLUMNS]
REPORT = reverse("usage:report")


def export_post(client, fmt="xlsx", kind="pstn", **query):
    from django.http import QueryDict

    q = QueryDict(mutable=True)
    q.update(query)
    return client.post(reverse("usage:export_create", args=[kind]), {"format": fmt, "query": q.urlencode()})


def save(response, tmp_path, name):
    path = tmp_path / name
    path.write_bytes(b"".join(response.streaming_content))
    return path


def test_a_small_excel_export_downloads_at_once_with_typed_dates_and_money(client, reports_reader, calls, tmp_path):
    client.force_login(reports_reader)
    response = export_post(client, destination="International")
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith('attachment; filename="PSTN usage')
    path = save(response, tmp_path, "export.xlsx")
    sheet = read_workbook(path)["PSTN calls"]
    assert [value for _, value, _ in sheet[0]] == HEADER
    assert len(sheet) == 1 + 6  # exactly the rows the filter shows
    first = dict(zip(HEADER, sheet[1], strict=False))
    assert first["Start Time"][0] == "n" and "yyyy" in first["Start Time"][2]
    start = datetime(1899, 12, 30, tzinfo=UTC) + timedelta(days=first["Start Time"][1])
    assert abs(start - today_at(5, 15)) < timedelta(seconds=1)  # oldest first, as rated
    assert first["Charge"][:2] == ("n", 0.04)  # 61 s is 2 min x 0.020 and first["Charge"][2] == "#,##0.00"
    assert first["Duration Seconds"][:2] == ("n", 61.0)
    assert first["UsageId"][0] == "s" and first["Capability"][1] == "MCOPSTNPP"


def test_a_long_export_continues_on_further_sheets_with_the_header(calls, org, tmp_path):
    rows = export_queryset(org, parameters_for("pstn", today_at(10).date(), today_at().date(), {}))
    path = tmp_path / "long.xlsx"
    count = write_xlsx(rows, str(path), "pstn", max_rows=5)
    sheets = read_workbook(path)
    assert count == 13
    assert list(sheets) == ["PSTN calls", "PSTN calls (2)", "PSTN calls (3)", "PSTN calls (4)"]
    assert [len(s) for s in sheets.values()] == [5, 5, 5, 2]  # header + 4 rows each, the 13th row on the last
    assert all([v for _, v, _ in s[0]] == HEADER for s in sheets.values())


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice is not installed (apt-get install -y libreoffice-calc-nogui)")
def test_libreoffice_opens_the_workbook(client, reports_reader, calls, tmp_path):
    client.force_login(reports_reader)
    path = save(export_post(client), tmp_path, "export.xlsx")
    profile = tmp_path / "lo-profile"
    done = subprocess.run(
        ["soffice", f"-env:UserInstallation=file://{profile}", "--headless", "--convert-to", "csv", "--outdir", str(tmp_path), str(path)],
        capture_output=True, timeout=180, check=False,
    )
    out = tmp_path / "export.csv"
    assert done.returncode == 0 and out.exists(), done.stderr
    rows = list(csv.reader(out.read_text(encoding="utf-8", errors="replace").splitlines()))
    assert rows[0] == HEADER and len(rows) == 14
    assert rows[1][HEADER.index("Duration Seconds")] == "125"


def test_the_original_format_zip_is_read_back_into_an_empty_organization_giving_the_same_rows(client, reports_reader, calls, org, tmp_path):
    client.force_login(reports_reader)
    response = export_post(client, "csv_zip")
    assert response.status_code == 200
    name = response["Content-Disposition"].split('filename="')[1].rstrip('"')
    assert name.startswith("Calls.Export.") and name.endswith(".zip")
    path = save(response, tmp_path, name)
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        assert "parameters.json" in names
        days = sorted(n for n in names if n.startswith("PSTN.calls."))
        assert len(days) == 6 and days[0] == f"PSTN.calls.{today_at(5).date()}.csv"
        raw = archive.read(days[0])
        assert raw.startswith(",".join(HEADER).encode() + b"\r\n")  # RFC 4180: header row, CRLF
        params = json.loads(archive.read("parameters.json"))
        assert params["timeRange"]["start"].endswith("T00:00:00Z") and params["rows"] == 13

    # The empty organization has the same directory, plans and balance: rating gives the same answers.
    empty = OrganizationFactory(name="Empty", slug="empty")
    for person in Person.objects.filter(organization=org):
        PersonFactory(organization=empty, upn=person.upn, display_name=person.display_name,
                      usage_location=person.usage_location, licenses=person.licenses, phone_number=person.phone_number)
    fund(empty)
    with open(path, "rb") as handle:
        result = import_file(empty, handle, name, "pstn", origin="upload")
    assert result.created == 13

    def rows_of(organization):
        fields = [f for _, f in PSTN_EXPORT_COLUMNS]
        return sorted(CallRecord.objects.filter(organization=organization).values_list(*fields))

    assert rows_of(empty) == rows_of(org)


# Real commits: the export is built after its request commits, and its email sent after the build commits.
@pytest.mark.django_db(transaction=True)
def test_a_large_export_is_built_in_the_background_and_listed_under_downloads(client, reports_reader, calls, settings, tmp_path):
    settings.USAGE_EXPORT_IMMEDIATE_ROWS = 5
    settings.MEDIA_ROOT = str(tmp_path / "media")
    client.force_login(reports_reader)
    response = export_post(client)
    export = Export.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("usage:export", args=[export.public_id])
    export.refresh_from_db()
    assert export.status == "done" and export.rows_done == export.rows_total == 13 and export.percent == 100
    status = client.get(reverse("usage:export", args=[export.public_id]), {"format": "json"}).json()
    assert status["status"] == "done" and status["download_url"].endswith("/file/")
    page_html = client.get(reverse("usage:export", args=[export.public_id])).content.decode()
    assert "<progress" in page_html
    listing = client.get(reverse("usage:downloads")).content.decode()
    assert reverse("usage:export_file", args=[export.public_id]) in listing
    download = client.get(reverse("usage:export_file", args=[export.public_id]))
    path = save(download, tmp_path, "bg.xlsx")
    assert len(read_workbook(path)["PSTN calls"]) == 14
    (ready,) = mail.outbox
    assert ready.to == [reports_reader.email] and reverse("usage:export_file", args=[export.public_id]) in ready.body


@pytest.mark.django_db(transaction=True)
def test_an_export_asked_for_while_the_broker_is_down_is_built_by_the_sweep(client, reports_reader, calls, settings, tmp_path):
    settings.USAGE_EXPORT_IMMEDIATE_ROWS = 5
    settings.MEDIA_ROOT = str(tmp_path / "media")
    client.force_login(reports_reader)
    broker_down = OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")
    with mock.patch.object(tasks.build_export_task, "apply_async", side_effect=broker_down):
        response = export_post(client)
    export = Export.objects.get()
    assert response.status_code == 302 and export.status == "pending", "asked for, and kept"
    assert tasks.build_waiting_exports_task() == 0, "its own task may still be on its way for a minute"
    Export.objects.filter(pk=export.pk).update(created_at=timezone.now() - timedelta(minutes=2))
    assert tasks.build_waiting_exports_task() == 1
    export.refresh_from_db()
    assert export.status == "done" and export.rows_done == 13
    assert tasks.build_waiting_exports_task() == 0, "nothing left waiting"


def test_an_export_whose_worker_died_mid_build_is_built_again_once_its_progress_stops(calls, org, reports_reader, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    parameters = parameters_for("pstn", today_at(10).date(), today_at().date(), {})
    now = timezone.now()
    # Claimed 20 minutes ago by a worker that still tells its progress: alive, left alone.
    export = Export.objects.create(organization=org, created_by=reports_reader, kind="pstn", format="xlsx", parameters=parameters,
                                   rows_total=13, status="running", started_at=now - timedelta(minutes=20),
                                   heartbeat_at=now - timedelta(minutes=1), expires_at=now + timedelta(days=7))
    assert tasks.build_waiting_exports_task() == 0 and build_export(export.pk) is None
    # Its worker was killed (kill -9): no progress for USAGE_EXPORT_STALE_SECONDS, and beat's sweep builds it.
    Export.objects.filter(pk=export.pk).update(heartbeat_at=now - timedelta(seconds=settings.USAGE_EXPORT_STALE_SECONDS + 1))
    assert tasks.build_waiting_exports_task() == 1
    export.refresh_from_db()
    assert export.status == "done" and export.rows_done == 13 and export.heartbeat_at > now
    assert tasks.build_waiting_exports_task() == 0, "nothing left waiting"


def test_progress_tells_the_export_that_its_build_is_alive(org, reports_reader):
    export = Export.objects.create(organization=org, created_by=reports_reader, kind="pstn", format="xlsx", parameters={},
                                   status="running", expires_at=timezone.now() + timedelta(days=7))
    progress = Progress(export)
    progress.tick(PROGRESS_EVERY - 1)
    export.refresh_from_db()
    assert export.heartbeat_at is None
    progress.tick(1)
    export.refresh_from_db()
    assert export.rows_done == PROGRESS_EVERY and export.heartbeat_at is not None


def test_a_background_export_runs_once_even_if_its_task_is_delivered_twice(calls, org, reports_reader, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    parameters = parameters_for("pstn", today_at(10).date(), today_at().date(), {})
    export = Export.objects.create(organization=org, created_by=reports_reader, kind="pstn", format="xlsx", parameters=parameters,
                                   rows_total=13, expires_at=timezone.now() + timedelta(days=7))
    assert build_export(export.pk) == export.pk
    assert build_export(export.pk) is None
    export.refresh_from_db()
    assert export.status == "done"


def test_export_ready_is_announced_to_whoever_listens(calls, org, reports_reader, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    heard = []

    def listener(sender, event, **kwargs):
        heard.append(event)

    usage_event.connect(listener, sender=ExportReady)
    try:
        export = request_export(organization=org, user=reports_reader, export_format="csv_zip",
                                parameters=parameters_for("pstn", today_at(10).date(), today_at().date(), {}), rows_total=13)
        build_export(export.pk)
    finally:
        usage_event.disconnect(listener, sender=ExportReady)
    assert heard and heard[0].requested_by == reports_reader and heard[0].row_count == 13
    assert heard[0].download_path == reverse("usage:export_file", args=[export.public_id])


def test_exports_expire_after_seven_days_and_their_files_are_deleted(calls, org, reports_reader, settings, tmp_path, client):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    export = request_export(organization=org, user=reports_reader, export_format="xlsx",
                            parameters=parameters_for("pstn", today_at(10).date(), today_at().date(), {}), rows_total=13)
    build_export(export.pk)
    export.refresh_from_db()
    file_path = export.file.path
    assert os.path.exists(file_path)
    client.force_login(reports_reader)
    Export.objects.filter(pk=export.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert client.get(reverse("usage:export_file", args=[export.public_id])).status_code == 404
    assert export.public_id.hex not in client.get(reverse("usage:downloads")).content.decode().replace("-", "")
    assert delete_expired_exports() == 1
    assert not os.path.exists(file_path) and not Export.objects.exists()


def test_an_export_keeps_the_filters_even_when_the_screen_changes(calls, org):
    parameters = parameters_for("pstn", today_at(10).date(), today_at().date(), {"user": "bob@contoso.test"})
    assert export_queryset(org, parameters).count() == 1


def zip_members(writer, rows, parameters, tmp_path):
    """(rows written, progress told, {member: bytes}) of the original format's days written by `writer`
    (csv_members, or csv_members_by_copy on PostgreSQL) into a zip of their own."""
    path = tmp_path / f"{writer.__name__}.zip"
    progress = Progress()
    with zipfile.ZipFile(path, "w") as archive:
        count = writer(archive, rows, "pstn", *([parameters] if writer is csv_members_by_copy else []),
                       "PSTN.calls.{day}.csv", HEADER, progress)
    with zipfile.ZipFile(path) as archive:
        return count, progress.done, {name: archive.read(name) for name in archive.namelist()}


@requires_postgres
def test_postgresql_formats_the_original_format_exactly_as_csv_writer_does(org, people, rates, funded, tmp_path):
    tricky = [
        graph_call(start=today_at(1, 9), callee="Smith, \"Bob\" & Co", caller="+123 456789***"),
        graph_call(start=today_at(1, 10), userDisplayName="Zoë Ünïcode", operator="Line\nbreak\r\nhere"),
        graph_call(start=today_at(2, 11), conferenceId="", usageCountryCode="US"),
        graph_call(start=today_at(2, 11).replace(microsecond=123456), call_type="user_in"),
        # Formulas get their quote from PostgreSQL as from Python (billing.formulas); E.164 stays as it is.
        graph_call(start=today_at(2, 12), userDisplayName='=HYPERLINK("https://x.example","y")', caller="+1 206 555 0***",
                   callee="+14255550100", operator="\t@x", destinationName="-2+3", conferenceId="'=quoted", inventoryType="+0"),
        *[graph_call(start=today_at(2, 13), caller=number, callee="+123456789012345")
          for number in ("+1", "+12", "+1234567890123456", "+1\u0663", "+1 2", "'plain", "'+1")],
    ]
    import_graph_payload(org, page(tricky), "pstn")
    parameters = parameters_for("pstn", today_at(5).date(), today_at().date(), {})
    rows = export_queryset(org, parameters)

    by_python = zip_members(csv_members, rows, parameters, tmp_path)[2]
    by_copy = zip_members(csv_members_by_copy, rows, parameters, tmp_path)[2]
    assert by_copy == by_python
    assert len(by_copy) == 2 and b"Line break here" in b"".join(by_copy.values())
    written = b"".join(by_copy.values())
    for cell in (b'"\'=HYPERLINK(""https://x.example"",""y"")"', b",'+1 206 555 0***,", b",+14255550100,", b",'\t@x,", b",'-2+3,",
                 b",''=quoted,", b",'+0,", b",'+1,", b",+12,", b",'+1234567890123456,", b",+123456789012345,", b",'plain,",
                 b",''+1,", "'+1\u0663".encode()):
        assert cell in written, cell


@requires_postgres
@pytest.mark.parametrize("copy_days", [1, 3, 7])
def test_postgresql_splits_each_copy_into_one_member_a_day(org, people, rates, funded, tmp_path, monkeypatch, copy_days):
    """One COPY covers several days; its lines go to their day's member, also when a day's lines are
    written in several pieces (a small write size) and when days have no record (no member)."""
    from usage.services.exports import csv_zip

    monkeypatch.setattr(csv_zip, "COPY_DAYS", copy_days)
    monkeypatch.setattr(csv_zip, "COPY_WRITE_BYTES", 700)
    calls = [graph_call(start=today_at(days_ago, hour)) for days_ago in (0, 1, 2, 4, 5, 8) for hour in range(9, 9 + days_ago % 4 + 1)]
    import_graph_payload(org, page(calls), "pstn")
    parameters = parameters_for("pstn", today_at(9).date(), today_at().date(), {})
    rows = export_queryset(org, parameters)

    count, done, by_copy = zip_members(csv_members_by_copy, rows, parameters, tmp_path)
    assert (count, done, by_copy) == zip_members(csv_members, rows, parameters, tmp_path)
    assert count == len(calls) == done
    assert sorted(by_copy) == sorted(f"PSTN.calls.{today_at(d).date()}.csv" for d in (0, 1, 2, 4, 5, 8))


def test_sms_export_to_excel_and_the_original_format_read_back(client, reports_reader, org, people, rates, funded, tmp_path):
    from tests.usage.factories import graph_sms
    from usage.models import SmsRecord

    import_graph_payload(org, page([graph_sms(start=today_at(1)), graph_sms(start=today_at(2), sms_type="inbound", units=2)], sms=True), "sms")
    client.force_login(reports_reader)
    workbook = save(export_post(client, "xlsx", kind="sms"), tmp_path, "sms.xlsx")
    sheet = read_workbook(workbook)["SMS"]
    assert len(sheet) == 3 and sheet[0][0][1] == "UsageId" and sheet[1][HEADER.index("UsageId")][0] == "s"
    response = export_post(client, "csv_zip", kind="sms")
    name = response["Content-Disposition"].split('filename="')[1].rstrip('"')
    assert name.startswith("SMS.Export.")
    path = save(response, tmp_path, name)
    other = OrganizationFactory(name="Other", slug="other-sms")
    with open(path, "rb") as handle:
        assert import_file(other, handle, name, "sms").created == 2
    assert SmsRecord.objects.filter(organization=other, sms_type="inbound").get().segments == 2


def test_a_finished_background_export_records_an_export_ready_email_for_whoever_asked(calls, org, reports_reader, settings, tmp_path):
    from notifications.models import Delivery, Event

    settings.MEDIA_ROOT = str(tmp_path / "media")
    export = request_export(organization=org, user=reports_reader, export_format="csv_zip",
                            parameters=parameters_for("pstn", today_at(10).date(), today_at().date(), {}), rows_total=13)
    build_export(export.pk)
    event = Event.objects.get(organization=org, kind="export_ready")
    assert list(Delivery.objects.filter(event=event).values_list("email", flat=True)) == [reports_reader.email]


@pytest.mark.parametrize("export_format", ["csv_zip", "xlsx"])
def test_an_export_filtered_by_a_username_no_one_has_is_empty_not_an_error(calls, org, tmp_path, export_format):
    parameters = parameters_for("pstn", today_at(10).date(), today_at().date(), {"user": "nobody@contoso.test"})
    path = tmp_path / f"empty.{export_format}"
    assert build_file(org, export_format, parameters, str(path), public_id="empty") == 0
    assert path.exists()


def test_the_username_filter_still_finds_rows_whose_person_is_gone_or_renamed(calls, org):
    parameters = parameters_for("pstn", today_at(10).date(), today_at().date(), {"user": "bob@contoso.test"})
    Person.objects.filter(organization=org, upn="bob@contoso.test").delete()
    assert export_queryset(org, parameters).count() == 1
    renamed = Person.objects.get(organization=org, upn="alice@contoso.test")
    renamed.upn = "alice.new@contoso.test"
    renamed.save()
    old_name = parameters_for("pstn", today_at(10).date(), today_at().date(), {"user": "alice@contoso.test"})
    new_name = parameters_for("pstn", today_at(10).date(), today_at().date(), {"user": "alice.new@contoso.test"})
    assert export_queryset(org, old_name).count() == 12 == export_queryset(org, new_name).count()


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_a_background_original_format_export_tells_its_progress_without_waiting_on_its_own_copy(
    calls, org, reports_reader, settings, tmp_path, monkeypatch
):
    """Progress is an UPDATE on the connection that runs the COPY: told inside the COPY, it waited forever."""
    settings.MEDIA_ROOT = str(tmp_path / "media")
    monkeypatch.setattr("usage.services.exports.progress.PROGRESS_EVERY", 1)
    parameters = parameters_for("pstn", today_at(10).date(), today_at().date(), {})
    export = Export.objects.create(organization=org, created_by=reports_reader, kind="pstn", format="csv_zip", parameters=parameters,
                                   rows_total=13, expires_at=timezone.now() + timedelta(days=7))
    built = []
    worker = threading.Thread(target=lambda: built.append(build_export(export.pk)), daemon=True)
    worker.start()
    worker.join(60)
    assert not worker.is_alive(), "the export's build hung"
    export.refresh_from_db()
    assert built == [export.pk] and export.status == "done" and export.rows_done == 13 and export.heartbeat_at
