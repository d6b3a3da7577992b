"""Sorting the report: every sortable column, both ways, across pages (ties, NULLs), the columns that
are not offered over a range that holds too many records, hand-made sort= and cursors, and tenancy."""

from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse

from tests.usage.factories import graph_call, graph_sms, page
from usage import paging, views
from usage.models import CallRecord, SmsRecord
from usage.paging import Cursor, keyset_page
from usage.selectors import records
from usage.services.ingest import import_graph_payload
from usage.tables import CallRecordTable, SmsRecordTable

pytestmark = pytest.mark.django_db

REPORT = reverse("usage:report")
SMS_REPORT = reverse("usage:sms_report")
SORTABLE = [
    (table, name) for table in (CallRecordTable, SmsRecordTable) for name, column in table.base_columns.items() if column.sort
]


def at(days_ago, minute):
    return (datetime.now(UTC) - timedelta(days=days_ago)).replace(hour=9, minute=minute, second=0, microsecond=0)


@pytest.fixture
def mixed(org, people, rates, funded):
    """67 calls and 67 SMS whose sortable values repeat (ties across every page boundary of 7 rows):
    three people, four call types, six durations, one to three segments, charged or covered, and
    times that repeat too."""
    upns = ["alice@contoso.test", "hank@contoso.test", "carol@contoso.test"]
    calls, messages = [], []
    for i in range(67):
        upn = upns[i % 3]
        calls.append(graph_call(
            upn=upn, start=at(i % 5, i % 4), seconds=(30, 60, 61, 120, 600, 0)[i % 6],
            call_type=("user_out", "user_in", "conf_out", "user_out")[i % 4],
            callee="+442079460000" if i % 2 else "+12065550100",
        ))
        messages.append(graph_sms(upn=upn, start=at(i % 5, i % 4), units=1 + i % 3, to="+447700900000" if i % 2 else "+12065550100",
                                  other_country="GB" if i % 2 else "US"))
    import_graph_payload(org, page(calls), "pstn")
    import_graph_payload(org, page(messages, sms=True), "sms")


def walk(queryset, field, descending, per_page=7):
    """Every row, page by page forward from the first, and page by page back from the last."""
    forward, cursor = [], None
    while True:
        got = keyset_page(queryset, sort_field=field, descending=descending, per_page=per_page, after=cursor)
        forward.extend(got.rows)
        if not got.has_next:
            break
        cursor = Cursor.decode(got.next_cursor)
    backward = []
    got = keyset_page(queryset, sort_field=field, descending=descending, per_page=per_page, last=True)
    while True:
        backward[:0] = got.rows
        if not got.has_previous:
            break
        got = keyset_page(queryset, sort_field=field, descending=descending, per_page=per_page, before=Cursor.decode(got.previous_cursor))
    return [r.pk for r in forward], [r.pk for r in backward]


def expected_order(rows, field, descending):
    """(value, id) order, NULL below every value, as the report promises."""
    def key(row):
        value = getattr(row, field)
        return (value is not None, value if value is not None else 0, row.pk)

    return [r.pk for r in sorted(rows, key=key, reverse=descending)]


@pytest.mark.parametrize("descending", [True, False], ids=["descending", "ascending"])
@pytest.mark.parametrize(("table", "name"), SORTABLE, ids=[f"{t.KIND}-{n}" for t, n in SORTABLE])
def test_every_sortable_column_pages_in_order_both_ways_without_skipping_or_repeating_a_tie(org, mixed, table, name, descending):
    field = table.base_columns[name].sort
    queryset = records(org, table.KIND, (datetime.now(UTC) - timedelta(days=10)).date(), datetime.now(UTC).date())
    rows = list(queryset)
    assert len(rows) == 67 and len({getattr(r, field) for r in rows}) < 67, "ties to cross page boundaries"
    forward, backward = walk(queryset, field, descending)
    assert forward == backward == expected_order(rows, field, descending)


@pytest.mark.parametrize("descending", [True, False], ids=["descending", "ascending"])
def test_a_nullable_column_pages_with_null_below_every_value_both_ways(org, mixed, descending):
    # No sortable column of the report holds NULL today; keyset paging keeps NULLs in order anyway.
    ended = CallRecord.objects.filter(organization=org).order_by("pk")
    CallRecord.objects.filter(pk__in=[r.pk for r in ended[::3]]).update(end_time=None)
    CallRecord.objects.filter(pk__in=[r.pk for r in ended[1::3]]).update(end_time=at(2, 0))
    queryset = CallRecord.objects.filter(organization=org)
    rows = list(queryset)
    assert sum(r.end_time is None for r in rows) == 23
    forward, backward = walk(queryset, "end_time", descending)
    assert forward == backward == expected_order(rows, "end_time", descending)


@pytest.mark.parametrize(("url", "table"), [(REPORT, CallRecordTable), (SMS_REPORT, SmsRecordTable)], ids=["calls", "sms"])
def test_the_page_walks_a_sort_by_charge_and_by_username_through_its_next_links(client, reports_reader, mixed, url, table):
    client.force_login(reports_reader)
    for sort in ("-charge", "upn"):
        seen, response = [], client.get(url, {"range": "7", "sort": sort})
        while True:
            seen.extend(response.context["page"].rows)
            if not response.context["paging"]["next"]:
                break
            response = client.get(url + response.context["paging"]["next"])
        field = table.base_columns[sort.lstrip("-")].sort
        assert [r.pk for r in seen] == expected_order(seen, field, sort.startswith("-")) and len(seen) == 67


@pytest.fixture
def small_limit(monkeypatch):
    """Sorting without an index offered up to 40 records (the real limit is measured on a million)."""
    monkeypatch.setattr(paging, "SORT_IN_DATABASE_ROWS", 40)
    monkeypatch.setattr(views, "SORT_IN_DATABASE_ROWS", 40)


def headers(response):
    return {h["name"]: h for h in response.context["headers"]}


def test_over_a_range_of_too_many_records_only_the_time_sorts_and_a_hint_says_how_to_sort_the_rest(client, reports_reader, mixed, small_limit):
    client.force_login(reports_reader)
    response = client.get(REPORT, {"range": "7"})
    html = response.content.decode()
    shown = headers(response)
    assert shown["start_time"]["href"] and not shown["start_time"]["sort_unavailable"]
    for name in ("upn", "call_type", "charge", "duration"):
        assert shown[name]["href"] == "" and shown[name]["sort_unavailable"], name
    assert ("Narrow the range to at most 40 calls or filter by user to sort by Username, Call type, Charge or Duration: "
            "this range holds 67, too many to sort quickly.") in html
    assert 'id="sort-hint"' in html and html.count('aria-describedby="sort-hint"') == 4
    assert 'href="?range=7&amp;sort=upn"' not in html and 'href="?range=7&amp;sort=-upn"' not in html
    # The time stamp still sorts both ways, with no hint about it.
    oldest = client.get(REPORT, {"range": "7", "sort": "start_time"})
    assert oldest.status_code == 200 and headers(oldest)["start_time"]["aria_sort"] == "ascending"


def test_a_narrower_range_or_a_user_filter_makes_every_column_sortable_again(client, reports_reader, mixed, small_limit):
    client.force_login(reports_reader)
    today = datetime.now(UTC).date()
    narrow = client.get(REPORT, {"range": "custom", "start": today - timedelta(days=1), "end": today, "sort": "-charge"})
    assert narrow.status_code == 200 and narrow.context["sort_hint"] == ""
    assert headers(narrow)["charge"]["aria_sort"] == "descending"
    by_user = client.get(REPORT, {"range": "7", "user": "hank@contoso.test", "sort": "upn"})
    assert by_user.status_code == 200 and headers(by_user)["upn"]["aria_sort"] == "ascending"
    assert len(by_user.context["page"].rows) == 22


def test_a_filter_other_than_the_user_does_not_make_a_large_range_sortable(client, reports_reader, mixed, small_limit):
    # The call type has no index: the sort would read every call of the range to find the few of that type.
    client.force_login(reports_reader)
    response = client.get(REPORT, {"range": "7", "call_type": "conf_out"})
    assert response.context["summary"].records == 17
    assert headers(response)["charge"]["sort_unavailable"] and "this range holds 67" in response.content.decode()
    assert client.get(REPORT, {"range": "7", "call_type": "conf_out", "sort": "-charge"}).status_code == 302


@pytest.mark.parametrize(("url", "sort", "label"), [(REPORT, "-charge", "Charge"), (REPORT, "upn", "Username"),
                                                     (SMS_REPORT, "segments", "Units")])
def test_a_hand_made_sort_that_is_not_offered_redirects_to_the_default_order_with_why(client, reports_reader, mixed, small_limit,
                                                                                     url, sort, label):
    client.force_login(reports_reader)
    response = client.get(url, {"range": "7", "user": "", "sort": sort, "page": "last"})
    assert response.status_code == 302 and response["Location"] == f"{url}?range=7"
    followed = client.get(response["Location"])
    text = followed.content.decode()
    assert f"to sort by {label}: this range holds 67, too many to sort quickly. Shown newest first." in text
    assert headers(followed)["sent_time" if url == SMS_REPORT else "start_time"]["aria_sort"] == "descending"


@pytest.mark.parametrize("sort", ["--charge", "display_name", "nonsense", "charge;drop table", "-", "", "rating"])
def test_a_sort_value_that_names_no_sortable_column_shows_the_default_order(client, reports_reader, mixed, sort):
    client.force_login(reports_reader)
    response = client.get(REPORT, {"range": "7", "sort": sort})
    assert response.status_code == 200
    assert headers(response)["start_time"]["aria_sort"] == "descending"
    rows = response.context["page"].rows
    assert [r.pk for r in rows] == expected_order(rows, "start_time", True)


def test_a_cursor_made_for_another_column_or_by_hand_starts_from_the_first_page(client, reports_reader, mixed):
    client.force_login(reports_reader)
    by_time = client.get(REPORT, {"range": "7"}).context["page"]
    first_by_charge = [r.pk for r in client.get(REPORT, {"range": "7", "sort": "-charge"}).context["page"].rows]
    for cursor in (by_time.next_cursor, Cursor.encode("not a number", 1, 50), Cursor.encode(None, 1, 50)):
        for direction in ("after", "before"):
            response = client.get(REPORT, {"range": "7", "sort": "-charge", direction: cursor})
            assert response.status_code == 200
            assert [r.pk for r in response.context["page"].rows] == first_by_charge
    naive = Cursor.encode("2020-01-01T00:00:00", 10**9, 1)
    assert client.get(REPORT, {"range": "7", "sort": "duration", "after": naive}).status_code == 200
    assert client.get(REPORT, {"range": "7", "after": naive}).status_code == 200


def test_sorting_reads_and_counts_only_the_organizations_own_records(client, outsider, reports_reader, mixed, other_org, small_limit):
    # The other organization has a few records; this one's 67 neither show there nor make it too large to sort.
    import_graph_payload(other_org, page([graph_call(upn="zed@fabrikam.test", start=at(1, m), seconds=5000) for m in range(3)]), "pstn")
    client.force_login(outsider)
    response = client.get(REPORT, {"range": "7", "sort": "-charge"})
    assert response.status_code == 200 and response.context["sort_hint"] == ""
    assert {r.organization_id for r in response.context["page"].rows} == {other_org.pk}
    assert len(response.context["page"].rows) == 3
    client.force_login(reports_reader)
    own = client.get(REPORT, {"range": "7", "user": "hank@contoso.test", "sort": "-duration"}).context["page"].rows
    assert own and all(r.organization_id != other_org.pk for r in own)
    assert not SmsRecord.objects.filter(organization=other_org).exists()


@pytest.mark.parametrize("sort", ["-charge", "upn", "-start_time"])
def test_a_sorted_page_takes_the_same_few_queries(client, reports_reader, mixed, django_assert_max_num_queries, sort):
    client.force_login(reports_reader)
    client.get(REPORT)
    with django_assert_max_num_queries(9):
        assert client.get(REPORT, {"range": "7", "sort": sort, "page": "last"}).status_code == 200
    with django_assert_max_num_queries(10):
        assert client.get(REPORT, {"range": "7", "sort": sort, "charged": "yes"}).status_code == 200
