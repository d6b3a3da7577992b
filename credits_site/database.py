"""What the site counts as a lost database connection, shared by the pages
(credits_site.middleware.DatabaseConnectionLossMiddleware) and the tasks that record what they did
(notifications.services.delivery.mark_sent): a connection that is gone can be replaced and the work
tried again; any other database error would fail the same way again."""

from django.db import InterfaceError, InternalError, OperationalError

# SQLSTATEs of a connection that is gone: class 08 (connection exception); the server ending the
# session: 57P01 (pg_terminate_backend, a fast shutdown), 57P02 (crash of another backend), 57P03
# (starting up), 57P04 (database dropped), 57P05 (idle session timeout), 25P03 (idle in transaction
# timeout) and 25P04 (transaction timeout).
LOST_CONNECTION_STATES = frozenset({"57P01", "57P02", "57P03", "57P04", "57P05", "25P03", "25P04"})
# What psycopg says, with no SQLSTATE, when it finds the connection gone or cannot make one. Matched
# on its words, since the same class (OperationalError) also says a query could not be sent for
# reasons of its own (too many parameters), which trying again would not cure.
LOST_CONNECTION_WORDS = (
    "connection is closed", "connection is lost", "server closed the connection", "no connection to the server",
    "consuming input failed", "flushing failed", "connection failed", "could not connect", "could not send data",
    "could not receive data", "connection refused", "connection reset", "broken pipe", "ssl syscall error",
    "ssl connection has been closed", "terminating connection", "timeout expired",
)


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
