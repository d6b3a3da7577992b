import logging
import re
import sys
import time
import uuid

from django.core.signals import got_request_exception
from django.db import InterfaceError, OperationalError, connections
from django.dispatch import receiver
from django.http import HttpResponse
from django.template.loader import render_to_string

from .logs import current_request

logger = logging.getLogger("credits_site.requests")

REQUEST_ID_HEADER = "X-Request-ID"
# A proxy's or a client's id is kept when it looks like one (a UUID, a hex or base64url token);
# anything else (too long, spaces, control characters) could forge or break log lines: a new one.
SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:=+/-]{0,127}")
# Load balancers ask every few seconds; a passing probe is logged at DEBUG, not as traffic.
QUIET_PATH_PREFIX = "/health/"


class RequestContextMiddleware:
    """Gives each request an id (kept from X-Request-ID when sane, echoed in the response), makes
    the request visible to the log filter while it is served, and logs one line per request.

    First in MIDDLEWARE, so that redirects and refusals of the middleware below are logged too.
    The line is written when the response is returned: for a streamed download, before the body.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.request_id = request_id_from(request.headers.get(REQUEST_ID_HEADER, ""))
        token = current_request.set(request)
        started = time.monotonic()
        try:
            response = self.get_response(request)
            response[REQUEST_ID_HEADER] = request.request_id
            self.log(request, response, time.monotonic() - started)
        finally:
            current_request.reset(token)
        return response

    def log(self, request, response, seconds):
        quiet = response.status_code < 400 and request.path.startswith(QUIET_PATH_PREFIX)
        logger.log(
            logging.DEBUG if quiet else logging.INFO,
            "%s %s %s",
            request.method,
            request.path,  # never the query string: filters and search terms stay out of the logs
            response.status_code,
            extra={
                "method": request.method,
                "path": request.path,
                "status": response.status_code,
                "duration_ms": round(seconds * 1000, 1),
            },
        )


def request_id_from(header_value):
    return header_value if SANE_REQUEST_ID.fullmatch(header_value) else uuid.uuid4().hex


# A request that only reads may be served again on a new connection; any other could have been half
# done by the time the connection went, so it is answered, not repeated.
SAFE_TO_REPEAT = frozenset({"GET", "HEAD"})
RETRY_AFTER_SECONDS = 5
# SQLSTATEs of a connection that is gone: class 08 (connection exception), and the server ending it:
# 57P01 (pg_terminate_backend, a fast shutdown), 57P02 (crash of another backend), 57P03 (starting up).
LOST_CONNECTION_STATES = frozenset({"57P01", "57P02", "57P03"})
LOST_MARK = "database_connection_lost"


def is_connection_loss(exc):
    """Whether `exc` says the database connection itself is gone (not a query refused or cancelled:
    a statement timeout, a lock timeout or a constraint keeps its 500, since serving it again would
    fail the same way)."""
    if not isinstance(exc, (OperationalError, InterfaceError)):
        return False
    cause = exc.__cause__ if exc.__cause__ is not None else exc
    state = getattr(cause, "sqlstate", None)
    if state:
        return state.startswith("08") or state in LOST_CONNECTION_STATES
    # No SQLSTATE: the PostgreSQL driver itself found the connection closed or its socket gone. SQLite
    # has no connection to lose ("database is locked" is its busy timeout, not a loss).
    return type(cause).__module__.split(".")[0] == "psycopg"


@receiver(got_request_exception, dispatch_uid="credits_site.middleware.note_database_connection_loss")
def note_database_connection_loss(sender, request=None, **kwargs):
    """Django turns a view's exception into a 500 response before the middleware above it sees the
    response; it sends this signal while handling the exception, so the request is marked here."""
    if request is not None and is_connection_loss(sys.exception()):
        setattr(request, LOST_MARK, True)


class DatabaseConnectionLossMiddleware:
    """A request whose database connection was lost partway (a failover, a database restart,
    `pg_terminate_backend`) is not answered with a 500.

    Connections are checked before each request (CONN_HEALTH_CHECKS), so only a loss between two
    queries of one request reaches a page. Then a GET or HEAD is served once more, on a new
    connection; any other request, or a GET whose second try loses its connection too, answers 503
    with Retry-After and a page that says to try again (nothing half-done stays: each request's
    writes are atomic, and a purchase confirmed twice is charged once, by its idempotency key).
    Second in MIDDLEWARE, under the request log, which shows the final answer.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if not getattr(request, LOST_MARK, False):
            return response
        response.close()
        _close_lost_connections()
        if request.method in SAFE_TO_REPEAT:
            logger.warning("%s %s: database connection lost; served again on a new connection", request.method, request.path)
            setattr(request, LOST_MARK, False)
            response = self.get_response(request)
            if not getattr(request, LOST_MARK, False):
                return response
            response.close()
            _close_lost_connections()
        logger.warning("%s %s: database connection lost; answered 503", request.method, request.path)
        return service_unavailable()


def _close_lost_connections():
    for conn in connections.all(initialized_only=True):
        conn.close_if_unusable_or_obsolete()


def service_unavailable():
    """The 503 page: rendered without the request's context, which would need the database again."""
    page = render_to_string("503.html", {"retry_after": RETRY_AFTER_SECONDS})
    return HttpResponse(page, status=503, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
