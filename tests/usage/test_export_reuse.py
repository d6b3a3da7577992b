"""An export asked for again, with nothing imported since, is handed out instead of built again."""

from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone

from tests.usage.factories import graph_call, page, today_at
from tests.usage.test_exports import export_post, save
from tests.usage.xlsx_reader import read_workbook
from usage.models import Export, RatingState
from usage.selectors import parameters_for
from usage.services.exports.jobs import build_export
from usage.services.exports.requesting import reusable_export
from usage.services.ingest import import_graph_payload
from usage.services.retention import _mark_purged

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def background(settings, tmp_path):
    settings.USAGE_EXPORT_IMMEDIATE_ROWS = 5
    settings.MEDIA_ROOT = str(tmp_path / "media")


def test_the_same_export_asked_for_again_is_the_one_already_built(client, reports_reader, calls, background):
    client.force_login(reports_reader)
    first = export_post(client, fmt="csv_zip", range="28")
    built = Export.objects.get()
    assert built.status == "done" and built.usage_version == RatingState.objects.get(organization=built.organization).usage_version

    again = export_post(client, fmt="csv_zip", range="28")

    assert Export.objects.count() == 1
    assert again.status_code == 302 and again["Location"] == first["Location"] == reverse("usage:export", args=[built.public_id])
    (message,) = [str(m) for m in get_messages(again.wsgi_request)][-1:]
    assert "no usage has been imported since" in message


def test_an_import_since_the_build_makes_the_next_request_build_again_with_the_new_records(
    client, reports_reader, calls, org, background, tmp_path
):
    client.force_login(reports_reader)
    export_post(client, range="28")
    import_graph_payload(org, page([graph_call(start=today_at(1, 11), seconds=30)]), "pstn")

    export_post(client, range="28")

    old, new = Export.objects.order_by("pk")
    assert new.status == "done" and new.usage_version == old.usage_version + 1
    path = save(client.get(reverse("usage:export_file", args=[new.public_id])), tmp_path, "new.xlsx")
    assert len(read_workbook(path)["PSTN calls"]) == 1 + 14  # the header, the 13 calls and the new one


def test_an_import_of_nothing_new_still_counts_as_a_change(org, calls, reports_reader, background):
    # Cheaper to build again than to prove an import changed nothing; what matters is never a stale file.
    parameters = parameters_for("pstn", today_at(27).date(), today_at().date(), {})
    export = Export.objects.create(organization=org, created_by=reports_reader, kind="pstn", format="xlsx", parameters=parameters,
                                   rows_total=13, expires_at=timezone.now() + timedelta(days=7))
    build_export(export.pk)
    assert reusable_export(org, "xlsx", parameters) == export
    import_graph_payload(org, page(calls[:1]), "pstn")  # every row a duplicate
    assert reusable_export(org, "xlsx", parameters) is None


@pytest.mark.parametrize("change", ["format", "kind", "range", "filter", "last day", "another organization", "failed"])
def test_only_a_finished_export_of_the_same_organization_records_format_range_and_filters_with_a_day_left_is_reused(
    org, other_org, calls, reports_reader, background, change
):
    parameters = parameters_for("pstn", today_at(27).date(), today_at().date(), {})
    export = Export.objects.create(organization=org, created_by=reports_reader, kind="pstn", format="xlsx", parameters=parameters,
                                   rows_total=13, expires_at=timezone.now() + timedelta(days=7))
    build_export(export.pk)
    asked = dict(organization=org, export_format="xlsx", parameters=parameters)
    assert reusable_export(**asked) == export
    if change == "format":
        asked["export_format"] = "csv_zip"
    elif change == "kind":
        asked["parameters"] = parameters_for("sms", today_at(27).date(), today_at().date(), {})
    elif change == "range":
        asked["parameters"] = parameters_for("pstn", today_at(26).date(), today_at().date(), {})
    elif change == "filter":
        asked["parameters"] = parameters_for("pstn", today_at(27).date(), today_at().date(), {"user": "bob@contoso.test"})
    elif change == "last day":
        Export.objects.filter(pk=export.pk).update(expires_at=timezone.now() + timedelta(hours=23))
    elif change == "another organization":
        asked["organization"] = other_org
    elif change == "failed":
        Export.objects.filter(pk=export.pk).update(status="failed")
    assert reusable_export(**asked) is None


def test_the_cost_allocation_workbook_is_always_built_again(org, calls, reports_reader, background):
    parameters = {**parameters_for("pstn", today_at(27).date(), today_at().date(), {}), "filters": {}}
    export = Export.objects.create(organization=org, created_by=reports_reader, kind="pstn", format="alloc",
                                   parameters=parameters, rows_total=13, expires_at=timezone.now() + timedelta(days=7))
    build_export(export.pk)
    export.refresh_from_db()
    assert export.status == "done"
    assert reusable_export(org, "alloc", parameters) is None


def test_a_purge_counts_as_a_change(org, calls, reports_reader, background):
    parameters = parameters_for("pstn", today_at(27).date(), today_at().date(), {})
    export = Export.objects.create(organization=org, created_by=reports_reader, kind="pstn", format="xlsx", parameters=parameters,
                                   rows_total=13, expires_at=timezone.now() + timedelta(days=7))
    build_export(export.pk)
    _mark_purged(org.pk, timezone.now() - timedelta(days=400))
    assert reusable_export(org, "xlsx", parameters) is None
