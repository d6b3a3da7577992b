"""Built exports in an S3-compatible store (issue 12, "Beyond one machine"): the storage production
selects with EXPORTS_S3_BUCKET (credits_site.settings.base.exports_storage_from_env), against moto's
S3 server on this machine. An export is built into the bucket, downloaded through the site's
download view, and deleted from the bucket by the clean-up, as test_exports.py does on the local disk."""

import socket
from datetime import UTC, datetime, timedelta

import pytest
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from credits_site.settings.base import exports_storage_from_env
from tests.usage.factories import graph_call, page
from tests.usage.xlsx_reader import read_workbook
from usage.models import Export
from usage.selectors import parameters_for
from usage.services.exports.jobs import build_export, delete_expired_exports
from usage.services.exports.requesting import request_export
from usage.services.ingest import import_graph_payload

moto_server = pytest.importorskip("moto.server", reason="moto[server] is not installed: pip install 'moto[server]'")
boto3 = pytest.importorskip("boto3", reason="boto3 (django-storages[s3]) is not installed")

pytestmark = pytest.mark.django_db

BUCKET = "credits-exports"


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def s3_endpoint(monkeypatch):
    """moto's S3 server on a free port, with an empty bucket; its address and a client."""
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_SESSION_TOKEN": "testing", "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(name, value)
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=free_port(), verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    client.create_bucket(Bucket=BUCKET)
    yield endpoint, client
    server.stop()


@pytest.fixture
def s3_storage(s3_endpoint, monkeypatch, settings):
    """The default storage as production builds it from the environment: the bucket, not the disk."""
    endpoint, client = s3_endpoint
    monkeypatch.setenv("EXPORTS_S3_BUCKET", BUCKET)
    monkeypatch.setenv("AWS_S3_ENDPOINT_URL", endpoint)
    monkeypatch.setenv("AWS_S3_REGION_NAME", "us-east-1")
    storage = exports_storage_from_env()
    assert storage["BACKEND"] == "storages.backends.s3.S3Storage"
    with override_settings(STORAGES={**settings.STORAGES, "default": storage}):
        yield client


def keys(client):
    return sorted(item["Key"] for item in client.list_objects_v2(Bucket=BUCKET).get("Contents", []))


def test_without_a_bucket_exports_stay_on_the_local_disk(monkeypatch):
    monkeypatch.delenv("EXPORTS_S3_BUCKET", raising=False)
    assert exports_storage_from_env() == {"BACKEND": "django.core.files.storage.FileSystemStorage"}


def test_an_export_is_built_into_the_bucket_downloaded_through_the_site_and_deleted_by_the_clean_up(
    s3_storage, client, org, people, rates, funded, reports_reader, tmp_path
):
    yesterday = datetime.now(UTC).replace(hour=9, minute=0, second=0, microsecond=0) - timedelta(days=1)
    import_graph_payload(org, page([graph_call(start=yesterday - timedelta(hours=h), seconds=125) for h in range(3)]), "pstn")
    export = request_export(organization=org, user=reports_reader, export_format="xlsx",
                            parameters=parameters_for("pstn", yesterday.date() - timedelta(days=1), yesterday.date(), {}),
                            rows_total=3)
    build_export(export.pk)
    export.refresh_from_db()
    assert export.status == "done"
    (key,) = keys(s3_storage)
    assert key == f"exports/{export.file.name}" and key.endswith(".xlsx")
    stored = s3_storage.get_object(Bucket=BUCKET, Key=key)["Body"].read()

    client.force_login(reports_reader)
    download = client.get(reverse("usage:export_file", args=[export.public_id]))
    assert download.status_code == 200 and download["Content-Disposition"].endswith('.xlsx"')
    body = b"".join(download.streaming_content)
    assert body == stored
    (tmp_path / "s3.xlsx").write_bytes(body)
    assert len(read_workbook(tmp_path / "s3.xlsx")["PSTN calls"]) == 4  # header + 3 calls

    Export.objects.filter(pk=export.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert delete_expired_exports() == 1
    assert keys(s3_storage) == [] and not Export.objects.exists()
