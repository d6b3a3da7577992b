import logging
import re
import time
import uuid

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
