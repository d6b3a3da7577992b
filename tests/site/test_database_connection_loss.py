"""A request whose database connection is lost between two of its queries (a failover, a restart,
`pg_terminate_backend`): a page is served again on a new connection, anything else answers 503 with
Retry-After, and a purchase sent again after it is charged once (credits_site.middleware)."""

import re
import sqlite3
from decimal import Decimal

import psycopg
import pytest
from django.core.handlers.exception import convert_exception_to_response
from django.db import DatabaseError, InterfaceError, InternalError, OperationalError, connection
from django.http import HttpResponse
from django.test import Client
from django.urls import reverse

from billing.models import Payment
from billing.selectors import credit_account
from credits_site.database import is_connection_loss
from credits_site.middleware import DatabaseConnectionLossMiddleware
from tests.markers import requires_postgres

pytestmark = pytest.mark.django_db(transaction=True)

CREDITS = reverse("billing:credits")
ADD_FUNDS = reverse("billing:add_funds")


def wrapped(django_error, driver_error):
    """A driver's error as Django raises it: its own class, caused by the driver's."""
    try:
        raise django_error(str(driver_error)) from driver_error
    except (DatabaseError, InterfaceError, InternalError) as exc:
        return exc


@pytest.mark.parametrize(
    "error, lost",
    [
        (wrapped(OperationalError, psycopg.errors.AdminShutdown("terminating connection due to administrator command")), True),
        (wrapped(OperationalError, psycopg.OperationalError("server closed the connection unexpectedly")), True),
        (wrapped(InterfaceError, psycopg.InterfaceError("the connection is closed")), True),
        (wrapped(OperationalError, psycopg.errors.ConnectionFailure("connection failure")), True),
        (wrapped(OperationalError, psycopg.errors.IdleSessionTimeout("terminating connection due to idle-session timeout")), True),
        (wrapped(InternalError, psycopg.errors.IdleInTransactionSessionTimeout("terminating connection due to idle-in-transaction timeout")), True),
        (wrapped(OperationalError, psycopg.errors.ConnectionTimeout("connection timeout expired")), True),
        (wrapped(OperationalError, psycopg.OperationalError('connection failed: FATAL:  database "gone" does not exist')), True),
        (wrapped(OperationalError, psycopg.OperationalError("sending query and params failed: number of parameters must be between 0 and 65535")), False),
        (wrapped(OperationalError, psycopg.errors.QueryCanceled("canceling statement due to statement timeout")), False),
        (wrapped(OperationalError, psycopg.errors.LockNotAvailable("canceling statement due to lock timeout")), False),
        (wrapped(OperationalError, sqlite3.OperationalError("database is locked")), False),
        (ValueError("not a database error"), False),
    ],
)
def test_only_a_connection_that_is_gone_counts_as_lost(error, lost):
    assert is_connection_loss(error) is lost


class LoseConnectionBefore:
    """An execute wrapper that loses the database connection just before the first query naming
    `table`, the first `times` times. On PostgreSQL the server ends the connection for real
    (`pg_terminate_backend` from another connection), so the query fails as it would in a failover;
    on SQLite, which has no connection to lose, the query raises the error psycopg raises then."""

    def __init__(self, table, times=1):
        self.table = table
        self.times = times
        self.seen = 0

    def __call__(self, execute, sql, params, many, context):
        if self.table in sql:
            self.seen += 1
            if self.times:
                self.times -= 1
                self.lose(context["connection"])
        return execute(sql, params, many, context)

    @staticmethod
    def lose(conn):
        if conn.vendor != "postgresql":
            raise wrapped(OperationalError, psycopg.OperationalError("server closed the connection unexpectedly"))
        db = conn.settings_dict
        pid = conn.connection.info.backend_pid
        with psycopg.connect(dbname=db["NAME"], user=db["USER"], host=db["HOST"] or "127.0.0.1", port=db["PORT"] or 5432,
                             password=db["PASSWORD"] or None, autocommit=True) as other:
            other.execute("SELECT pg_terminate_backend(%s)", [pid])


@pytest.fixture
def browser(billing_admin):
    """A signed-in client that, like a browser, gets the page the server answers (no exception re-raised)."""
    client = Client(raise_request_exception=False)
    client.force_login(billing_admin)
    return client


def test_a_page_whose_connection_is_lost_partway_is_served_again_on_a_new_connection(browser, funded_account, caplog):
    loss = LoseConnectionBefore("billing_creditaccount")
    with connection.execute_wrapper(loss):
        response = browser.get(CREDITS)

    assert loss.times == 0 and loss.seen >= 2, "the page lost its connection once, then read the account again"
    assert response.status_code == 200
    assert "Communications Credits" in response.content.decode()
    assert "served again on a new connection" in caplog.text


def test_a_page_that_loses_its_connection_on_both_tries_answers_503_with_retry_after(browser, funded_account):
    loss = LoseConnectionBefore("billing_creditaccount", times=2)
    with connection.execute_wrapper(loss):
        response = browser.get(CREDITS)

    assert loss.times == 0
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    page = response.content.decode()
    assert "Try again in a moment" in page and "lost its connection to its database" in page
    # Answered under the security headers' middleware: the page carries them like any other.
    assert "default-src" in response["Content-Security-Policy"]
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"


def test_a_script_asking_for_json_gets_the_503_as_json(browser, funded_account):
    loss = LoseConnectionBefore("billing_creditaccount", times=2)
    with connection.execute_wrapper(loss):
        response = browser.get(CREDITS, headers={"Accept": "application/json"})

    assert response.status_code == 503 and response["Retry-After"] == "5"
    assert response.json() == {"error": "The service lost its connection to its database; try again.", "retry_after": 5}


def test_the_second_try_starts_from_the_request_as_it_came(rf):
    """What the first try attached to the request (a user read before a sign-out, a session) is not
    seen by the second: it starts as the first did."""
    seen = []

    def app(request):
        seen.append((sorted(vars(request)), "FIRST_TRY" in request.META))
        request._cached_user = "read by the first try"
        request.META["FIRST_TRY"] = True
        if len(seen) == 1:
            raise wrapped(OperationalError, psycopg.OperationalError("server closed the connection unexpectedly"))
        return HttpResponse("served")

    request = rf.get("/")
    response = DatabaseConnectionLossMiddleware(convert_exception_to_response(app))(request)

    assert response.status_code == 200 and response.content == b"served"
    assert len(seen) == 2 and seen[0] == seen[1]
    assert "_cached_user" not in seen[1][0] and seen[1][1] is False


def test_a_purchase_whose_connection_is_lost_is_answered_503_not_repeated_and_charged_once_when_sent_again(browser, card, org):
    review = browser.post(ADD_FUNDS, {"amount": "40.00", "payment_method": card.pk})
    token = re.search(r'name="token" value="([^"]+)"', review.content.decode()).group(1)

    loss = LoseConnectionBefore("billing_payment")
    with connection.execute_wrapper(loss):
        lost = browser.post(ADD_FUNDS, {"token": token})

    assert lost.status_code == 503 and lost["Retry-After"] == "5"
    assert loss.seen == 1, "a request that writes is never run a second time by the server"
    assert "charged once, however often it is sent" in lost.content.decode()
    assert not Payment.objects.exists()

    again = browser.post(ADD_FUNDS, {"token": token})
    assert again.status_code == 302
    assert Payment.objects.count() == 1
    assert credit_account(org).balance == Decimal("40.00")


def test_an_error_that_is_not_a_lost_connection_stays_a_500_and_is_not_repeated(browser, funded_account):
    def refuse(execute, sql, params, many, context):
        if "billing_creditaccount" in sql:
            refuse.seen += 1
            raise wrapped(OperationalError, psycopg.errors.QueryCanceled("canceling statement due to statement timeout"))
        return execute(sql, params, many, context)

    refuse.seen = 0
    with connection.execute_wrapper(refuse):
        response = browser.get(CREDITS)

    assert response.status_code == 500
    assert refuse.seen == 1


@requires_postgres
def test_a_page_answers_503_while_the_database_cannot_be_reached_at_all(browser, funded_account):
    """Connected to nothing (a stopped server, a failover not finished): the same 503, not a 500."""
    settings_dict = connection.settings_dict
    port = settings_dict["PORT"]
    connection.close()
    settings_dict["PORT"] = "1"  # nothing listens there: every connection is refused at once
    try:
        response = browser.get(CREDITS)
    finally:
        settings_dict["PORT"] = port
        connection.close()

    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert browser.get(CREDITS).status_code == 200
