"""Every query of tenant data that the pages and the tasks issue names its organization (issue 12,
"Beyond one machine"): the condition Citus needs to send a statement to one shard (docs/scaling.md).

The site's pages are walked as the tenant's Global Administrator with the URL walk's declarations
(tests/site/url_walk_routes.py: every URL, its calls and their data), the API with the tenant's key;
the tasks run eagerly in tests, so the walk's imports (rating, the spend guard, detection), exports,
auto-recharge rounds and deliveries run their services too, and the beat's periodic tasks are run
after it. Every statement is captured and judged by tests/site/tenant_scope.py.
"""

import json
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from billing import tasks as billing_tasks
from billing.choices import PaymentPurpose, PaymentStatus
from billing.models import Payment
from credits_site import tasks as site_tasks
from notifications import tasks as notification_tasks
from tests.factories import arm, spend
from tests.site.tenant_scope import REFERENCE_MODELS, judge, tenant_tables, unclassified_models
from tests.site.test_url_walk import OTHER_MARKER, TENANT_MARKER, send, walk_calls
from tests.site.url_walk_routes import Who, seed_organization
from tests.usage.factories import graph_call, graph_sms, page
from usage import tasks as usage_tasks
from usage.models import CallRecord, Export
from usage.services.api_keys import create_api_key
from usage.services.report_delivery import deliver_due_reports
from usage.services.retention import purge_expired_usage

pytestmark = pytest.mark.django_db(transaction=True)

# What may touch tenant tables without naming one organization, and why. Each entry: (where, a
# pattern of the statement, the reason). "where" is "page" (a request) or "task" (the beat's tasks).
ALLOWED = [
    # The beat's sweeps find due work across every organization, by design: one query per sweep.
    # Under Citus these are multi-shard queries run once a few minutes, not per request.
    ("task", r'FROM "billing_autorechargestate"', "the auto-recharge sweep finds the accounts due"),
    ("task", r'FROM "billing_creditaccount"', "the reconciliation and expiry runs read every account"),
    ("task", r'FROM "billing_ledgerentry"', "reconciliation sums every ledger; expiry finds lots past their date"),
    ("task", r'FROM "billing_creditlot"', "expiry finds the lots past their date in every account"),
    ("task", r'FROM "billing_payment"', "the funding retry and reconciliation find payments in every account"),
    ("task", r'FROM "billing_reconciliationmismatch"', "reconciliation's open mismatches, across accounts"),
    ("task", r'FROM "notifications_delivery"', "the outbox sweep finds pending deliveries of every organization"),
    ("task", r'FROM "usage_export"', "the export sweeps find waiting and expired exports of every organization"),
    ("task", r'FROM "usage_reportsubscription"', "scheduled reports find the subscriptions due"),
    ("task", r'SELECT "billing_organization"."id" AS "pk" FROM "billing_organization" ORDER BY',
     "the retention purge lists the organizations, then purges each through statements that name it"),
    # Signing in and choosing an organization: a person's memberships span organizations.
    ("page", r'FROM "billing_membership"', "a person's memberships (the organization switcher, sign-in)"),
    # The API authenticates by its key before it knows the organization (the key's hash is unique).
    ("page", r'FROM "usage_apitoken" .*"key_hash" = ', "the API key is looked up by its hash, which names the tenant"),
    # Unique across the site today; under Citus unique per organization (docs/scaling.md, "What would change").
    ("page", r'FROM "billing_payment" WHERE "billing_payment"."idempotency_key" = ',
     "Add funds finds its payment by idempotency key, unique across the site (then checks the account)"),
    ("any", r'FROM "notifications_delivery" .*WHERE \("notifications_delivery"."claim_token" = ',
     "a delivery batch is read back by its claim token, a random value of one claim (deliveries run in the request in tests)"),
    ("task", r'UPDATE "notifications_delivery" SET "status" = \'pending\', "claim_token" = NULL',
     "the outbox sweep releases claims left by a dead worker, in every organization"),
]


def test_every_model_is_a_tenant_table_a_reference_table_or_the_sites_own():
    assert unclassified_models() == [], "classify these models in tests/site/tenant_scope.py"
    assert not set(REFERENCE_MODELS) & set(tenant_tables()), "a reference model cannot hold a tenant's rows"


# --- The checker itself: it must catch an unscoped statement -------------------------------------------


@pytest.mark.parametrize(
    "sql",
    [
        'SELECT "usage_callrecord"."id" FROM "usage_callrecord" WHERE "usage_callrecord"."start" >= \'2026-01-01\'',
        'SELECT COUNT(*) FROM "usage_callrecord" INNER JOIN "usage_person" ON ("usage_callrecord"."person_id" = "usage_person"."id")',
        'UPDATE "usage_export" SET "status" = \'failed\' WHERE "usage_export"."status" = \'running\'',
        'DELETE FROM "billing_ledgerentry" WHERE "billing_ledgerentry"."kind" = \'usage\'',
        'SELECT "x"."id" FROM "usage_person" "x" WHERE "x"."organization_id" = "x"."id"',
        'INSERT INTO "notifications_delivery" ("recipient_id", "status") VALUES (1, \'pending\')',
        'UPDATE "usage_export" SET "organization_id" = 5 WHERE "usage_export"."status" = \'running\'',
    ],
)
def test_the_checker_finds_a_statement_that_names_no_organization(sql):
    verdict = judge(sql)
    assert verdict is not None and not verdict.scoped


@pytest.mark.parametrize(
    "sql",
    [
        'SELECT "usage_callrecord"."id" FROM "usage_callrecord" WHERE "usage_callrecord"."organization_id" = 7',
        'SELECT * FROM "usage_callrecord" WHERE ("usage_callrecord"."organization_id" IN (7, 8) AND "start" > 1)',
        'SELECT * FROM "billing_ledgerentry" WHERE "billing_ledgerentry"."account_id" = 3 ORDER BY "id"',
        'INSERT INTO "usage_export" ("organization_id", "kind") VALUES (7, \'pstn\')',
        'SELECT * FROM "billing_organization" WHERE "billing_organization"."id" = 7',
        'SELECT * FROM "notifications_delivery" INNER JOIN "notifications_event" ON (1=1) WHERE "notifications_event"."organization_id" = 7',
    ],
)
def test_the_checker_accepts_a_statement_that_names_its_organization(sql):
    assert judge(sql).scoped


def test_the_checker_ignores_tables_of_no_tenant():
    assert judge('SELECT * FROM "auth_user" WHERE "auth_user"."username" = \'a\'') is None
    assert judge('SELECT * FROM "usage_rate" WHERE "usage_rate"."prefix" = \'1\'') is None


# --- The walk -----------------------------------------------------------------------------------------------


def allowed(where, sql, used):
    for place, pattern, reason in ALLOWED:
        if place in (where, "any") and re.search(pattern, sql):
            used.add(reason)
            return reason
    return None


def findings(where, captured, tables, used):
    """The statements of `captured` that touch a tenant table without naming one organization and
    are not allowed, as lines; and those naming one row by its id only."""
    unscoped, by_key = [], []
    for query in captured:
        verdict = judge(query["sql"], tables)
        if verdict is None or verdict.scoped or allowed(where, query["sql"], used):
            continue
        (by_key if verdict.by_row_id else unscoped).append(f"{where}: {query['sql']}")
    return unscoped, by_key


@pytest.fixture
def worlds(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    tenant = seed_organization("Contoso", TENANT_MARKER, slug="contoso-walk")
    other = seed_organization("Fabrikam", OTHER_MARKER, slug="outsider")
    return tenant, other


def walk_as_admin(client, tenant):
    _token, key = create_api_key(organization=tenant.organization, name="scope", actor=tenant.admin)
    client.force_login(tenant.admin)
    for name, route, call in walk_calls():
        who = route.who.get(call.method)
        if who is None or (who is Who.ANYONE and name != "home"):
            continue  # a refusal or a page of no tenant (sign-in, health)
        url = reverse(name, kwargs=route.url_kwargs(tenant))
        if who is Who.API_KEY:
            call_api(client, name, url, call, tenant, key)
            continue
        response = send(client, url, call, tenant)
        if response.streaming:
            b"".join(response.streaming_content)
        response.close()


def call_api(client, name, url, call, tenant, key):
    """The usage API with the tenant's key: a Graph page of one record for the two imports."""
    headers = {"Authorization": f"Bearer {key}"}
    if call.method == "GET":
        response = client.get(url, call.query, headers=headers)
    else:
        start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=2)
        record = graph_sms(upn=tenant.upn, start=start) if name == "usage_api:sms" else graph_call(upn=tenant.upn, start=start)
        body = page([record], sms=True) if name == "usage_api:sms" else page([record])
        response = client.post(url, data=json.dumps(body), content_type="application/json", headers=headers)
    assert response.status_code in (200, 201), f"{name}: {response.status_code} {response.content[:200]}"


def recharge_round(tenant):
    """Auto-recharge on, then a usage charge below its trigger: the round's task runs on commit."""
    account = arm(tenant.organization, tenant.card, tenant.admin, balance=None, amount="50.00", trigger="20.00")
    spend(account, account.balance - Decimal("5.00"))
    assert Payment.objects.filter(account=account, purpose=PaymentPurpose.RECHARGE, status=PaymentStatus.SUCCEEDED).exists()


def run_the_beat():
    billing_tasks.sweep_auto_recharge_task()
    billing_tasks.retry_pending_fundings_task()
    billing_tasks.reconcile_ledgers_task()
    billing_tasks.expire_credits_task()
    billing_tasks.warn_expiring_cards_task()
    notification_tasks.send_pending_deliveries_task()
    usage_tasks.build_waiting_exports_task()
    usage_tasks.delete_expired_exports_task()
    deliver_due_reports(now=datetime.now(UTC) + timedelta(days=8))
    site_tasks.clear_expired_sessions_task()
    usage_tasks.purge_expired_usage_task()
    # As if two years went by: every record and per-day figure has expired, so the purge's deletes run too.
    purge_expired_usage(today=datetime.now(UTC).date() + timedelta(days=800))


def test_every_query_of_tenant_data_from_the_pages_and_the_tasks_names_its_organization(client, worlds):
    tenant, _other = worlds
    tables = tenant_tables()
    with CaptureQueriesContext(connection) as pages:
        walk_as_admin(client, tenant)
    Export.objects.update(expires_at=datetime.now(UTC) - timedelta(days=1))  # for the clean-up
    with CaptureQueriesContext(connection) as beat:
        recharge_round(tenant)
        run_the_beat()
    used = set()
    unscoped, by_row_id = findings("page", pages.captured_queries, tables, used)
    task_unscoped, task_by_row_id = findings("task", beat.captured_queries, tables, used)
    assert len(pages.captured_queries) > 500 and len(beat.captured_queries) > 20, "the walk and the beat ran"
    assert unscoped + task_unscoped == [], "these statements name no organization:\n" + "\n".join(unscoped + task_unscoped)
    # Each exception is still needed: one that matches nothing any more is removed from ALLOWED.
    assert {reason for _place, _pattern, reason in ALLOWED} - used == set()
    # Not asserted, and listed in docs/scaling.md as what Citus could not route to one shard yet: a
    # statement naming a row by its id alone (Django's save() and delete(), the claims of deliveries and
    # exports by id), always of a row first read through its organization.
    del by_row_id, task_by_row_id


def test_an_unscoped_orm_query_is_caught_as_the_walk_would_catch_it():
    """What the walk's assertion reports when a page or task forgets its organization."""
    with CaptureQueriesContext(connection) as captured:
        list(CallRecord.objects.filter(upn="someone@example.test"))
        list(CallRecord.objects.filter(organization_id=1, upn="someone@example.test"))
    unscoped, _by_row_id = findings("page", captured.captured_queries, tenant_tables(), set())
    assert len(unscoped) == 1 and '"usage_callrecord"."upn" = ' in unscoped[0]
