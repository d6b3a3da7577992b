"""The JSON endpoints answer as their OpenAPI document (usage/openapi.json) says: every documented
status of every operation is produced here by a real request, and its body is validated against the
document's own schema for it; the requests sent are valid against the document's request schemas."""

import json
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from django.urls import reverse
from jsonschema import Draft202012Validator

from tests.usage.factories import graph_call, graph_sms, page
from usage.models import ApiToken
from usage.openapi import SCHEMA
from usage.services.api_keys import create_api_key

pytestmark = pytest.mark.django_db

PSTN, SMS, AUTHORIZE = "/api/usage/pstn-calls/", "/api/usage/sms/", "/api/usage/authorize/"


def pointer(*parts):
    """A JSON pointer into the document (RFC 6901: "~" and "/" escaped)."""
    return "#/" + "/".join(str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def validator_for(*parts):
    """A validator of the schema at `parts`, whose $refs resolve in the whole document."""
    return Draft202012Validator({**SCHEMA, "$ref": pointer(*parts)})


def errors_of(validator, instance):
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(instance)]


@pytest.fixture
def key(org):
    return create_api_key(organization=org, name="Graph forwarder")[1]


@dataclass(frozen=True)
class Exchange:
    """One documented answer and the request that produces it."""

    path: str
    method: str
    status: int
    what: str
    body: object = None  # JSON to send, or bytes sent as they are
    sent_before: bool = False  # the same body is sent once first
    query: dict = None
    key: str = "valid"  # "valid", "none" or "revoked"
    body_limit: int | None = None  # settings.DATA_UPLOAD_MAX_MEMORY_SIZE for this request


EXCHANGES = [
    Exchange(PSTN, "post", 201, "new calls are imported", page([graph_call(), graph_call(call_type="user_in")])),
    Exchange(PSTN, "post", 200, "calls already imported are skipped", page([graph_call()]), sent_before=True),
    Exchange(PSTN, "post", 400, "a negative duration is refused with its row and column", page([graph_call(duration=-5)])),
    Exchange(PSTN, "post", 400, "a page of no rows is refused", page([])),
    Exchange(PSTN, "post", 400, "a body that is not JSON is refused", b"{not json"),
    Exchange(PSTN, "post", 401, "no key", page([graph_call()]), key="none"),
    Exchange(PSTN, "post", 401, "a revoked key", page([graph_call()]), key="revoked"),
    Exchange(PSTN, "post", 413, "a body over the server's limit", page([graph_call()]), body_limit=100),
    Exchange(SMS, "post", 201, "new SMS are imported", [page([graph_sms()], sms=True)]),
    Exchange(SMS, "post", 200, "SMS already imported are skipped", [graph_sms()], sent_before=True),
    Exchange(SMS, "post", 400, "an SMS without its type is refused", [graph_sms(smsType=None)]),
    Exchange(SMS, "post", 401, "no key", [graph_sms()], key="none"),
    Exchange(SMS, "post", 413, "a body over the server's limit", [graph_sms()], body_limit=100),
    Exchange(AUTHORIZE, "get", 200, "a user of the organization", query={"user": "alice@contoso.test", "number": "+12065550100"}),
    Exchange(AUTHORIZE, "get", 200, "someone the organization does not know", query={"user": "x@else.test", "number": "+12065550100"}),
    Exchange(AUTHORIZE, "get", 400, "no number", query={"user": "alice@contoso.test"}),
    Exchange(AUTHORIZE, "get", 401, "no key", query={"user": "alice@contoso.test", "number": "+1"}, key="none"),
    Exchange("/api/usage/openapi.json", "get", 200, "the document itself, without a key", key="none"),
]


def test_every_documented_answer_of_every_operation_is_exercised():
    documented = {
        (path, method, int(status))
        for path, operations in SCHEMA["paths"].items()
        for method, operation in operations.items()
        for status in operation["responses"]
    }
    assert documented == {(e.path, e.method, e.status) for e in EXCHANGES}


def test_the_document_and_each_of_its_schemas_are_well_formed():
    assert SCHEMA["openapi"].startswith("3.1")
    for name, schema in SCHEMA["components"]["schemas"].items():
        Draft202012Validator.check_schema(schema)
    assert reverse("usage_api:openapi") in SCHEMA["paths"]
    assert {reverse(f"usage_api:{name}") for name in ("pstn_calls", "sms", "authorize")} <= set(SCHEMA["paths"])


@pytest.mark.parametrize("exchange", EXCHANGES, ids=lambda e: f"{e.method.upper()} {e.path} {e.status} {e.what}")
def test_each_answer_is_what_the_document_says(client, org, people, funded, key, settings, exchange):
    operation = SCHEMA["paths"][exchange.path][exchange.method]
    headers = {}
    if exchange.key == "revoked":
        ApiToken.objects.update(revoked_at=datetime.now(UTC))
    if exchange.key != "none":
        headers["Authorization"] = f"Bearer {key}"
    if exchange.body_limit:
        settings.DATA_UPLOAD_MAX_MEMORY_SIZE = exchange.body_limit
    if exchange.method == "get":
        response = client.get(exchange.path, exchange.query or {}, headers=headers)
    else:
        body = exchange.body
        if not isinstance(body, bytes):
            # What is accepted is described by the document; what is refused is outside it.
            request_schema = ("paths", exchange.path, exchange.method, "requestBody", "content", "application/json", "schema")
            assert bool(errors_of(validator_for(*request_schema), body)) == (exchange.status == 400), "the body sent"
            body = json.dumps(body).encode()
        if exchange.sent_before:
            client.post(exchange.path, data=body, content_type="application/json", headers=headers)
        response = client.post(exchange.path, data=body, content_type="application/json", headers=headers)

    assert response.status_code == exchange.status, response.content[:500]
    documented = operation["responses"][str(exchange.status)]
    assert response["Content-Type"] == "application/json"
    answer = ("paths", exchange.path, exchange.method, "responses", str(exchange.status), "content", "application/json", "schema")
    assert errors_of(validator_for(*answer), response.json()) == []
    for header, spec in documented.get("headers", {}).items():
        assert errors_of(Draft202012Validator(spec["schema"]), response[header]) == [], header


def test_the_document_is_served_as_kept_in_the_repository_to_anyone(client):
    response = client.get(reverse("usage_api:openapi"))
    assert response.status_code == 200 and response.json() == SCHEMA
    assert client.post(reverse("usage_api:openapi")).status_code == 405


# Findings of schemathesis in the Graph reader (usage/services/sources.py, the upload-hardening work):
# pinned here as the right behaviour. tests/usage/test_openapi_schemathesis.py leaves the inputs that
# answer 500 out (is_a_known_import_bug) until the fix lands; then these tests pass, and the marks and
# that filter are to be removed.
READER_FIX = "usage/services/sources.py (upload hardening) reads this shape wrongly; reported to the lead"


@pytest.mark.xfail(strict=True, reason=f"500: a page of a list whose value is not a list; {READER_FIX}")
def test_a_list_of_pages_with_a_page_whose_value_is_not_a_list_is_refused_with_400(client, org, key):
    body = json.dumps([{"@odata.context": "", "value": None}])
    response = client.post(PSTN, data=body, content_type="application/json", headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 400 and response.json()["errors"][0]["column"] == "value"


@pytest.mark.xfail(strict=True, reason=f"500: an @odata.context that is not text; {READER_FIX}")
@pytest.mark.parametrize("body", [{"@odata.context": None, "value": []}, [{"@odata.context": 5, "value": []}]])
def test_a_page_whose_odata_context_is_not_text_is_refused_with_400(client, org, key, body):
    response = client.post(PSTN, data=json.dumps(body), content_type="application/json", headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 400


@pytest.mark.xfail(strict=True, reason="usage/services/ingest/pipeline.py adds a row's errors before counting: 51+ listed")
def test_no_more_than_50_problems_are_listed_as_the_document_and_docs_usage_md_say(client, org, key):
    body = json.dumps(page([graph_call(duration=-1, callType="9", startDateTime="x") for _ in range(30)]))
    response = client.post(PSTN, data=body, content_type="application/json", headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 400 and response.json()["truncated"] is True
    assert len(response.json()["errors"]) == 50


@pytest.mark.xfail(strict=True, reason=f"201: an object or list value is stored as its Python text; {READER_FIX}")
def test_a_row_value_that_is_an_object_or_a_list_is_refused_with_its_row_and_column(client, org, people, key):
    body = json.dumps(page([graph_call(userDisplayName={"first": "Alice"}), graph_call(callId=["a", "b"])]))
    response = client.post(PSTN, data=body, content_type="application/json", headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 400
    assert [(e["row"], e["column"]) for e in response.json()["errors"]] == [("value[0]", "userDisplayName"), ("value[1]", "callId")]
