"""Hostile JSON: nested too deeply for the parser, or too large, answers a JSON error, never a 500
page, and imports nothing."""

import io
import json

import pytest
from django.urls import reverse

from tests.usage.factories import graph_call, page
from usage.models import CallRecord, ImportBatch
from usage.services.api_keys import create_api_key
from usage.services.ingest import ImportRejected, import_file

pytestmark = pytest.mark.django_db

DEPTH = 100_000
NESTED_ARRAYS = "[" * DEPTH + "]" * DEPTH
NESTED_OBJECTS = '{"value": ' * DEPTH + "[]" + "}" * DEPTH


@pytest.fixture
def key(org):
    return create_api_key(organization=org, name="Graph forwarder")[1]


def send(client, method, url, body, key):
    return client.generic(method.upper(), url, data=body, content_type="application/json", headers={"Authorization": f"Bearer {key}"})


@pytest.mark.parametrize("body", [NESTED_ARRAYS, NESTED_OBJECTS], ids=["arrays", "objects"])
@pytest.mark.parametrize("endpoint", ["usage_api:pstn_calls", "usage_api:sms"])
def test_json_nested_100000_levels_deep_answers_400_with_a_json_error(client, org, rates, key, endpoint, body):
    response = send(client, "post", reverse(endpoint), body, key)
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    (error,) = response.json()["errors"]
    assert response.json()["imported"] is False and "nested too deeply" in error["problem"]
    assert not CallRecord.objects.exists() and not ImportBatch.objects.exists()


@pytest.mark.parametrize("method", ["post", "put", "delete"])
def test_the_authorization_endpoint_answers_a_nested_body_with_json_not_a_500(client, org, key, method):
    response = send(client, method, reverse("usage_api:authorize"), NESTED_ARRAYS, key)
    assert response.status_code == 405 and response["Allow"] == "GET, HEAD, OPTIONS"
    assert response.json()["error"] == "method_not_allowed"
    # A GET reads its query string only: the body is never parsed.
    read = send(client, "get", reverse("usage_api:authorize") + "?user=alice%40contoso.test", NESTED_ARRAYS, key)
    assert read.status_code == 400 and read.json()["error"] == "bad_request"


def test_a_body_over_the_upload_limit_answers_413_with_a_json_error_before_it_is_read(client, org, rates, key, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    body = json.dumps(page([graph_call() for _ in range(20)]))
    assert len(body) > 10_000
    response = send(client, "post", reverse("usage_api:pstn_calls"), body, key)
    assert response.status_code == 413 and response["Content-Type"] == "application/json"
    assert "larger than 10,000 bytes" in response.json()["errors"][0]["problem"]
    assert not CallRecord.objects.exists()


def test_a_body_within_the_limit_is_still_imported(client, org, people, rates, key, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100_000
    response = send(client, "post", reverse("usage_api:pstn_calls"), json.dumps(page([graph_call()])), key)
    assert response.status_code == 201 and CallRecord.objects.count() == 1


@pytest.mark.parametrize(("name", "data"), [("calls.json", NESTED_ARRAYS), ("calls.jsonl", NESTED_ARRAYS + "\n")])
def test_an_uploaded_json_file_nested_too_deeply_is_refused_by_the_service(org, rates, name, data):
    with pytest.raises(ImportRejected) as refused:
        import_file(org, io.BytesIO(data.encode()), name, "pstn")
    assert "nested too deeply" in str(refused.value)
    assert not ImportBatch.objects.exists()
