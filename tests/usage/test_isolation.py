"""Tenant isolation of every usage URL: another organization's records, reports and exports are never seen."""

from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.usage.factories import graph_call, page
from usage.models import Export
from usage.selectors import parameters_for
from usage.services.exports.jobs import build_export
from usage.services.exports.requesting import request_export
from usage.services.ingest import import_graph_payload

pytestmark = pytest.mark.django_db


@pytest.fixture
def theirs(org, people, rates, reports_reader, settings, tmp_path):
    """The organization's calls and a finished export of them."""
    settings.MEDIA_ROOT = str(tmp_path / "media")
    start = datetime.now(UTC).replace(hour=9, minute=0, second=0, microsecond=0) - timedelta(days=1)
    import_graph_payload(org, page([graph_call(start=start), graph_call(start=start)]), "pstn")
    export = request_export(
        organization=org, user=reports_reader, export_format="xlsx",
        parameters=parameters_for("pstn", start.date(), start.date(), {}), rows_total=2,
    )
    build_export(export.pk)
    return Export.objects.get(pk=export.pk)


def test_an_outsider_sees_none_of_another_organizations_calls(client, outsider, theirs):
    client.force_login(outsider)
    for name in ("usage:report", "usage:sms_report"):
        response = client.get(reverse(name), {"range": "7"})
        assert response.status_code == 200
        assert response.context["summary"].records == 0 and response.context["page"].rows == []
        assert response.context["page"].rows == []
    assert client.get(reverse("usage:report"), {"user": "alice@contoso.test"}).context["page"].rows == []


@pytest.mark.parametrize("name", ["usage:export", "usage:export_file"])
def test_another_tenants_export_id_is_404(client, outsider, theirs, name):
    client.force_login(outsider)
    assert client.get(reverse(name, args=[theirs.public_id])).status_code == 404


def test_the_owner_can_open_the_same_export(client, reports_reader, theirs):
    client.force_login(reports_reader)
    assert client.get(reverse("usage:export", args=[theirs.public_id])).status_code == 200
    assert client.get(reverse("usage:export_file", args=[theirs.public_id])).status_code == 200


def test_downloads_list_only_the_organizations_own_exports(client, outsider, theirs):
    client.force_login(outsider)
    html = client.get(reverse("usage:downloads")).content.decode()
    assert str(theirs.public_id) not in html and "No exports in the last 7 days" in html


def test_an_outsiders_export_holds_only_their_own_rows(client, outsider, theirs):
    client.force_login(outsider)
    response = client.post(reverse("usage:export_create", args=["pstn"]), {"format": "csv_zip", "query": "range=90"})
    import io
    import zipfile

    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    assert [n for n in archive.namelist() if n.endswith(".csv")] == []


def test_an_outsider_cannot_reach_the_import_or_the_recommendation_of_another_tenant(client, outsider, theirs, org):
    client.force_login(outsider)
    advice = client.get(reverse("usage:recommendation")).context["advice"]
    assert advice.coverage.minutes == 0  # their own (empty) usage, not Contoso's


@pytest.mark.parametrize(
    "name,args",
    [("usage:report", []), ("usage:sms_report", []), ("usage:downloads", []), ("usage:import", []), ("usage:recommendation", []),
     ("usage:api_keys", []), ("usage:api_key_created", []), ("usage:api_key_revoke", [1])],
)
def test_signed_out_visitors_are_sent_to_sign_in(client, name, args):
    response = client.get(reverse(name, args=args))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_unknown_report_kinds_and_export_ids_are_404(client, reports_reader, theirs):
    client.force_login(reports_reader)
    assert client.post(reverse("usage:edit_columns", args=["fax"]), {}).status_code == 404
    assert client.post(reverse("usage:export_create", args=["fax"]), {}).status_code == 404
    Export.objects.filter(pk=theirs.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    assert client.get(reverse("usage:export_file", args=[theirs.public_id])).status_code == 404
