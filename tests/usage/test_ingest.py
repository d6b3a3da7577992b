"""Ingestion: one service, three doors; all or nothing, idempotent, clear errors, streaming."""

import io
import json
import tracemalloc
import uuid
from decimal import Decimal

import pytest

from billing.models import LedgerEntry
from tests.usage.factories import OLDER_HEADER, at, csv_bytes, export_row, graph_call, graph_sms, page
from usage.models import CallRecord, DailyUsage, ImportBatch, Person, PoolUsage, SmsRecord
from usage.services.ingest import ImportRejected, import_file, import_graph_payload, ingest
from usage.services.sources import from_graph_payload, load_json, open_source

pytestmark = pytest.mark.django_db


def import_page(org, rows, sms=False):
    return import_graph_payload(org, page(rows, sms=sms), "sms" if sms else "pstn")


def import_csv(org, data, name="calls.csv", kind="pstn"):
    return import_file(org, io.BytesIO(data), name, kind)


def test_a_graph_page_is_imported_as_it_comes_and_its_charges_reach_the_balance(org, people, rates, funded):
    rows = [
        graph_call(),  # included
        graph_call(callee="+442079460000", seconds=600),  # international on a domestic plan: 10 x 0.020
        graph_call(call_type="user_in"),
    ]
    result = import_page(org, rows)
    assert (result.created, result.skipped, result.charged) == (3, 0, 1)
    assert result.charged_total == Decimal("0.20")
    funded.refresh_from_db()
    assert funded.balance == Decimal("99.80")
    entry = LedgerEntry.objects.get(kind="usage_charge", account=funded)
    assert entry.amount == Decimal("-0.20") and result.batch.ledger_entry == entry
    call = CallRecord.objects.get(usage_id=rows[1]["id"])
    assert call.rating == "charged" and call.charge == Decimal("0.20") and call.capability == "MCOPSTNPP"
    assert call.start_time.microsecond == 123456  # seven decimals are read, to the microsecond
    assert call.person.upn == "alice@contoso.test"


def test_importing_the_same_page_twice_adds_nothing_and_charges_nothing_more(org, people, rates, funded):
    rows = [graph_call(callee="+442079460000", seconds=600) for _ in range(3)]
    import_page(org, rows)
    again = import_page(org, rows)
    assert (again.created, again.skipped, again.charged_total) == (0, 3, 0)
    assert CallRecord.objects.filter(organization=org).count() == 3
    assert LedgerEntry.objects.filter(kind="usage_charge").count() == 1
    funded.refresh_from_db()
    assert funded.balance == Decimal("99.40")
    assert again.batch.ledger_entry is None


def test_a_usage_id_repeated_in_one_file_is_imported_once_but_a_repeated_call_id_is_not_a_key(org, people, rates):
    same_usage = str(uuid.uuid4())
    transfer = str(uuid.uuid4())
    rows = [
        graph_call(usage_id=same_usage),
        graph_call(usage_id=same_usage),
        graph_call(callId=transfer, call_type="user_in"),
        graph_call(callId=transfer, call_type="user_out_transfer"),
    ]
    result = import_page(org, rows)
    assert (result.created, result.skipped) == (3, 1)
    assert CallRecord.objects.filter(call_id=transfer).count() == 2


def test_both_column_sets_of_the_original_export_are_read_by_name_with_obscured_numbers_and_names(org, people, rates, funded):
    current = [
        export_row(**{"Destination Number": "+44 20 7946 0***", "Domestic/International": "International", "UPN": "hank@contoso.test"}),
        export_row(**{"Call Type": "user_in", "Caller ID": "Contoso Reception", "Call Direction": "Inbound"}),
    ]
    older = [export_row(**{"Destination Number": "+1 206 555 0***"})]
    # Columns in another order than the export's: names count, not positions.
    shuffled = list(reversed(OLDER_HEADER))
    first = import_csv(org, csv_bytes(current))
    second = import_csv(org, csv_bytes(older, header=shuffled))
    assert (first.created, second.created) == (2, 1)
    obscured = CallRecord.objects.get(callee_number="+44 20 7946 0***")
    assert obscured.rating == "charged" and "(+4420)" in obscured.rating_reason
    assert CallRecord.objects.get(caller_number="Contoso Reception").rating == "free_inbound"
    old = CallRecord.objects.get(usage_id=older[0]["UsageId"])
    assert old.direction == "Outbound" and old.operator == "" and old.user_object_id == older[0]["AAD ObjectId"]
    assert old.reported_capability == "MCOPSTN1"


def test_a_bad_file_is_refused_whole_with_the_row_column_and_problem_of_each_error(org, people, rates, funded):
    rows = [
        export_row(),
        export_row(**{"Start Time": "yesterday"}),
        export_row(**{"Duration Seconds": "12.5"}),
        export_row(**{"UsageId": "not-a-guid"}),
        export_row(**{"Domestic/International": "Local"}),
        export_row(**{"User Location": "USA"}),
    ]
    with pytest.raises(ImportRejected) as refused:
        import_csv(org, csv_bytes(rows))
    problems = [(e.row, e.column) for e in refused.value.errors]
    assert problems == [
        ("line 3", "Start Time"),
        ("line 4", "Duration Seconds"),
        ("line 5", "UsageId"),
        ("line 6", "Domestic/International"),
        ("line 7", "User Location"),
    ]
    assert "not a UTC ISO 8601 time" in refused.value.errors[0].problem
    assert "line 3, column \"Start Time\"" in str(refused.value)
    assert not CallRecord.objects.exists() and not ImportBatch.objects.exists()
    assert not LedgerEntry.objects.filter(kind="usage_charge").exists()


def test_a_file_without_a_needed_column_is_refused_before_any_row(org, rates):
    data = b"UsageId,Call Type,Start Time\n" + f"{uuid.uuid4()},user_out,2024-05-01T10:00:00Z\n".encode()
    with pytest.raises(ImportRejected) as refused:
        import_csv(org, data)
    assert refused.value.errors[0].column == "Duration Seconds"
    assert "Missing column" in refused.value.errors[0].problem


def test_an_end_before_the_start_and_a_short_row_are_errors(org, rates):
    good = export_row()
    bad_end = export_row(**{"End Time": "2024-05-06T09:00:00Z"})
    data = csv_bytes([good, bad_end]) + b"only,three,values\n"
    with pytest.raises(ImportRejected) as refused:
        import_csv(org, data)
    assert [(e.row, e.column) for e in refused.value.errors] == [("line 3", "End Time"), ("line 4", "")]


@pytest.mark.parametrize(("bad_rows", "truncated"), [(50, False), (51, True), (60, True)])
def test_at_most_50_problems_are_listed_and_truncated_says_whether_there_were_more(org, rates, bad_rows, truncated):
    with pytest.raises(ImportRejected) as refused:
        import_csv(org, csv_bytes([export_row(**{"Call Type": ""}) for _ in range(bad_rows)]))
    assert len(refused.value.errors) == 50 and refused.value.truncated is truncated
    assert refused.value.errors[-1].row == "line 51"
    assert ("more than 49" in str(refused.value)) is truncated


def test_a_row_adding_several_problems_past_the_50th_is_cut_at_50(org, rates):
    rows = [export_row(**{"Call Type": "", "Duration Seconds": "-1", "Start Time": "x"}) for _ in range(20)]
    with pytest.raises(ImportRejected) as refused:
        import_csv(org, csv_bytes(rows))
    assert len(refused.value.errors) == 50 and refused.value.truncated is True


@pytest.mark.parametrize("time", ["0001-01-01T00:05:00+02:24", "9999-12-31T23:59:59-01:00"])
def test_a_time_whose_utc_leaves_the_calendar_is_refused_by_row_and_column(org, people, rates, time):
    with pytest.raises(ImportRejected) as refused:
        import_csv(org, csv_bytes([export_row(), export_row(**{"Start Time": time, "End Time": ""})]))
    assert [(e.row, e.column) for e in refused.value.errors] == [("line 3", "Start Time")]
    assert "outside the calendar (years 1 to 9999) once converted to UTC" in refused.value.errors[0].problem
    assert not CallRecord.objects.exists() and not ImportBatch.objects.exists()


def test_an_error_late_in_a_long_file_leaves_nothing_behind(org, people, rates, monkeypatch):
    monkeypatch.setattr("usage.services.ingest.checking.CHUNK_SIZE", 10)
    rows = [export_row() for _ in range(35)] + [export_row(**{"Call Type": ""})]
    with pytest.raises(ImportRejected):
        import_csv(org, csv_bytes(rows))
    assert not CallRecord.objects.exists() and not PoolUsage.objects.exists() and not DailyUsage.objects.exists()


def test_pools_carry_over_from_one_import_to_the_next_within_the_month(org, people, rates, funded):
    import_page(org, [graph_call(upn="frank@contoso.test", seconds=100 * 60)])
    result = import_page(org, [graph_call(upn="frank@contoso.test", seconds=30 * 60, start=at("2024-05-20"))])
    call = CallRecord.objects.get(batch=result.batch)
    assert call.rating == "charged" and call.charged_units == 10
    pool = PoolUsage.objects.get(organization=org, month="2024-05-01", key__startswith="user:MCOPSTN8")
    assert (pool.used, pool.size) == (120, 120)


def test_daily_totals_follow_every_import(org, people, rates, funded):
    import_page(org, [graph_call(), graph_call(callee="+442079460000", seconds=61)])
    import_page(org, [graph_call(start=at("2024-05-06", "18:00:00"))])
    rows = DailyUsage.objects.filter(organization=org, day="2024-05-06")
    included = rows.get(rating="included_plan")
    assert (included.records, included.seconds, included.units) == (2, 600, 10)
    charged = rows.get(rating="charged")
    assert (charged.records, charged.charged_units, charged.charge) == (1, 2, Decimal("0.04"))


def test_a_user_unknown_to_the_directory_is_added_with_the_licenses_seen_on_their_rows(org, rates, catalog):
    rows = [
        graph_call(upn="New.Person@Contoso.test", licenseCapability="MCOPSTN1", usageCountryCode="US"),
        graph_call(upn="new.person@contoso.test", licenseCapability="MCOPSTNPP", callee="+442079460000"),
    ]
    import_page(org, rows)
    person = Person.objects.get(organization=org, upn="new.person@contoso.test")
    assert person.created_by_import and set(person.licenses.split()) == {"MCOPSTN1", "MCOPSTNPP"}
    assert CallRecord.objects.filter(person=person).count() == 2


def test_sms_pages_are_imported_and_rated(org, people, rates, funded):
    result = ingest(org, from_graph_payload(page([graph_sms(), graph_sms(to="+447700900123", other_country="GB", units=2)], sms=True), "sms"))
    assert (result.created, result.charged, result.charged_total) == (2, 1, Decimal("0.08"))
    assert SmsRecord.objects.get(rating="included_sms").segments == 1


def test_a_page_of_the_wrong_report_is_refused(org, rates):
    with pytest.raises(ImportRejected) as refused:
        import_graph_payload(org, page([graph_sms()], sms=True), "pstn")
    assert "getSmsLog" in refused.value.errors[0].problem


def test_json_numbers_keep_their_decimals(org, people, rates):
    data = json.dumps(page([graph_call(charge=0.015)])).encode()
    payload = load_json(io.BytesIO(data))
    assert payload["value"][0]["charge"] == Decimal("0.015")
    ingest(org, from_graph_payload(payload, "pstn"))
    assert CallRecord.objects.get().reported_charge == Decimal("0.02")  # half up, to the cent


def test_a_jsonl_file_of_several_pages_is_read_line_by_line(org, people, rates):
    lines = [json.dumps(page([graph_call(), graph_call()])), json.dumps(page([graph_call()]))]
    result = ingest(org, open_source(io.BytesIO("\n".join(lines).encode()), "calls.jsonl", "pstn"), origin="command")
    assert result.created == 3


def test_a_jsonl_line_whose_page_cannot_be_read_is_named_by_its_line(org, people, rates):
    lines = [
        json.dumps(page([graph_call()])),
        json.dumps({"@odata.context": "", "value": None}),
        json.dumps([page([graph_call()]), {"@odata.context": ["getPstnCalls"], "value": []}]),
        "5",
        json.dumps(page([graph_call(callId={"id": 1})])),
    ]
    with pytest.raises(ImportRejected) as refused:
        ingest(org, open_source(io.BytesIO("\n".join(lines).encode()), "calls.jsonl", "pstn"), origin="command")
    assert [(e.row, e.column) for e in refused.value.errors] == [
        ("line 2", "value"), ("line 3 [1]", "@odata.context"), ("line 4", ""), ("line 5 value[0]", "callId"),
    ]
    assert not CallRecord.objects.exists() and not ImportBatch.objects.exists()


def test_memory_stays_flat_while_a_large_file_is_imported(org, people, rates, monkeypatch):
    monkeypatch.setattr("usage.services.ingest.checking.CHUNK_SIZE", 500)
    # The second import overlaps the first, so its chunks wait to be checked for duplicates a few at a
    # time (ten in the service, at most 10,000 rows); two here, so that 6,000 rows are several batches.
    monkeypatch.setattr("usage.services.ingest.pipeline.CHECK_CHUNKS", 2)

    def peak_for(count):
        rows = [export_row(start=at("2024-05-06", f"{(i // 3600) % 24:02d}:{(i // 60) % 60:02d}:{i % 60:02d}"),
                           seconds=30) for i in range(count)]
        data = csv_bytes(rows)
        del rows
        tracemalloc.start()
        import_csv(org, data)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return peak

    small = peak_for(1_000)
    large = peak_for(6_000)
    # Six times the rows, about the same memory: the rows are not kept (the file bytes are not traced here).
    assert large < small * 2, (small, large)


def test_a_usage_id_repeated_far_apart_in_one_file_is_still_imported_once(org, people, rates, monkeypatch):
    monkeypatch.setattr("usage.services.ingest.checking.CHUNK_SIZE", 5)
    repeated = export_row()
    rows = [repeated] + [export_row() for _ in range(12)] + [repeated]
    result = import_csv(org, csv_bytes(rows))
    assert (result.created, result.skipped) == (13, 1)
    assert ImportBatch.objects.count() == 1  # the first attempt was rolled back whole


def test_a_usage_id_imported_before_with_another_start_time_is_refused_by_name(org, people, rates):
    first = export_row()
    import_csv(org, csv_bytes([first]))
    moved = dict(first, **{"Start Time": "2023-01-01T00:00:00Z", "End Time": "2023-01-01T00:05:00Z"})
    with pytest.raises(ImportRejected) as refused:
        import_csv(org, csv_bytes([moved]))
    assert refused.value.errors[0].column == "UsageId"
    assert CallRecord.objects.count() == 1


def test_awkward_values_are_stored_exactly_as_read(org, people, rates):
    """The COPY writer formats lines itself (usage.services.ingest.copy_writer.compile_copy_line):
    backslashes, tabs, line breaks inside quoted values, NULLs and both forms of time must come back
    unchanged."""
    rows = [
        export_row(**{"User Display Name": "Back\\slash \\N and\ttab", "Operator": "Line\nbreak\r\nhere",
                      "Start Time": "2024-05-06T10:00:00Z", "End Time": "2024-05-06T10:05:00Z", "Administrative Units": "\\"}),
        export_row(**{"User Display Name": "Plain", "Start Time": "2024-05-06T11:00:00.250000+00:00", "End Time": "",
                      "Connection Fee": "", "Charge": ""}),
        export_row(**{"User Display Name": "{braces} %s \"quotes\"", "Start Time": "2024-05-06 12:00:00", "End Time": "2024-05-06T12:01:00Z"}),
        # As long as the common form and read by Python, but not by PostgreSQL: must not be sent as text.
        export_row(**{"Start Time": "2024-W19-1T13:00:00Z", "End Time": "2024-W19-1T13:05:00Z"}),
    ]
    import_csv(org, csv_bytes(rows))
    first, second, third, fourth = (CallRecord.objects.get(usage_id=row["UsageId"]) for row in rows)
    assert (fourth.start_time, fourth.end_time) == (at(time="13:00:00"), at(time="13:05:00"))
    assert first.display_name == "Back\\slash \\N and\ttab"
    assert first.operator == "Line break here"  # line breaks become spaces (cleaning.one_line)
    assert first.administrative_units == "\\"
    assert (first.start_time, first.end_time) == (at(time="10:00:00"), at(time="10:05:00"))
    assert second.start_time == at(time="11:00:00.250000") and second.end_time is None
    assert second.reported_charge is None and second.person_id is not None
    assert third.display_name == "{braces} %s \"quotes\"" and third.start_time == at(time="12:00:00")
    assert {r.organization_id for r in (first, second, third)} == {org.pk}
    assert len({r.batch_id for r in (first, second, third)}) == 1


def test_text_a_database_cannot_hold_is_refused_by_row_and_column(org, people, rates):
    rows = [graph_call(userDisplayName="nul\x00inside"), graph_call(userDisplayName="half \ud800 pair"), graph_call(usageCountryCode="ßa")]
    with pytest.raises(ImportRejected) as refused:
        import_page(org, rows)
    problems = {(e.row, e.column): e.problem for e in refused.value.errors}
    assert "NUL" in problems[("value[0]", "userDisplayName")]
    assert "surrogate" in problems[("value[1]", "userDisplayName")]
    assert "country code" in problems[("value[2]", "usageCountryCode")]
    assert not CallRecord.objects.exists()
