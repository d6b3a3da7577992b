import logging
import re
import sys
import time
import uuid

from django.conf import settings
from django.core.signals import got_request_exception
from django.db import connections
from django.dispatch import receiver
from django.http import HttpResponse, JsonResponse
from django.template.loader import render_to_string

from .database import is_connection_loss
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
LOST_MARK = "database_connection_lost"


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
