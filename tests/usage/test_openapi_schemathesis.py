"""schemathesis against the live server: requests generated from usage/openapi.json (valid ones and
broken ones), sent with a valid key over HTTP, and every answer checked by schemathesis' checks
(no server error, a documented status, content type, headers and body as documented, invalid input
refused, valid input accepted, 401 without the key, 405 for other methods). Bounded: a few dozen
examples per operation, no deadline per example (the database is real)."""

import os
import re
import uuid
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, settings

from usage.openapi import SCHEMA_PATH
from usage.services.api_keys import create_api_key

schemathesis = pytest.importorskip("schemathesis", reason="schemathesis is a dev dependency: pip install -e '.[dev]'")

# Per operation and phase; a longer hunt: SCHEMATHESIS_MAX_EXAMPLES=500 (random then, see below).
MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "30"))
GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


@pytest.fixture
def usage_key(org, people, rates, funded):
    """A key of an organization with people, rates and a balance, so that valid calls are imported and priced."""
    return create_api_key(organization=org, name="schemathesis")[1]


# The document as the repository keeps it; tests/usage/test_openapi.py holds the served one equal to it.
# (Loading it from the live server would need schemathesis' lazy fixture loader, which pytest 9.2 breaks.)
schema = schemathesis.openapi.from_path(SCHEMA_PATH)
# Unknown query parameters are ignored, as the document says. The same examples on every run of the
# suite, so that CI's verdict follows the code, not luck; a longer hunt draws new ones. The coverage
# phase (every boundary of every field, 20 s more) is left to such hunts too.
schema.config.generation.update(
    allow_extra_parameters=False, database="none", deterministic="SCHEMATHESIS_MAX_EXAMPLES" not in os.environ
)
schema.config.phases.update(phases=["examples", "fuzzing"] + (["coverage"] if "SCHEMATHESIS_MAX_EXAMPLES" in os.environ else []))

# The Graph reader reads every value of a row as text, as Graph's own types vary between versions (a
# duration as 300 or "300", a flag as false or "false"): a number, true or false where text is documented
# is read, not refused (an object or a list is), so "invalid input is refused" is not asked of the two
# import operations. The rest is: no 5xx, documented statuses, bodies and headers, valid input
# accepted, 401 without the key.
LENIENT_READERS = {"/api/usage/pstn-calls/", "/api/usage/sms/"}
# The rate lookup's input is valid when it names a phone number (libphonenumber decides: its country
# code, its length for that country) or a country and number type, which JSON Schema cannot say: a
# generated "number" that is no phone number is refused with 400, as documented. "Valid input is
# accepted" is therefore not asked of it; the rest is, and tests/usage/test_openapi.py sends real numbers.
SEMANTIC_READERS = {"/api/usage/rate-lookup/"}


def pages_of(body):
    """The pages (or rows) of an import body: one page, a list of pages, or a list of rows."""
    return [body] if isinstance(body, dict) else body if isinstance(body, list) else []


def rows_of(body):
    rows = [row for p in pages_of(body) if isinstance(p, dict) for row in (p["value"] if isinstance(p.get("value"), list) else [p])]
    return [row for row in rows if isinstance(row, dict)]


def moment(value):
    try:
        return datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def leaves_the_calendar_in_utc(time):
    try:
        time.astimezone(UTC)
    except OverflowError:
        return True
    return False


@schema.hook
def map_body(context, body):
    """The three rules between values that the document states in words, JSON Schema being unable to:
    a UsageId already imported with another start time is refused (hypothesis repeats values, as it
    shrinks towards the same ones: each valid UsageId is made fresh), a time whose UTC falls outside
    the years 1 to 9999 is refused (0001-01-01T00:04:00+03:00: its offset becomes +00:00; the refusal
    is tested in test_openapi.py), and an end time is not before its start (an earlier one becomes
    the start)."""
    for row in rows_of(body):
        if isinstance(row.get("id"), str) and GUID.fullmatch(row["id"]):
            row["id"] = str(uuid.uuid4())
        for key in ("startDateTime", "endDateTime", "sentDateTime"):
            time = moment(row.get(key))
            if time and time.tzinfo and leaves_the_calendar_in_utc(time):
                row[key] = time.replace(tzinfo=UTC).isoformat()
        start, end = moment(row.get("startDateTime")), moment(row.get("endDateTime"))
        if start and end and start.tzinfo and end.tzinfo and end < start:
            row["endDateTime"] = row["startDateTime"]
    return body


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
def test_the_api_answers_every_generated_request_as_its_schema_says(case, live_server, usage_key):
    excluded = [schemathesis.checks.negative_data_rejection] if case.operation.path in LENIENT_READERS else []
    if case.operation.path in SEMANTIC_READERS:
        excluded.append(schemathesis.checks.positive_data_acceptance)
    case.call_and_validate(base_url=live_server.url, headers={"Authorization": f"Bearer {usage_key}"}, excluded_checks=excluded)
