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
from usage.models import ApiToken, CallRecord, ImportBatch
from usage.openapi import SCHEMA
from usage.services.api_keys import create_api_key

pytestmark = pytest.mark.django_db

PSTN, SMS, AUTHORIZE = "/api/usage/pstn-calls/", "/api/usage/sms/", "/api/usage/authorize/"
RATE_LOOKUP = "/api/usage/rate-lookup/"


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
    Exchange(RATE_LOOKUP, "get", 200, "a number and a user", query={"number": "+44 20 7946 0958", "user": "carol@contoso.test"}),
    Exchange(RATE_LOOKUP, "get", 200, "a number no rate prices", query={"number": "+81 3-1234-5678"}),
    Exchange(RATE_LOOKUP, "get", 200, "a country and a number type", query={"country": "DE", "number_type": "mobile"}),
    Exchange(RATE_LOOKUP, "get", 400, "a number that is not one", query={"number": "call me"}),
    Exchange(RATE_LOOKUP, "get", 401, "no key", query={"number": "+12065550100"}, key="none"),
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
    assert {reverse(f"usage_api:{name}") for name in ("pstn_calls", "sms", "authorize", "rate_lookup")} <= set(SCHEMA["paths"])


@pytest.mark.parametrize("exchange", EXCHANGES, ids=lambda e: f"{e.method.upper()} {e.path} {e.status} {e.what}")
def test_each_answer_is_what_the_document_says(client, org, people, rates, funded, key, settings, exchange):
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


# Findings of schemathesis in the Graph reader and the import's error list: each is a 400 naming the
# page or row and the key, and nothing is written.


def post(client, key, body):
    return client.post(PSTN, data=json.dumps(body), content_type="application/json", headers={"Authorization": f"Bearer {key}"})


def where(response):
    return [(e["row"], e["column"]) for e in response.json()["errors"]]


def test_a_list_of_pages_with_a_page_whose_value_is_not_a_list_is_refused_with_400(client, org, key):
    response = post(client, key, [page([graph_call()]), {"@odata.context": "", "value": None}])
    assert response.status_code == 400 and where(response) == [("[1]", "value")]
    assert not CallRecord.objects.exists() and not ImportBatch.objects.exists()


@pytest.mark.parametrize(("body", "row"), [({"@odata.context": None, "value": []}, ""), ([{"@odata.context": 5, "value": []}], "[0]")])
def test_a_page_whose_odata_context_is_not_text_is_refused_with_400(client, org, key, body, row):
    response = post(client, key, body)
    assert response.status_code == 400 and where(response) == [(row, "@odata.context")]


def test_no_more_than_50_problems_are_listed_as_the_document_and_docs_usage_md_say(client, org, key):
    response = post(client, key, page([graph_call(duration=-1, callType="9", startDateTime="x") for _ in range(30)]))
    assert response.status_code == 400 and response.json()["truncated"] is True
    assert len(response.json()["errors"]) == 50
    # Three problems a row: the first 50 are those of rows 0 to 15 and two of row 16's.
    assert [row for row, _ in where(response)][-3:] == ["value[15]", "value[16]", "value[16]"]


def test_a_row_value_that_is_an_object_or_a_list_is_refused_with_its_row_and_column(client, org, people, key):
    response = post(client, key, page([graph_call(userDisplayName={"first": "Alice"}), graph_call(callId=["a", "b"]), graph_call()]))
    assert response.status_code == 400
    assert where(response) == [("value[0]", "userDisplayName"), ("value[1]", "callId")]
    assert "JSON object or list" in response.json()["errors"][0]["problem"]
    assert not CallRecord.objects.exists() and not ImportBatch.objects.exists()


@pytest.mark.parametrize("time", ["0001-01-01T00:05:00+02:24", "9999-12-31T23:59:59-01:00"])
def test_a_time_whose_utc_leaves_the_calendar_is_refused_with_400(client, org, people, key, time):
    response = post(client, key, page([graph_call(), graph_call(startDateTime=time, endDateTime=None)]))
    assert response.status_code == 400 and where(response) == [("value[1]", "startDateTime")]
    assert "outside the calendar" in response.json()["errors"][0]["problem"]
    assert not CallRecord.objects.exists() and not ImportBatch.objects.exists()


def test_a_key_the_import_does_not_read_is_ignored_whatever_it_holds(client, org, people, key):
    # `currency` is documented as not read, with no type: an object there is no reason to refuse the row.
    response = post(client, key, page([graph_call(currency={"code": "USD"}, unknownKey=[1, 2])]))
    assert response.status_code == 201 and CallRecord.objects.count() == 1
