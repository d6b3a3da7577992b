import logging
import re
import sys
import time
import uuid

from django.conf import settings
from django.core.signals import got_request_exception
from django.db import InterfaceError, InternalError, OperationalError, connections
from django.dispatch import receiver
from django.http import HttpResponse, JsonResponse
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


# A request that only reads may be served again on a new connection; any other may have written part
# of its work by the time the connection went, so it is answered, not repeated.
SAFE_TO_REPEAT = frozenset({"GET", "HEAD"})
RETRY_AFTER_SECONDS = 5
# SQLSTATEs of a connection that is gone: class 08 (connection exception); the server ending the
# session: 57P01 (pg_terminate_backend, a fast shutdown), 57P02 (crash of another backend), 57P03
# (starting up), 57P04 (database dropped), 57P05 (idle session timeout), 25P03 (idle in transaction
# timeout) and 25P04 (transaction timeout).
LOST_CONNECTION_STATES = frozenset({"57P01", "57P02", "57P03", "57P04", "57P05", "25P03", "25P04"})
# What psycopg says, with no SQLSTATE, when it finds the connection gone or cannot make one. Matched
# on its words, since the same class (OperationalError) also says a query could not be sent for
# reasons of its own (too many parameters), which serving the request again would not cure.
LOST_CONNECTION_WORDS = (
    "connection is closed", "connection is lost", "server closed the connection", "no connection to the server",
    "consuming input failed", "flushing failed", "connection failed", "could not connect", "could not send data",
    "could not receive data", "connection refused", "connection reset", "broken pipe", "ssl syscall error",
    "ssl connection has been closed", "terminating connection", "timeout expired",
)
LOST_MARK = "database_connection_lost"


def is_connection_loss(exc):
    """Whether `exc` says the database connection itself is gone, or cannot be made (not a query
    refused or cancelled: a statement timeout, a lock timeout or a constraint keeps its 500, since
    serving the request again would fail the same way)."""
    if not isinstance(exc, (OperationalError, InterfaceError, InternalError)):
        return False
    cause = exc.__cause__ if exc.__cause__ is not None else exc
    state = getattr(cause, "sqlstate", None)
    if state:
        return state.startswith("08") or state in LOST_CONNECTION_STATES
    # SQLite has no connection to lose ("database is locked" is its busy timeout, not a loss).
    if type(cause).__module__.split(".")[0] != "psycopg":
        return False
    words = str(cause).lower()
    return any(phrase in words for phrase in LOST_CONNECTION_WORDS)


@receiver(got_request_exception, dispatch_uid="credits_site.middleware.note_database_connection_loss")
def note_database_connection_loss(sender, request=None, **kwargs):
    """Django turns an exception of a view or of a middleware into a 500 response before the
    middleware above sees the response; it sends this signal while handling the exception, so the
    request is marked here."""
    if request is not None and is_connection_loss(sys.exception()):
        setattr(request, LOST_MARK, True)


class DatabaseConnectionLossMiddleware:
    """A request whose database connection was lost partway (a failover, a database restart,
    `pg_terminate_backend`), or that could not get one, is not answered with a 500.

    Connections are checked before each request (CONN_HEALTH_CHECKS), so a loss reaches a page only
    between two queries of one request. Then a GET or HEAD is served once more, on a new connection,
    from the request as it came (what the first try attached to it, a signed-in user read before a
    sign-out, a session, is dropped). Any other request, or a GET whose second try fails the same
    way, answers 503 with Retry-After and a page that says to look before sending it again; the
    server never repeats it (a purchase confirmed twice is charged once, by its idempotency key; other
    writes have no such key). A download already streaming when its connection goes cannot be
    answered again (its 200 has left): the server cuts the chunked transfer, which clients report as
    incomplete, never as a short file that looks whole (tests/site/test_serve.py). Under the request log and the security headers' middleware, so that the 503
    is logged and carries them.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        as_it_came = dict(vars(request), META=dict(request.META))
        response = self.get_response(request)
        if not getattr(request, LOST_MARK, False):
            return response
        # The 500 response is dropped unclosed: closing it would send request_finished in the middle of
        # the request. It holds no resources (an error page's bytes).
        _close_lost_connections()
        if request.method in SAFE_TO_REPEAT:
            logger.warning("%s %s: database connection lost; served again on a new connection", request.method, request.path)
            vars(request).clear()
            vars(request).update(as_it_came, META=dict(as_it_came["META"]))
            response = self.get_response(request)
            if not getattr(request, LOST_MARK, False):
                return response
            _close_lost_connections()
        logger.warning("%s %s: database connection lost; answered 503", request.method, request.path)
        return service_unavailable(request)


def _close_lost_connections():
    for conn in connections.all(initialized_only=True):
        conn.close_if_unusable_or_obsolete()


def service_unavailable(request=None):
    """The 503 answer, made without the database: JSON for the API and for scripts that ask for JSON,
    otherwise the page, rendered without the request's context (which would read the database)."""
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS), "X-Frame-Options": settings.X_FRAME_OPTIONS}
    if request is not None and (request.path.startswith("/api/") or "application/json" in request.headers.get("Accept", "")):
        problem = {"error": "The service lost its connection to its database; try again.", "retry_after": RETRY_AFTER_SECONDS}
        return JsonResponse(problem, status=503, headers=headers)
    page = render_to_string("503.html", {"retry_after": RETRY_AFTER_SECONDS})
    return HttpResponse(page, status=503, headers=headers)
